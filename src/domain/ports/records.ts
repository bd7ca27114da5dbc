import type { CrmRecord, Photo, RecordState } from '../entities.js';
import type { Page } from './page.js';

/** Records, always within one org. */
export interface RecordStore {
  insert(record: CrmRecord): Promise<void>;
  get(orgId: string, id: string): Promise<CrmRecord | undefined>;
  /** The record and its photo (if it has one), in one lookup. */
  getWithPhoto(orgId: string, id: string): Promise<{ record: CrmRecord; photo: Photo | undefined } | undefined>;
  /** A module's records, oldest first. */
  list(orgId: string, module: string, page: Page): Promise<CrmRecord[]>;
  /** Every record of an org whatever its module, oldest first (store migration). */
  listOfOrg(orgId: string, page: Page): Promise<CrmRecord[]>;
  setState(orgId: string, id: string, state: RecordState, at: number): Promise<boolean>;
  delete(orgId: string, id: string): Promise<boolean>;
  /**
   * Inside a transaction only: serializes the writers of one record's media until the transaction ends (on an
   * engine with a single writer, the transaction alone does).
   */
  lock(orgId: string, recordId: string): Promise<void>;
  /** Inside a transaction only: takes the record's lock (as `lock`) and reads the record, in one step. */
  lockAndGet(orgId: string, recordId: string): Promise<CrmRecord | undefined>;
}
