/**
 * What an upload may still add: the smallest of the file limit, the org's room under its storage quota (plus what a
 * replaced photo frees) and, for attachments, the record's room under its attachment total. Judged before the body is
 * read, so that the upload is refused the moment it crosses the limit while it streams (and stores nothing); judged
 * again at commit on exact figures (record-changes.ts, attachments.ts), since other uploads may have used the room
 * meanwhile.
 */
import { type ZohoError, zohoError } from './errors.js';
import type { EffectiveLimits } from './limits.js';
import type { OperationName } from './operations.js';
import type { AttachmentStore } from './ports/attachments.js';
import type { StorageStore } from './ports/storage.js';

export interface UploadBudget {
  /** The largest file accepted. */
  maxBytes: number;
  /** The error for a file larger than `maxBytes`: the limit that binds. */
  tooLarge: () => ZohoError;
  /** The org's quota, judged again at commit; undefined: none. */
  storageQuota: number | undefined;
  /** The record's attachment total, judged again at commit; undefined: none. */
  recordAttachmentBytes: number | undefined;
}

export interface BudgetRequest {
  orgId: string;
  recordId: string;
  operation: OperationName;
  fileMax: number;
  fileTooLarge: () => ZohoError;
  /** Bytes the upload frees when it commits (the photo it replaces). */
  freed: number;
  /** Whether the record's attachment total applies (attachments). */
  recordTotal: boolean;
}

export function storageExceeded(quota: number, operation?: OperationName): ZohoError {
  return zohoError('STORAGE_SPACE_EXCEEDED', { maximum_bytes: quota }, operation);
}

export function recordAttachmentsExceeded(limit: number, operation?: OperationName): ZohoError {
  return zohoError('FILE_SIZE_MORE_THAN_ALLOWED_SIZE', { limit: 'record_attachments', maximum_bytes: limit }, operation);
}

export async function uploadBudget(
  store: { storage: StorageStore; attachments?: Pick<AttachmentStore, 'totalSize'> },
  limits: EffectiveLimits,
  r: BudgetRequest,
): Promise<UploadBudget> {
  let maxBytes = r.fileMax;
  let tooLarge = r.fileTooLarge;
  const quota = limits.storageBytes;
  if (quota !== undefined) {
    const room = quota - (await store.storage.used(r.orgId)) + r.freed;
    if (room < maxBytes) {
      maxBytes = Math.max(0, room);
      tooLarge = () => storageExceeded(quota, r.operation);
    }
  }
  const recordLimit = r.recordTotal ? limits.recordAttachmentBytes : undefined;
  if (recordLimit !== undefined && store.attachments) {
    const room = recordLimit - (await store.attachments.totalSize(r.orgId, r.recordId));
    if (room < maxBytes) {
      maxBytes = Math.max(0, room);
      tooLarge = () => recordAttachmentsExceeded(recordLimit, r.operation);
    }
  }
  return { maxBytes, tooLarge, storageQuota: quota, recordAttachmentBytes: recordLimit };
}
