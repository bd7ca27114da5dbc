/**
 * The Zoho API under `/crm/{version}/`: one table keyed by operation. Each entry names the resource (the path's shape,
 * crm-path.ts), the methods that select the operation on it, and the handler: a thin adapter that reads the query and
 * body, calls one service method with the call (domain/calls.ts) and renders the result. Adding an endpoint is one
 * entry here and one service method. The path is parsed here rather than by the router so that the errors come out
 * in Zoho's order and shape (INVALID_URL_PATTERN, INVALID_REQUEST_METHOD) for any path.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../domain/access.js';
import type { ModuleCall, RecordCall } from '../../domain/calls.js';
import { servedContentType } from '../../domain/content-types.js';
import { recordDisplayName } from '../../domain/directory.js';
import { isZohoError, zohoError } from '../../domain/errors.js';
import type { ApiOperation, OperationName } from '../../domain/operations.js';
import type { ItemResult } from '../../domain/results.js';
import { notMultipart } from '../../domain/uploads.js';
import type { Runtime } from '../../runtime.js';
import { journalFacts } from '../request-journal.js';
import { limitMark } from '../../domain/limits.js';
import { admitRequest, applyFaults } from '../limits-pipeline.js';
import { tokenFromAuthorization } from '../auth.js';
import { type CrmResource, type CrmResourceKind, parseCrmPath } from '../crm-path.js';
import { type Downloadable, sendDownload } from '../download.js';
import { queryParam, readJsonBody, rejectRequest, sendJson } from '../http.js';
import type { ServerMetrics } from '../metrics.js';
import { MultipartBody, isMultipart } from '../multipart.js';
import {
  PHOTO_DELETED,
  PHOTO_UPLOADED,
  attachmentPageView,
  attachmentUploaded,
  deletedItem,
  fieldsView,
  modulesView,
  orgView,
  recordAdded,
  recordView,
  usersView,
} from '../views.js';

const MAX_JSON_BODY = 1024 * 1024;

type Resource<K extends CrmResourceKind> = Extract<CrmResource, { kind: K }>;

/** What a handler gets: the runtime, the request and reply, who calls, the parsed path and the operation. */
interface CrmContext<K extends CrmResourceKind, Op extends ApiOperation> {
  rt: Runtime;
  request: FastifyRequest;
  reply: FastifyReply;
  principal: Principal;
  resource: Resource<K>;
  operation: Op;
}

/** One entry of the table; the handler sees the resource kinds of its entry only. */
interface CrmOperation<Op extends ApiOperation> {
  /** The resources the operation acts on (record deletion has two: `?ids=` on the module, or one record's path). */
  resources: readonly CrmResourceKind[];
  /** The methods that select this operation on those resources. HEAD is served as GET without a body. */
  methods: readonly string[];
  handle(ctx: CrmContext<CrmResourceKind, Op>): Promise<FastifyReply>;
}

const READ = ['GET', 'HEAD'] as const;

function on<K extends CrmResourceKind, Op extends ApiOperation>(
  resources: K | readonly K[],
  methods: readonly string[],
  handle: (ctx: CrmContext<K, Op>) => Promise<FastifyReply>,
): CrmOperation<Op> {
  // The dispatcher passes an entry only the resources it names, so the handler's narrower view holds.
  return { resources: typeof resources === 'string' ? [resources] : resources, methods, handle: (ctx) => handle(ctx as unknown as CrmContext<K, Op>) };
}

interface OnModule<Op extends OperationName> {
  principal: Principal;
  operation: Op;
  resource: { version: ModuleCall['version']; module: string };
}

/** The call a handler passes to its service: the operation on the module (and record) the path names. */
function moduleCall<Op extends OperationName>({ principal, operation, resource }: OnModule<Op>): ModuleCall<Op> {
  return { principal, operation, version: resource.version, module: resource.module };
}
function recordCall<Op extends OperationName>(ctx: OnModule<Op> & { resource: { recordId: string } }): RecordCall<Op> {
  return { ...moduleCall(ctx), recordId: ctx.resource.recordId };
}

/** Per-item results as `{"data":[…]}`: 200 when any item succeeded, else 400. */
function sendItems<T>(reply: FastifyReply, results: ItemResult<T>[], render: (value: T) => unknown, okStatus = 200) {
  const data = results.map((x) => (x.ok ? render(x.value) : x.error.toBody()));
  return sendJson(reply, results.some((x) => x.ok) ? okStatus : 400, { data });
}

function uploadBody(rt: Runtime, request: FastifyRequest, maxFileBytes: number): MultipartBody {
  return new MultipartBody(request.raw, { maxFileBytes, deadlineMs: rt.config.requestTimeoutMs });
}

function download(ctx: Pick<CrmContext<CrmResourceKind, ApiOperation>, 'rt' | 'request' | 'reply'>, d: Downloadable): Promise<FastifyReply> {
  return sendDownload(ctx.request, ctx.reply, d, { accel: ctx.rt.accel, onGone: () => ctx.reply.code(204).send() });
}

const CRM_OPERATIONS = {
  'photo.download': on('photo', READ, async (ctx: CrmContext<'photo', 'photo.download'>) => {
    const found = await ctx.rt.photos.download(recordCall(ctx));
    if (!found) return ctx.reply.code(204).send();
    const p = found.photo;
    return download(ctx, { contentType: p.contentType, fileName: p.fileName, size: p.size, sha256: p.sha256, blobKey: p.blobKey, open: found.open });
  }),

  'photo.upload': on('photo', ['POST'], async (ctx: CrmContext<'photo', 'photo.upload'>) => {
    const { rt, request, reply } = ctx;
    const ticket = await rt.photos.prepareUpload(recordCall(ctx), queryParam(request.query, 'restrict_triggers'));
    if (!isMultipart(request.headers['content-type'])) throw notMultipart(ctx.operation);
    const body = uploadBody(rt, request, rt.config.photoMaxBytes);
    try {
      await rt.photos.upload(ticket, body);
    } finally {
      body.stop();
      request.bodyBytes = body.bytesReceived;
    }
    return sendJson(reply, 200, PHOTO_UPLOADED);
  }),

  'photo.delete': on('photo', ['DELETE'], async (ctx: CrmContext<'photo', 'photo.delete'>) => {
    await ctx.rt.photos.delete(recordCall(ctx));
    return sendJson(ctx.reply, 200, PHOTO_DELETED);
  }),

  'attachment.list': on('attachments', READ, async (ctx: CrmContext<'attachments', 'attachment.list'>) => {
    const { rt, principal, reply } = ctx;
    const q = ctx.request.query;
    const page = await rt.attachments.list(recordCall(ctx), {
      fields: queryParam(q, 'fields'),
      ids: queryParam(q, 'ids'),
      page: queryParam(q, 'page'),
      perPage: queryParam(q, 'per_page'),
      pageToken: queryParam(q, 'page_token'),
    });
    if (page.attachments.length === 0) return reply.code(204).send();
    const names = await rt.directory.namesOf(principal, page.attachments.flatMap((a) => [a.ownerId, a.createdBy, a.modifiedBy]));
    const parentName = recordDisplayName(page.access.module.apiName, page.access.record.data);
    const withTokens = ctx.resource.version === 'v7' || ctx.resource.version === 'v8';
    return sendJson(reply, 200, attachmentPageView(principal.org, names, page, parentName, withTokens));
  }),

  'attachment.upload': on('attachments', ['POST'], async (ctx: CrmContext<'attachments', 'attachment.upload'>) => {
    const { rt, request, principal } = ctx;
    const attachmentUrl = queryParam(request.query, 'attachmentUrl');
    const ticket = await rt.attachments.prepareUpload(recordCall(ctx), { attachmentUrl, title: queryParam(request.query, 'title') });
    let body: MultipartBody | undefined;
    if (isMultipart(request.headers['content-type'])) body = uploadBody(rt, request, rt.config.attachmentMaxBytes);
    // Neither a form nor the SDK's body-less link upload.
    else if (attachmentUrl === undefined) throw notMultipart(ctx.operation);
    let created;
    try {
      created = await rt.attachments.upload(ticket, body);
    } finally {
      body?.stop();
      request.bodyBytes = body?.bytesReceived ?? 0;
    }
    return sendJson(ctx.reply, 200, attachmentUploaded(principal.org, await rt.directory.namesOf(principal, []), created));
  }),

  'attachment.bulkDelete': on('attachments', ['DELETE'], async (ctx: CrmContext<'attachments', 'attachment.bulkDelete'>) => {
    const results = await ctx.rt.attachments.bulkDelete(recordCall(ctx), queryParam(ctx.request.query, 'ids'));
    return sendItems(ctx.reply, results, deletedItem);
  }),

  'attachment.download': on('attachment', READ, async (ctx: CrmContext<'attachment', 'attachment.download'>) => {
    const { rt, reply } = ctx;
    const a = await rt.attachments.download(recordCall(ctx), ctx.resource.attachmentId);
    if (a.kind === 'link' || !a.blobKey) {
      // A link has no bytes: "no content", with the link where a client can find it (docs/compatibility.md).
      const location = locationHeader(a.linkUrl);
      if (location !== undefined) reply.header('location', location);
      return reply.code(204).send();
    }
    return download(ctx, {
      contentType: servedContentType(a.contentType),
      fileName: a.fileName,
      size: a.size,
      sha256: a.sha256,
      blobKey: a.blobKey,
      open: (range) => rt.attachments.openBytes(a, range),
    });
  }),

  'attachment.delete': on('attachment', ['DELETE'], async (ctx: CrmContext<'attachment', 'attachment.delete'>) => {
    const removed = await ctx.rt.attachments.delete(recordCall(ctx), ctx.resource.attachmentId);
    return sendJson(ctx.reply, 200, { data: [deletedItem(removed.id)] });
  }),

  'record.insert': on('records', ['POST'], async (ctx: CrmContext<'records', 'record.insert'>) => {
    const { rt, principal } = ctx;
    const results = await rt.records.insert(moduleCall(ctx), await readJsonBody(ctx.request.raw, MAX_JSON_BODY));
    const names = await rt.directory.namesOf(principal, results.flatMap((x) => (x.ok ? [x.value.ownerId] : [])));
    return sendItems(ctx.reply, results, (rec) => recordAdded(principal.org, names, rec), 201);
  }),

  'record.get': on('record', READ, async (ctx: CrmContext<'record', 'record.get'>) => {
    const { rt, principal } = ctx;
    const found = await rt.records.get(recordCall(ctx));
    const names = await rt.directory.namesOf(principal, [found.ownerId, found.createdBy, found.modifiedBy]);
    return sendJson(ctx.reply, 200, { data: [recordView(principal.org, names, found)] });
  }),

  'record.delete': on(['records', 'record'], ['DELETE'], async (ctx: CrmContext<'records' | 'record', 'record.delete'>) => {
    const { resource } = ctx;
    const call = resource.kind === 'record' ? recordCall({ ...ctx, resource }) : moduleCall(ctx);
    return sendItems(ctx.reply, await ctx.rt.records.delete(call, queryParam(ctx.request.query, 'ids')), deletedItem);
  }),

  'users.get': on('users', READ, async (ctx: CrmContext<'users', 'users.get'>) => {
    const users = await ctx.rt.directory.users(ctx.principal, queryParam(ctx.request.query, 'type'));
    return sendJson(ctx.reply, 200, usersView(ctx.principal.org, users));
  }),

  'org.get': on('org', READ, async (ctx: CrmContext<'org', 'org.get'>) => sendJson(ctx.reply, 200, orgView(ctx.rt.directory.org(ctx.principal)))),

  'settings.modules': on('settings-modules', READ, async (ctx: CrmContext<'settings-modules', 'settings.modules'>) =>
    sendJson(ctx.reply, 200, modulesView(await ctx.rt.directory.modules(ctx.principal))),
  ),

  'settings.fields': on('settings-fields', READ, async (ctx: CrmContext<'settings-fields', 'settings.fields'>) => {
    const { module, fields } = await ctx.rt.directory.fields(ctx.principal, queryParam(ctx.request.query, 'module'));
    return sendJson(ctx.reply, 200, fieldsView(module, fields));
  }),
} satisfies { [Op in ApiOperation]: CrmOperation<Op> };

type AnyOperation = CrmOperation<ApiOperation>;

/** resource kind → method → the operation it selects, built once from the table. */
const BY_RESOURCE = new Map<CrmResourceKind, Map<string, { operation: ApiOperation; entry: AnyOperation }>>();
for (const [operation, entry] of Object.entries(CRM_OPERATIONS) as [ApiOperation, AnyOperation][]) {
  for (const resource of entry.resources) {
    const methods = BY_RESOURCE.get(resource) ?? new Map<string, { operation: ApiOperation; entry: AnyOperation }>();
    for (const method of entry.methods) {
      if (methods.has(method)) throw new Error(`${method} on ${resource} selects two operations`);
      methods.set(method, { operation, entry });
    }
    BY_RESOURCE.set(resource, methods);
  }
}

/** Registers `/crm/*`; returns the handler, for requests the router does not route there itself. */
export function registerCrmRoutes(
  app: FastifyInstance,
  rt: Runtime,
  metrics: ServerMetrics,
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const drainLimits = {
    maxBytes: Math.max(rt.config.photoMaxBytes, rt.config.attachmentMaxBytes) + 1024 * 1024,
    maxMs: 15_000,
  };

  async function dispatch(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const facts = journalFacts();
    request.journal = facts;
    // What the path names is known before the token is judged (for the journal and metrics of a refused request);
    // the errors still come in Zoho's order: the token's first.
    const resource = parseCrmPath(request.url.split('?', 1)[0]!);
    const selected = resource && BY_RESOURCE.get(resource.kind)?.get(request.method);
    if (resource && 'recordId' in resource) facts.recordId = resource.recordId;
    if (selected) request.operation = selected.operation;
    const principal = await rt.authenticator.principalFor(tokenFromAuthorization(request.headers.authorization));
    facts.orgId = principal.org.id;
    facts.userId = principal.user.id;
    facts.clientId = principal.clientId;
    if (!resource) throw zohoError('INVALID_URL_PATTERN');
    if (!selected) throw zohoError('INVALID_REQUEST_METHOD');
    await admitRequest(rt, request, reply, principal, selected.operation);
    const injected = await applyFaults(rt, request, reply, {
      operation: selected.operation,
      method: request.method,
      module: 'module' in resource ? resource.module : undefined,
      orgId: principal.org.id,
      userId: principal.user.id,
      tokenId: principal.tokenId,
      clientId: principal.clientId ?? undefined,
    });
    if (injected) return injected;
    return selected.entry.handle({ rt, request, reply, principal, resource: resource as never, operation: selected.operation });
  }

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    try {
      return await dispatch(request, reply);
    } catch (err) {
      if (!isZohoError(err)) throw err;
      const mark = limitMark(err);
      if (mark) request.journal?.marks.push(mark);
      if (request.operation === 'photo.upload' || request.operation === 'attachment.upload') {
        metrics.uploadRejected(request.operation, err.entry);
      }
      return rejectRequest(request, reply, err, drainLimits);
    }
  };
  app.all('/crm/*', handler);
  return handler;
}

/**
 * A stored link as a header value: serialized by the URL parser, which percent-encodes non-ASCII paths and turns
 * international host names into punycode, so any link stored as typed is a valid header. None if it cannot be.
 */
function locationHeader(link: string | null | undefined): string | undefined {
  if (!link) return undefined;
  try {
    const href = new URL(link).href;
    return /^[\x21-\x7e]+$/.test(href) ? href : undefined;
  } catch {
    return undefined;
  }
}
