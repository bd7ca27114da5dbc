/**
 * Record attachments: files (one `file` part) or links (`attachmentUrl`, from the query string as the official
 * SDK sends it, or from a multipart field as Zoho's curl sample does), never both in one request.
 */
import type { BlobRange, BlobReader, BlobStore } from '../storage/blobs/store.js';
import type { MetadataStore } from '../storage/metadata/store.js';
import { Inspector } from '../streams/inspector.js';
import { type AccessLookups, type Principal, type RecordAccess, authorizeRecord } from './access.js';
import { type BlobJanitor, mayDiscardStaged } from './blob-cleanup.js';
import type { Attachment } from './entities.js';
import { zohoError } from './errors.js';
import { idList, isZohoId, newZohoId } from './ids.js';
import { isHttpLink } from './links.js';
import type { DomainLogger } from './logger.js';
import type { ApiVersion } from './modules.js';
import type { OperationName } from './operations.js';
import type { ItemResult } from './results.js';
import { type FilePart, type UploadBody, cleanFileName, clientBodyError } from './uploads.js';
import { contentTypeFor } from './content-types.js';
import { type ChangeEvent, queueWorkflowEvents } from './workflows.js';

export interface AttachmentLimits {
  maxBytes: number;
  /** Whether to record each file's SHA-256. */
  contentHash: boolean;
}

export interface AttachmentServiceDeps {
  store: MetadataStore;
  /** Module settings and records for the access checks (module settings cached). */
  access: AccessLookups;
  blobs: BlobStore;
  limits: AttachmentLimits;
  now: () => number;
  log: DomainLogger;
  janitor: BlobJanitor;
  /** Told after a commit that queued workflow events. */
  workflowEventsQueued: () => void;
}

function attachmentFacts(a: Attachment) {
  return {
    attachment: {
      id: a.id,
      kind: a.kind,
      file_name: a.fileName,
      title: a.title,
      link_url: a.linkUrl,
      content_type: a.contentType,
      size: a.size,
      sha256: a.sha256,
    },
  };
}

export interface AttachmentUploadTicket {
  access: RecordAccess;
  principal: Principal;
  /** Link and title from the query string, if given there. */
  attachmentUrl: string | undefined;
  title: string | undefined;
}

interface StagedFile {
  blobKey: string;
  size: number;
  sha256: string | null;
  fileName: string;
  contentType: string;
}

export const MAX_PER_PAGE = 200;
export const MAX_IDS_PER_BULK_DELETE = 100;
/** v8 page tokens stay valid this long. */
export const PAGE_TOKEN_LIFETIME_MS = 24 * 3600_000;

/** Every field of an attachment a client may ask for in `fields` (research/zoho-api.md §2.1). */
export const ATTACHMENT_FIELDS = [
  'Owner',
  'Modified_By',
  'Created_By',
  'Created_Time',
  'Modified_Time',
  'File_Name',
  'Size',
  'Parent_Id',
  '$editable',
  '$file_id',
  '$type',
  '$se_module',
  '$state',
  '$link_url',
  '$sharing_permission',
  '$attachment_type',
  'Record_Status__s',
  'Attachment_Source__s',
  'File_Id__s',
  '$field_states',
  '$zia_visions',
] as const;
export type AttachmentField = (typeof ATTACHMENT_FIELDS)[number];

export interface AttachmentListQuery {
  fields?: string | undefined;
  ids?: string | undefined;
  page?: string | undefined;
  perPage?: string | undefined;
  pageToken?: string | undefined;
}

export interface AttachmentPage {
  access: RecordAccess;
  attachments: Attachment[];
  /** The fields to render besides `id`, in the order asked. */
  fields: readonly AttachmentField[];
  page: number;
  perPage: number;
  moreRecords: boolean;
  nextPageToken: string | null;
  previousPageToken: string | null;
  pageTokenExpiry: number | null;
}

/** Attachment endpoints name the bad record id's position in the path (research/zoho-api.md §1.2). */
const RELATED_ID_DETAILS = { related_status: 'invalid', resource_path_index: 1 };
const MAX_URL_LENGTH = 2048;
const MAX_TITLE_LENGTH = 255;

export class AttachmentService {
  constructor(private readonly deps: AttachmentServiceDeps) {}

  authorize(principal: Principal, op: OperationName, version: ApiVersion, moduleName: string, recordId: string) {
    return authorizeRecord(this.deps.access, principal, op, version, moduleName, recordId, RELATED_ID_DETAILS);
  }

  async prepareUpload(
    principal: Principal,
    version: ApiVersion,
    moduleName: string,
    recordId: string,
    query: { attachmentUrl?: string | undefined; title?: string | undefined },
  ): Promise<AttachmentUploadTicket> {
    const access = await this.authorize(principal, 'attachment.upload', version, moduleName, recordId);
    // Parameters known before the body are judged before it is read: a bad one costs no upload.
    const attachmentUrl = query.attachmentUrl === undefined ? undefined : validLink(query.attachmentUrl);
    return { access, principal, attachmentUrl, title: query.title === undefined ? undefined : checkedTitle(query.title) };
  }

  /**
   * Adds the attachment. `body` is undefined when the request has no body (the SDK's link upload); the link then
   * comes from the query string.
   */
  async upload(ticket: AttachmentUploadTicket, body: UploadBody | undefined): Promise<Attachment> {
    let staged: StagedFile | undefined;
    let link = ticket.attachmentUrl;
    let title = ticket.title;
    try {
      if (body) {
        for await (const part of body) {
          if (part.kind === 'field') {
            if (part.name === 'attachmentUrl') link = validLink(part.value);
            else if (part.name === 'title') title = checkedTitle(part.value);
            continue;
          }
          if (staged) throw zohoError('MORE_THAN_ONE_FILE', {}, 'attachment.upload');
          if (part.name !== 'file') throw zohoError('NO_FILE', { param_name: 'file' }, 'attachment.upload');
          if (link !== undefined) throw zohoError('FILE_AND_LINK', {}, 'attachment.upload');
          staged = await this.stage(part);
        }
      }
      if (staged && link !== undefined) throw zohoError('FILE_AND_LINK', {}, 'attachment.upload');
      if (link !== undefined && !staged) return await this.commitLink(ticket, link, title);
      if (!staged) throw zohoError('NO_FILE', { param_name: 'file' }, 'attachment.upload');
      return await this.commitFile(ticket, staged, title);
    } catch (err) {
      if (staged && mayDiscardStaged(err)) this.deps.janitor.discard(staged.blobKey);
      throw err;
    }
  }

  private async stage(part: FilePart): Promise<StagedFile> {
    const inspector = new Inspector({
      maxBytes: this.deps.limits.maxBytes,
      hash: this.deps.limits.contentHash,
      tooLarge: () => zohoError('FILE_SIZE_MORE_THAN_ALLOWED_SIZE', {}, 'attachment.upload'),
    });
    part.stream.on('error', (err) => inspector.destroy(clientBodyError(err)));
    const written = await this.deps.blobs.put(part.stream.pipe(inspector));
    if (written.size === 0) {
      this.deps.janitor.discard(written.key);
      throw zohoError('EMPTY_FILE', { param_name: 'file' }, 'attachment.upload');
    }
    const fileName = cleanFileName(part.fileName, 'attachment');
    return {
      blobKey: written.key,
      size: written.size,
      sha256: inspector.sha256,
      fileName,
      contentType: contentTypeFor(part.declaredType, fileName),
    };
  }

  private async commitFile(ticket: AttachmentUploadTicket, staged: StagedFile, title: string | undefined): Promise<Attachment> {
    return this.insert(ticket, {
      kind: 'file',
      fileName: staged.fileName,
      title: title ?? null,
      linkUrl: null,
      contentType: staged.contentType,
      size: staged.size,
      blobKey: staged.blobKey,
      sha256: staged.sha256,
    });
  }

  private async commitLink(ticket: AttachmentUploadTicket, url: string, title: string | undefined): Promise<Attachment> {
    // Zoho fetches the page's meta title by default; this server never fetches client-supplied URLs (no SSRF),
    // so the link itself is the default title.
    const shownTitle = title !== undefined && title.trim().length > 0 ? title : url;
    return this.insert(ticket, {
      kind: 'link',
      fileName: shownTitle,
      title: shownTitle,
      linkUrl: url,
      contentType: null,
      size: 0,
      blobKey: null,
      sha256: null,
    });
  }

  private async insert(
    ticket: AttachmentUploadTicket,
    content: Pick<Attachment, 'kind' | 'fileName' | 'title' | 'linkUrl' | 'contentType' | 'size' | 'blobKey' | 'sha256'>,
  ): Promise<Attachment> {
    const { principal, access } = ticket;
    const orgId = principal.org.id;
    const { attachment, queued } = await this.deps.store.transaction(async (tx) => {
      await tx.lockRecord(orgId, access.record.id);
      if (!(await tx.getRecord(orgId, access.record.id))) {
        throw zohoError('INVALID_RELATED_ID', RELATED_ID_DETAILS, 'attachment.upload');
      }
      const now = this.deps.now();
      const attachment: Attachment = {
        id: newZohoId(),
        orgId,
        recordId: access.record.id,
        module: access.module.apiName,
        ...content,
        ownerId: principal.user.id,
        createdBy: principal.user.id,
        createdAt: now,
        modifiedBy: principal.user.id,
        modifiedAt: now,
      };
      await tx.insertAttachment(attachment);
      const queued = await queueWorkflowEvents(tx, changeOf(principal, attachment, 'attachment_added', now));
      return { attachment, queued };
    });
    if (queued > 0) this.deps.workflowEventsQueued();
    return attachment;
  }

  /** GET …/Attachments: a page of the record's attachments, newest first. */
  async list(principal: Principal, version: ApiVersion, moduleName: string, recordId: string, q: AttachmentListQuery): Promise<AttachmentPage> {
    const access = await this.authorize(principal, 'attachment.list', version, moduleName, recordId);
    // `fields` is optional in v2 and v2.1 (every field then) and mandatory from v3.
    if (q.fields === undefined && version !== 'v2' && version !== 'v2.1') {
      throw zohoError('REQUIRED_PARAM_MISSING', { param_name: 'fields' }, 'attachment.list');
    }
    const wanted = q.fields === undefined ? undefined : new Set(q.fields.split(',').map((f) => f.trim()));
    // Unknown names in `fields` are ignored, as the Records API does.
    const fields = wanted ? ATTACHMENT_FIELDS.filter((f) => wanted.has(f)) : ATTACHMENT_FIELDS;
    const perPage = positiveInt(q.perPage, 'per_page', MAX_PER_PAGE, MAX_PER_PAGE);
    const now = this.deps.now();
    const offset =
      q.pageToken !== undefined
        ? decodePageToken(q.pageToken, access.record.id, now)
        : (positiveInt(q.page, 'page', 1, Number.MAX_SAFE_INTEGER) - 1) * perPage;
    const ids = q.ids === undefined ? undefined : q.ids.split(',').map((s) => s.trim()).filter((s) => isZohoId(s));
    // At most a page's worth of ids: more could never be answered on one page.
    if (ids && ids.length > MAX_PER_PAGE) throw zohoError('LIMIT_EXCEEDED', { param_name: 'ids', limit: MAX_PER_PAGE }, 'attachment.list');
    const rows = await this.deps.store.listAttachments(principal.org.id, access.record.id, { limit: perPage + 1, offset }, ids);
    const moreRecords = rows.length > perPage;
    const expiry = now + PAGE_TOKEN_LIFETIME_MS;
    const token = (o: number) => encodePageToken({ r: access.record.id, o, x: expiry });
    return {
      access,
      attachments: rows.slice(0, perPage),
      fields,
      page: Math.floor(offset / perPage) + 1,
      perPage,
      moreRecords,
      nextPageToken: moreRecords ? token(offset + perPage) : null,
      previousPageToken: offset > 0 ? token(Math.max(0, offset - perPage)) : null,
      pageTokenExpiry: moreRecords || offset > 0 ? expiry : null,
    };
  }

  /** GET …/Attachments/{id}: the attachment (a link has no bytes; the route decides how to answer for it). */
  async download(principal: Principal, version: ApiVersion, moduleName: string, recordId: string, attachmentId: string): Promise<Attachment> {
    const { record } = await this.authorize(principal, 'attachment.download', version, moduleName, recordId);
    const found = isZohoId(attachmentId) ? await this.deps.store.getAttachment(principal.org.id, record.id, attachmentId) : undefined;
    if (!found) throw zohoError('INVALID_ID', { id: attachmentId, resource_path_index: 3 }, 'attachment.download');
    return found;
  }

  openBytes(attachment: Attachment, range?: BlobRange): Promise<BlobReader | undefined> {
    return attachment.blobKey
      ? this.deps.blobs.open(attachment.blobKey, range, { expectedSize: attachment.size })
      : Promise.resolve(undefined);
  }

  /** DELETE …/Attachments?ids=a,b: each id on its own; a bad id gets its own error and does not stop the others. */
  async bulkDelete(
    principal: Principal,
    version: ApiVersion,
    moduleName: string,
    recordId: string,
    idsParam: string | undefined,
  ): Promise<ItemResult<string>[]> {
    const { record } = await this.authorize(principal, 'attachment.bulkDelete', version, moduleName, recordId);
    const ids = idList(idsParam, MAX_IDS_PER_BULK_DELETE, 'attachment.bulkDelete');
    const orgId = principal.org.id;
    const results: ItemResult<string>[] = [];
    for (const id of ids) {
      const outcome = await this.deps.store.transaction(async (tx) => {
        const found = isZohoId(id) ? await tx.getAttachment(orgId, record.id, id) : undefined;
        if (!found) return undefined;
        await tx.deleteAttachment(orgId, record.id, id);
        const queued = await queueWorkflowEvents(tx, changeOf(principal, found, 'attachment_deleted', this.deps.now()));
        return { found, queued };
      });
      if (!outcome) {
        results.push({ ok: false, error: zohoError('INVALID_ID', { id }, 'attachment.bulkDelete') });
        continue;
      }
      if (outcome.queued > 0) this.deps.workflowEventsQueued();
      if (outcome.found.blobKey) this.deps.janitor.retire(outcome.found.blobKey);
      results.push({ ok: true, value: id });
    }
    return results;
  }

  async delete(
    principal: Principal,
    version: ApiVersion,
    moduleName: string,
    recordId: string,
    attachmentId: string,
  ): Promise<Attachment> {
    const { record } = await this.authorize(principal, 'attachment.delete', version, moduleName, recordId);
    const orgId = principal.org.id;
    const { removed, queued } = await this.deps.store.transaction(async (tx) => {
      const found = isZohoId(attachmentId) ? await tx.getAttachment(orgId, record.id, attachmentId) : undefined;
      if (!found) throw zohoError('INVALID_ID', { id: attachmentId, resource_path_index: 3 }, 'attachment.delete');
      await tx.deleteAttachment(orgId, record.id, attachmentId);
      const queued = await queueWorkflowEvents(tx, changeOf(principal, found, 'attachment_deleted', this.deps.now()));
      return { removed: found, queued };
    });
    if (queued > 0) this.deps.workflowEventsQueued();
    if (removed.blobKey) this.deps.janitor.retire(removed.blobKey);
    return removed;
  }
}

interface PageToken {
  r: string;
  o: number;
  x: number;
}

function encodePageToken(t: PageToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodePageToken(value: string, recordId: string, now: number): number {
  try {
    const t = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Partial<PageToken>;
    if (t.r === recordId && Number.isInteger(t.o) && (t.o as number) >= 0 && typeof t.x === 'number' && t.x > now) return t.o as number;
  } catch {
    // Falls through to the error below.
  }
  throw zohoError('INVALID_DATA', { param_name: 'page_token' }, 'attachment.list');
}

function positiveInt(value: string | undefined, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw zohoError('INVALID_DATA', { param_name: name, ...(max < Number.MAX_SAFE_INTEGER ? { maximum: max } : {}) }, 'attachment.list');
  }
  return n;
}

function changeOf(principal: Principal, a: Attachment, event: ChangeEvent['event'], occurredAt: number): ChangeEvent {
  return {
    orgId: principal.org.id,
    timeZone: principal.org.timeZone,
    module: a.module,
    recordId: a.recordId,
    event,
    user: principal.user,
    occurredAt,
    subject: attachmentFacts(a),
  };
}

function checkedTitle(title: string): string {
  if (title.length > MAX_TITLE_LENGTH) {
    throw zohoError('INVALID_DATA', { param_name: 'title', maximum_length: MAX_TITLE_LENGTH }, 'attachment.upload');
  }
  return title;
}

function validLink(raw: string): string {
  const value = raw.trim();
  if (!isHttpLink(value) || value.length > MAX_URL_LENGTH) {
    throw zohoError('INVALID_DATA', { param_name: 'attachmentUrl' }, 'attachment.upload');
  }
  return value;
}
