import type { Attachment } from '../entities.js';
import type { Page } from './page.js';

/** A record's attachments (files and links). */
export interface AttachmentStore {
  insert(attachment: Attachment): Promise<void>;
  get(orgId: string, recordId: string, id: string): Promise<Attachment | undefined>;
  /** Newest first; `ids` narrows to those attachment ids. */
  list(orgId: string, recordId: string, page: Page, ids?: readonly string[]): Promise<Attachment[]>;
  delete(orgId: string, recordId: string, id: string): Promise<boolean>;
  /** Bytes of all the record's attachments together (the per-record total). */
  totalSize(orgId: string, recordId: string): Promise<number>;
  /** Deletes every attachment of a record and returns what was deleted. */
  deleteAllOf(orgId: string, recordId: string): Promise<Attachment[]>;
}
