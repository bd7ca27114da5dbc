/**
 * Record photos: one per record, replaced atomically, PNG/JPEG/GIF/BMP decided from the bytes, at most
 * `maxBytes` and `maxPixels`, both enforced while the bytes stream in.
 */
import { ImageProbe, ImageProbeError, type ImageInfo } from '../media/image-probe.js';
import { type AccessLookups, type RecordAccess, authorizeRecord, checkRecordState } from './access.js';
import type { BlobJanitor } from './blob-cleanup.js';
import type { RecordCall } from './calls.js';
import type { Photo } from './entities.js';
import { zohoError } from './errors.js';
import type { LimitsLookup } from './limits-lookup.js';
import type { BlobRange, BlobReader, BlobStore } from './ports/blob-store.js';
import type { MetadataView } from './ports/metadata.js';
import { RecordChanges } from './record-changes.js';
import { type StagedBytes, UploadStaging } from './staging.js';
import { type UploadBudget, uploadBudget } from './storage-quota.js';
import { type FilePart, type UploadBody, cleanFileName } from './uploads.js';
import { type ActiveRules, type ChangeEvent, changeEvent } from './workflow-rules.js';

export interface PhotoLimits {
  /** Whether to record each photo's SHA-256. */
  contentHash: boolean;
  /** Largest accepted photo in bytes (Zoho: 10 MB). */
  maxBytes: number;
  /** Largest accepted resolution in pixels (Zoho: 10 megapixels). */
  maxPixels: number;
}

export interface PhotoDownload {
  photo: Photo;
  open(range?: BlobRange): Promise<BlobReader | undefined>;
}

export interface PhotoUploadTicket {
  call: RecordCall<'photo.upload'>;
  access: RecordAccess;
  restrictTriggers: boolean;
  /** The largest photo the org's storage still takes (with the one it replaces), and its quota. */
  budget: UploadBudget;
}

interface StagedPhoto extends StagedBytes {
  info: ImageInfo;
  fileName: string;
}

export interface PhotoServiceDeps {
  store: MetadataView<'records' | 'photos' | 'workflows' | 'outbox' | 'storage'>;
  /** The active workflow rules a change triggers (cached). */
  rules: ActiveRules;
  /** Module settings and records for the access checks (module settings cached). */
  access: AccessLookups;
  blobs: BlobStore;
  limits: PhotoLimits;
  /** The org's limits (storage quota). */
  orgLimits: LimitsLookup;
  now: () => number;
  janitor: BlobJanitor;
  /** Told after a commit that queued workflow events, so that delivery need not wait for its next poll. */
  workflowEventsQueued: () => void;
}

function photoFacts(p: Photo) {
  return {
    photo: { file_name: p.fileName, content_type: p.contentType, size: p.size, width: p.width, height: p.height, sha256: p.sha256 },
  };
}

/** Photo endpoints report a bad record id without details (docs/zoho-api.md §3.2). */
const NO_DETAILS = {};

const photoTooLarge = () => zohoError('FILE_SIZE_MORE_THAN_ALLOWED_SIZE', {}, 'photo.upload');

export class PhotoService {
  private readonly changes: RecordChanges<'records' | 'photos' | 'workflows' | 'outbox' | 'storage'>;

  constructor(private readonly deps: PhotoServiceDeps) {
    this.changes = new RecordChanges(deps);
  }

  /**
   * The record's photo (undefined when it has none) and a way to open its bytes, whole or a range; `open` answers
   * undefined when a concurrent replace removed these bytes meanwhile.
   */
  async download(call: RecordCall<'photo.download'>): Promise<PhotoDownload | undefined> {
    // The record and its photo in one lookup: a download is the request served most often.
    const { photo } = await authorizeRecord(this.deps.access, call, NO_DETAILS, (orgId, id) => this.deps.access.getRecordWithPhoto(orgId, id));
    if (!photo) return undefined;
    return { photo, open: (range?: BlobRange) => this.deps.blobs.open(photo.blobKey, range, { expectedSize: photo.size }) };
  }

  /** Everything that can be decided before the body is read. */
  async prepareUpload(call: RecordCall<'photo.upload'>, restrictTriggers: string | undefined): Promise<PhotoUploadTicket> {
    const access = await authorizeRecord(this.deps.access, call, NO_DETAILS);
    if (restrictTriggers !== undefined && restrictTriggers.toLowerCase() !== 'workflow') {
      throw zohoError('INVALID_DATA', { param_name: 'restrict_triggers', expected_value: 'workflow' }, call.operation);
    }
    const orgId = call.principal.org.id;
    const limits = await this.deps.orgLimits.effective(orgId);
    // A replaced photo's bytes are freed by the same commit that stores the new one.
    const freed = limits.storageBytes === undefined ? 0 : ((await this.deps.store.photos.get(orgId, access.record.id))?.size ?? 0);
    const budget = await uploadBudget(this.deps.store, limits, {
      orgId,
      recordId: access.record.id,
      operation: call.operation,
      fileMax: this.deps.limits.maxBytes,
      fileTooLarge: photoTooLarge,
      freed,
      recordTotal: false,
    });
    return { call, access, restrictTriggers: restrictTriggers !== undefined, budget };
  }

  /** Reads the body (exactly one `file` part), stores the bytes, then swaps the record's photo in one transaction. */
  async upload(ticket: PhotoUploadTicket, body: UploadBody): Promise<void> {
    const op = ticket.call.operation;
    const staging = new UploadStaging(this.deps.blobs, this.deps.janitor);
    try {
      let staged: StagedPhoto | undefined;
      for await (const part of body) {
        if (part.kind === 'field') continue;
        if (staged) throw zohoError('MORE_THAN_ONE_FILE', {}, op);
        if (part.name !== 'file') throw zohoError('NO_FILE', { param_name: 'file' }, op);
        staged = await this.stage(staging, part, ticket.budget);
      }
      if (!staged) throw zohoError('NO_FILE', { param_name: 'file' }, op);
      await this.commit(ticket, staged);
    } catch (err) {
      staging.discardAfter(err);
      throw err;
    }
  }

  private async stage(staging: UploadStaging, part: FilePart, budget: UploadBudget): Promise<StagedPhoto> {
    const { maxPixels, contentHash } = this.deps.limits;
    const probe = new ImageProbe();
    const checkResolution = (info: ImageInfo | undefined) => {
      if (info && info.width * info.height > maxPixels) throw photoTooLarge();
    };
    let staged: StagedBytes;
    try {
      staged = await staging.stage(part, {
        maxBytes: budget.maxBytes,
        hash: contentHash,
        tooLarge: budget.tooLarge,
        onChunk: (chunk) => {
          // The size is judged as soon as a header gives one, and again whenever a later header makes it larger
          // (a GIF frame beyond the logical screen, a second JPEG): refused while the bytes still arrive.
          const before = probe.info;
          probe.push(chunk);
          if (probe.info !== before) checkResolution(probe.info);
        },
        onEnd: () => checkResolution(probe.finish()),
      });
    } catch (err) {
      if (err instanceof ImageProbeError) throw zohoError('INVALID_IMAGE', {}, 'photo.upload');
      throw err;
    }
    const info = probe.finish();
    return { ...staged, info, fileName: cleanFileName(part.fileName, `photo.${info.extension}`) };
  }

  private async commit(ticket: PhotoUploadTicket, staged: StagedPhoto): Promise<void> {
    const { call } = ticket;
    const orgId = call.principal.org.id;
    const recordId = ticket.access.record.id;
    await this.changes.commit(orgId, recordId, async (tx, record, now) => {
      // The record may have been deleted, locked or sent for approval while the bytes were arriving.
      if (!record) throw zohoError('INVALID_RELATED_ID', NO_DETAILS, call.operation);
      checkRecordState(call.operation, record);
      const previous = await tx.photos.get(orgId, recordId);
      const photo: Photo = {
        orgId,
        recordId,
        blobKey: staged.blobKey,
        fileName: staged.fileName,
        contentType: staged.info.mimeType,
        size: staged.size,
        width: staged.info.width,
        height: staged.info.height,
        sha256: staged.sha256,
        createdBy: call.principal.user.id,
        createdAt: now,
      };
      await tx.photos.upsert(photo);
      // A new image replaces the one Zia rejected: the record is back to normal.
      if (record.state === 'photo_rejected') await tx.records.setState(orgId, recordId, 'normal', now);
      return {
        value: undefined,
        // `restrict_triggers=workflow`: the upload fires no workflow rule.
        events: ticket.restrictTriggers ? [] : [this.event(ticket.call, ticket.access, 'photo_uploaded', now, photo)],
        retired: [previous?.blobKey ?? null],
        storage: { delta: photo.size - (previous?.size ?? 0), quota: ticket.budget.storageQuota },
      };
    });
  }

  async delete(call: RecordCall<'photo.delete'>): Promise<void> {
    const access = await authorizeRecord(this.deps.access, call, NO_DETAILS);
    const orgId = call.principal.org.id;
    const recordId = access.record.id;
    await this.changes.commit(orgId, recordId, async (tx, current, now) => {
      // The state may have changed since the check above (a lock set meanwhile): judge it again under the lock.
      if (current) checkRecordState(call.operation, current);
      const photo = await tx.photos.get(orgId, recordId);
      if (!photo) throw zohoError('NO_SUCH_PHOTO', {}, call.operation);
      await tx.photos.delete(orgId, recordId);
      if (current?.state === 'photo_rejected') await tx.records.setState(orgId, recordId, 'normal', now);
      return {
        value: undefined,
        events: [this.event(call, access, 'photo_deleted', now, photo)],
        retired: [photo.blobKey],
        storage: { delta: -photo.size },
      };
    });
  }

  private event(call: RecordCall, access: RecordAccess, event: ChangeEvent['event'], now: number, photo: Photo): ChangeEvent {
    return changeEvent(call.principal, { module: access.module.apiName, recordId: access.record.id, event, occurredAt: now, subject: photoFacts(photo) });
  }
}
