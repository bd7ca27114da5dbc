/**
 * Record attachments: files (one `file` part) or links (`attachmentUrl`, from the query string as the official
 * SDK sends it, or from a multipart field as Zoho's curl sample does), never both in one request.
 */
import { type AccessLookups, type RecordAccess, authorizeRecord } from './access.js';
import type { BlobJanitor } from './blob-cleanup.js';
import type { RecordCall } from './calls.js';
import { contentTypeFor } from './content-types.js';
import type { Attachment } from './entities.js';
import { zohoError } from './errors.js';
import { idList, isZohoId, newZohoId } from './ids.js';
import type { LimitsLookup } from './limits-lookup.js';
import { isHttpLink } from './links.js';
import type { BlobRange, BlobReader, BlobStore } from './ports/blob-store.js';
import type { MetadataView } from './ports/metadata.js';
import { RecordChanges } from './record-changes.js';
import type { ItemResult } from './results.js';
import { type StagedBytes, UploadStaging } from './staging.js';
import { type UploadBudget, recordAttachmentsExceeded, uploadBudget } from './storage-quota.js';
import { type FilePart, type UploadBody, cleanFileName } from './uploads.js';
import { type ActiveRules, type ChangeEvent, changeEvent } from './workflow-rules.js';

export interface AttachmentLimits {
  maxBytes: number;
  /** Whether to record each file's SHA-256. */
  contentHash: boolean;
}

export interface AttachmentServiceDeps {
  store: MetadataView<'records' | 'attachments' | 'workflows' | 'outbox' | 'storage'>;
  /** The active workflow rules a change triggers (cached). */
  rules: ActiveRules;
  /** Module settings and records for the access checks (module settings cached). */
  access: AccessLookups;
  blobs: BlobStore;
  limits: AttachmentLimits;
  /** The org's limits (storage quota, the record's attachment total). */
  orgLimits: LimitsLookup;
  now: () => number;
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

function attachmentEvent(call: RecordCall, a: Attachment, event: ChangeEvent['event'], occurredAt: number): ChangeEvent {
  return changeEvent(call.principal, { module: a.module, recordId: a.recordId, event, occurredAt, subject: attachmentFacts(a) });
}

export interface AttachmentUploadTicket {
  call: RecordCall<'attachment.upload'>;
  access: RecordAccess;
  /** Link and title from the query string, if given there. */
  attachmentUrl: string | undefined;
  title: string | undefined;
  /** The largest file the org's storage and the record's attachment total still take, and those limits. */
  budget: UploadBudget;
}

interface StagedFile extends StagedBytes {
  fileName: string;
  contentType: string;
}

export const MAX_PER_PAGE = 200;
export const MAX_IDS_PER_BULK_DELETE = 100;
/** v8 page tokens stay valid this long. */
export const PAGE_TOKEN_LIFETIME_MS = 24 * 3600_000;

/** Every field of an attachment a client may ask for in `fields` (docs/zoho-api.md §5.2). */
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

const attachmentTooLarge = () => zohoError('FILE_SIZE_MORE_THAN_ALLOWED_SIZE', {}, 'attachment.upload');

/** Attachment endpoints name the bad record id's position in the path (docs/zoho-api.md §3.2). */
const RELATED_ID_DETAILS = { related_status: 'invalid', resource_path_index: 1 };
const MAX_URL_LENGTH = 2048;
const MAX_TITLE_LENGTH = 255;

type AttachmentContent = Pick<Attachment, 'kind' | 'fileName' | 'title' | 'linkUrl' | 'contentType' | 'size' | 'blobKey' | 'sha256'>;

export class AttachmentService {
  private readonly changes: RecordChanges<'records' | 'attachments' | 'workflows' | 'outbox' | 'storage'>;

  constructor(private readonly deps: AttachmentServiceDeps) {
    this.changes = new RecordChanges(deps);
  }

  private authorize(call: RecordCall): Promise<RecordAccess> {
    return authorizeRecord(this.deps.access, call, RELATED_ID_DETAILS);
  }

  async prepareUpload(
    call: RecordCall<'attachment.upload'>,
    query: { attachmentUrl?: string | undefined; title?: string | undefined },
  ): Promise<AttachmentUploadTicket> {
    const access = await this.authorize(call);
    // Parameters known before the body are judged before it is read: a bad one costs no upload.
    const attachmentUrl = query.attachmentUrl === undefined ? undefined : validLink(query.attachmentUrl);
    const title = query.title === undefined ? undefined : checkedTitle(query.title);
    const orgId = call.principal.org.id;
    const budget = await uploadBudget(this.deps.store, await this.deps.orgLimits.effective(orgId), {
      orgId,
      recordId: access.record.id,
      operation: call.operation,
      fileMax: this.deps.limits.maxBytes,
      fileTooLarge: attachmentTooLarge,
      freed: 0,
      recordTotal: true,
    });
    return { call, access, attachmentUrl, title, budget };
  }

  /**
   * Adds the attachment. `body` is undefined when the request has no body (the SDK's link upload); the link then
   * comes from the query string.
   */
  async upload(ticket: AttachmentUploadTicket, body: UploadBody | undefined): Promise<Attachment> {
    const op = ticket.call.operation;
    const staging = new UploadStaging(this.deps.blobs, this.deps.janitor);
    let link = ticket.attachmentUrl;
    let title = ticket.title;
    try {
      let staged: StagedFile | undefined;
      if (body) {
        for await (const part of body) {
          if (part.kind === 'field') {
            if (part.name === 'attachmentUrl') link = validLink(part.value);
            else if (part.name === 'title') title = checkedTitle(part.value);
            continue;
          }
          if (staged) throw zohoError('MORE_THAN_ONE_FILE', {}, op);
          if (part.name !== 'file') throw zohoError('NO_FILE', { param_name: 'file' }, op);
          if (link !== undefined) throw zohoError('FILE_AND_LINK', {}, op);
          staged = await this.stage(staging, part, ticket.budget);
        }
      }
      if (staged && link !== undefined) throw zohoError('FILE_AND_LINK', {}, op);
      if (link !== undefined && !staged) return await this.insert(ticket, linkContent(link, title));
      if (!staged) throw zohoError('NO_FILE', { param_name: 'file' }, op);
      return await this.insert(ticket, fileContent(staged, title));
    } catch (err) {
      staging.discardAfter(err);
      throw err;
    }
  }

  private async stage(staging: UploadStaging, part: FilePart, budget: UploadBudget): Promise<StagedFile> {
    const staged = await staging.stage(part, {
      maxBytes: budget.maxBytes,
      hash: this.deps.limits.contentHash,
      tooLarge: budget.tooLarge,
    });
    if (staged.size === 0) throw zohoError('EMPTY_FILE', { param_name: 'file' }, 'attachment.upload');
    const fileName = cleanFileName(part.fileName, 'attachment');
    return { ...staged, fileName, contentType: contentTypeFor(part.declaredType, fileName) };
  }

  private insert(ticket: AttachmentUploadTicket, content: AttachmentContent): Promise<Attachment> {
    const { call, access } = ticket;
    const orgId = call.principal.org.id;
    const userId = call.principal.user.id;
    const { storageQuota, recordAttachmentBytes } = ticket.budget;
    return this.changes.commit(orgId, access.record.id, async (tx, record, now) => {
      if (!record) throw zohoError('INVALID_RELATED_ID', RELATED_ID_DETAILS, call.operation);
      // Judged again under the record's lock: another upload to the record may have used the room meanwhile.
      if (recordAttachmentBytes !== undefined && content.size > 0) {
        if ((await tx.attachments.totalSize(orgId, access.record.id)) + content.size > recordAttachmentBytes) {
          throw recordAttachmentsExceeded(recordAttachmentBytes, call.operation);
        }
      }
      const attachment: Attachment = {
        id: newZohoId(),
        orgId,
        recordId: access.record.id,
        module: access.module.apiName,
        ...content,
        ownerId: userId,
        createdBy: userId,
        createdAt: now,
        modifiedBy: userId,
        modifiedAt: now,
      };
      await tx.attachments.insert(attachment);
      return {
        value: attachment,
        events: [attachmentEvent(call, attachment, 'attachment_added', now)],
        storage: { delta: attachment.size, quota: storageQuota },
      };
    });
  }

  /** GET …/Attachments: a page of the record's attachments, newest first. */
  async list(call: RecordCall<'attachment.list'>, q: AttachmentListQuery): Promise<AttachmentPage> {
    const op = call.operation;
    const access = await this.authorize(call);
    // `fields` is optional in v2 and v2.1 (every field then) and mandatory from v3.
    if (q.fields === undefined && call.version !== 'v2' && call.version !== 'v2.1') {
      throw zohoError('REQUIRED_PARAM_MISSING', { param_name: 'fields' }, op);
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
    if (ids && ids.length > MAX_PER_PAGE) throw zohoError('LIMIT_EXCEEDED', { param_name: 'ids', limit: MAX_PER_PAGE }, op);
    const rows = await this.deps.store.attachments.list(call.principal.org.id, access.record.id, { limit: perPage + 1, offset }, ids);
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
  async download(call: RecordCall<'attachment.download'>, attachmentId: string): Promise<Attachment> {
    const { record } = await this.authorize(call);
    const found = isZohoId(attachmentId) ? await this.deps.store.attachments.get(call.principal.org.id, record.id, attachmentId) : undefined;
    if (!found) throw zohoError('INVALID_ID', { id: attachmentId, resource_path_index: 3 }, call.operation);
    return found;
  }

  openBytes(attachment: Attachment, range?: BlobRange): Promise<BlobReader | undefined> {
    return attachment.blobKey
      ? this.deps.blobs.open(attachment.blobKey, range, { expectedSize: attachment.size })
      : Promise.resolve(undefined);
  }

  /** DELETE …/Attachments?ids=a,b: each id on its own; a bad id gets its own error and does not stop the others. */
  async bulkDelete(call: RecordCall<'attachment.bulkDelete'>, idsParam: string | undefined): Promise<ItemResult<string>[]> {
    const { record } = await this.authorize(call);
    const ids = idList(idsParam, MAX_IDS_PER_BULK_DELETE, call.operation);
    const results: ItemResult<string>[] = [];
    for (const id of ids) {
      const removed = await this.remove(call, record.id, id);
      results.push(removed ? { ok: true, value: id } : { ok: false, error: zohoError('INVALID_ID', { id }, call.operation) });
    }
    return results;
  }

  async delete(call: RecordCall<'attachment.delete'>, attachmentId: string): Promise<Attachment> {
    const { record } = await this.authorize(call);
    const removed = await this.remove(call, record.id, attachmentId);
    if (!removed) throw zohoError('INVALID_ID', { id: attachmentId, resource_path_index: 3 }, call.operation);
    return removed;
  }

  /** Deletes one attachment of the record; undefined when the record has no such attachment. */
  private remove(call: RecordCall, recordId: string, attachmentId: string): Promise<Attachment | undefined> {
    const orgId = call.principal.org.id;
    return this.changes.commit(orgId, recordId, async (tx, _record, now) => {
      const found = isZohoId(attachmentId) ? await tx.attachments.get(orgId, recordId, attachmentId) : undefined;
      if (!found) return { value: undefined };
      await tx.attachments.delete(orgId, recordId, attachmentId);
      return {
        value: found,
        events: [attachmentEvent(call, found, 'attachment_deleted', now)],
        retired: [found.blobKey],
        storage: { delta: -found.size },
      };
    });
  }
}

function fileContent(staged: StagedFile, title: string | undefined): AttachmentContent {
  return {
    kind: 'file',
    fileName: staged.fileName,
    title: title ?? null,
    linkUrl: null,
    contentType: staged.contentType,
    size: staged.size,
    blobKey: staged.blobKey,
    sha256: staged.sha256,
  };
}

function linkContent(url: string, title: string | undefined): AttachmentContent {
  // Zoho fetches the page's meta title by default; this server never fetches client-supplied URLs (no SSRF),
  // so the link itself is the default title.
  const shownTitle = title !== undefined && title.trim().length > 0 ? title : url;
  return { kind: 'link', fileName: shownTitle, title: shownTitle, linkUrl: url, contentType: null, size: 0, blobKey: null, sha256: null };
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
