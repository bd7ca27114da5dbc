/**
 * Record photos: one per record, replaced atomically, PNG/JPEG/GIF/BMP decided from the bytes, at most
 * `maxBytes` and `maxPixels`, both enforced while the bytes stream in.
 */
import { ImageProbe, ImageProbeError, type ImageInfo } from '../media/image-probe.js';
import type { BlobReader, BlobRange, BlobStore } from '../storage/blobs/store.js';
import type { MetadataStore } from '../storage/metadata/store.js';
import { Inspector } from '../streams/inspector.js';
import { type AccessLookups, type Principal, type RecordAccess, authorizeRecord, checkRecordState } from './access.js';
import type { Photo } from './entities.js';
import { zohoError } from './errors.js';
import type { ApiVersion } from './modules.js';
import type { OperationName } from './operations.js';
import { type FilePart, type UploadBody, cleanFileName, clientBodyError } from './uploads.js';
import type { DomainLogger } from './logger.js';
import { type BlobJanitor, mayDiscardStaged } from './blob-cleanup.js';
import { type ChangeEvent, queueWorkflowEvents } from './workflows.js';

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
  access: RecordAccess;
  principal: Principal;
  restrictTriggers: boolean;
}

interface StagedPhoto {
  blobKey: string;
  size: number;
  sha256: string | null;
  info: ImageInfo;
  fileName: string;
}

export interface PhotoServiceDeps {
  store: MetadataStore;
  /** Module settings and records for the access checks (module settings cached). */
  access: AccessLookups;
  blobs: BlobStore;
  limits: PhotoLimits;
  now: () => number;
  log: DomainLogger;
  janitor: BlobJanitor;
  /** Told after a commit that queued workflow events, so that delivery need not wait for its next poll. */
  workflowEventsQueued: () => void;
}

function photoFacts(p: Photo) {
  return {
    photo: { file_name: p.fileName, content_type: p.contentType, size: p.size, width: p.width, height: p.height, sha256: p.sha256 },
  };
}

/** Photo endpoints report a bad record id without details (research/zoho-api.md §1.2). */
const NO_DETAILS = {};

export class PhotoService {
  constructor(private readonly deps: PhotoServiceDeps) {}

  private authorize(principal: Principal, op: OperationName, version: ApiVersion, moduleName: string, recordId: string) {
    return authorizeRecord(this.deps.access, principal, op, version, moduleName, recordId, NO_DETAILS);
  }

  /**
   * The record's photo (undefined when it has none) and a way to open its bytes, whole or a range; `open` answers
   * undefined when a concurrent replace removed these bytes meanwhile.
   */
  async download(principal: Principal, version: ApiVersion, moduleName: string, recordId: string): Promise<PhotoDownload | undefined> {
    const { record } = await this.authorize(principal, 'photo.download', version, moduleName, recordId);
    const photo = await this.deps.store.getPhoto(principal.org.id, record.id);
    if (!photo) return undefined;
    return { photo, open: (range?: BlobRange) => this.deps.blobs.open(photo.blobKey, range, { expectedSize: photo.size }) };
  }

  /** Everything that can be decided before the body is read. */
  async prepareUpload(
    principal: Principal,
    version: ApiVersion,
    moduleName: string,
    recordId: string,
    restrictTriggers: string | undefined,
  ): Promise<PhotoUploadTicket> {
    const access = await this.authorize(principal, 'photo.upload', version, moduleName, recordId);
    if (restrictTriggers !== undefined && restrictTriggers.toLowerCase() !== 'workflow') {
      throw zohoError('INVALID_DATA', { param_name: 'restrict_triggers', expected_value: 'workflow' }, 'photo.upload');
    }
    return { access, principal, restrictTriggers: restrictTriggers !== undefined };
  }

  /** Reads the body (exactly one `file` part), stores the bytes, then swaps the record's photo in one transaction. */
  async upload(ticket: PhotoUploadTicket, body: UploadBody): Promise<void> {
    let staged: StagedPhoto | undefined;
    try {
      for await (const part of body) {
        if (part.kind === 'field') continue;
        if (staged) throw zohoError('MORE_THAN_ONE_FILE', {}, 'photo.upload');
        if (part.name !== 'file') throw zohoError('NO_FILE', { param_name: 'file' }, 'photo.upload');
        staged = await this.stage(part);
      }
      if (!staged) throw zohoError('NO_FILE', { param_name: 'file' }, 'photo.upload');
      await this.commit(ticket, staged);
    } catch (err) {
      if (staged && mayDiscardStaged(err)) this.deps.janitor.discard(staged.blobKey);
      throw err;
    }
  }

  private async stage(part: FilePart): Promise<StagedPhoto> {
    const { maxBytes, maxPixels } = this.deps.limits;
    const probe = new ImageProbe();
    const tooLarge = () => zohoError('FILE_SIZE_MORE_THAN_ALLOWED_SIZE', {}, 'photo.upload');
    const checkResolution = (info: ImageInfo | undefined) => {
      if (info && info.width * info.height > maxPixels) throw tooLarge();
    };
    const inspector = new Inspector({
      maxBytes,
      hash: this.deps.limits.contentHash,
      tooLarge,
      onChunk: (chunk) => {
        const known = probe.info !== undefined;
        probe.push(chunk);
        if (!known) checkResolution(probe.info);
      },
      onEnd: () => checkResolution(probe.finish()),
    });
    part.stream.on('error', (err) => inspector.destroy(clientBodyError(err)));
    let written;
    try {
      written = await this.deps.blobs.put(part.stream.pipe(inspector));
    } catch (err) {
      if (err instanceof ImageProbeError) throw zohoError('INVALID_IMAGE', {}, 'photo.upload');
      throw err;
    }
    const info = probe.finish();
    return {
      blobKey: written.key,
      size: written.size,
      sha256: inspector.sha256,
      info,
      fileName: cleanFileName(part.fileName, `photo.${info.extension}`),
    };
  }

  private async commit(ticket: PhotoUploadTicket, staged: StagedPhoto): Promise<void> {
    const { principal } = ticket;
    const orgId = principal.org.id;
    const recordId = ticket.access.record.id;
    const { replaced, queued } = await this.deps.store.transaction(async (tx) => {
      await tx.lockRecord(orgId, recordId);
      // The record may have been deleted, locked or sent for approval while the bytes were arriving.
      const record = await tx.getRecord(orgId, recordId);
      if (!record) throw zohoError('INVALID_RELATED_ID', NO_DETAILS, 'photo.upload');
      checkRecordState('photo.upload', record);
      const previous = await tx.getPhoto(orgId, recordId);
      const now = this.deps.now();
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
        createdBy: principal.user.id,
        createdAt: now,
      };
      await tx.upsertPhoto(photo);
      // A new image replaces the one Zia rejected: the record is back to normal.
      if (record.state === 'photo_rejected') await tx.setRecordState(orgId, recordId, 'normal', now);
      // `restrict_triggers=workflow`: the upload fires no workflow rule.
      const queued = ticket.restrictTriggers
        ? 0
        : await queueWorkflowEvents(tx, this.change(principal, ticket.access.module.apiName, recordId, 'photo_uploaded', now, photoFacts(photo)));
      return { replaced: previous, queued };
    });
    if (queued > 0) this.deps.workflowEventsQueued();
    if (replaced) this.deps.janitor.retire(replaced.blobKey);
  }

  async delete(principal: Principal, version: ApiVersion, moduleName: string, recordId: string): Promise<void> {
    const { record, module } = await this.authorize(principal, 'photo.delete', version, moduleName, recordId);
    const orgId = principal.org.id;
    const { removed, queued } = await this.deps.store.transaction(async (tx) => {
      await tx.lockRecord(orgId, record.id);
      // The state may have changed since the check above (a lock set meanwhile): judge it again under the lock.
      const current = await tx.getRecord(orgId, record.id);
      if (current) checkRecordState('photo.delete', current);
      const photo = await tx.getPhoto(orgId, record.id);
      if (!photo) throw zohoError('NO_SUCH_PHOTO', {}, 'photo.delete');
      await tx.deletePhoto(orgId, record.id);
      const now = this.deps.now();
      if (current?.state === 'photo_rejected') await tx.setRecordState(orgId, record.id, 'normal', now);
      const queued = await queueWorkflowEvents(tx, this.change(principal, module.apiName, record.id, 'photo_deleted', now, photoFacts(photo)));
      return { removed: photo, queued };
    });
    if (queued > 0) this.deps.workflowEventsQueued();
    this.deps.janitor.retire(removed.blobKey);
  }

  private change(
    principal: Principal,
    module: string,
    recordId: string,
    event: ChangeEvent['event'],
    occurredAt: number,
    subject: Record<string, unknown>,
  ): ChangeEvent {
    return { orgId: principal.org.id, timeZone: principal.org.timeZone, module, recordId, event, user: principal.user, occurredAt, subject };
  }
}
