import type { Photo } from '../entities.js';

/** The one photo a record may have. */
export interface PhotoStore {
  get(orgId: string, recordId: string): Promise<Photo | undefined>;
  /** Inserts the record's photo or replaces the one it has. */
  upsert(photo: Photo): Promise<void>;
  delete(orgId: string, recordId: string): Promise<boolean>;
}
