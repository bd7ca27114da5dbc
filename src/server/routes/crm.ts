/**
 * The Zoho API under `/crm/{version}/`: photos, attachments, records and the SDKs' side calls. Thin adapter:
 * authenticate, parse the path, query and body, call the service, render. The path is parsed here rather than by
 * the router so that the errors come out in Zoho's order and shape (INVALID_URL_PATTERN, INVALID_REQUEST_METHOD) for
 * any path.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../domain/access.js';
import { servedContentType } from '../../domain/content-types.js';
import { recordDisplayName } from '../../domain/directory.js';
import { isZohoError, zohoError } from '../../domain/errors.js';
import type { ItemResult } from '../../domain/results.js';
import { notMultipart } from '../../domain/uploads.js';
import type { Runtime } from '../../runtime.js';
import { tokenFromAuthorization } from '../auth.js';
import { type CrmResource, operationOf, parseCrmPath } from '../crm-path.js';
import { type DownloadOptions, sendDownload } from '../download.js';
import { queryParam, readJsonBody, rejectRequest, sendJson } from '../http.js';
import type { ServerMetrics } from '../metrics.js';
import { MultipartBody, isMultipart } from '../multipart.js';
import {
  PHOTO_DELETED,
  PHOTO_UPLOADED,
  type UserNames,
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

type Resource<K extends CrmResource['kind']> = Extract<CrmResource, { kind: K }>;

/** Per-item results as `{"data":[…]}`: 200 when any item succeeded, else 400. */
function sendItems<T>(reply: FastifyReply, results: ItemResult<T>[], render: (value: T) => unknown, okStatus = 200) {
  const data = results.map((x) => (x.ok ? render(x.value) : x.error.toBody()));
  return sendJson(reply, results.some((x) => x.ok) ? okStatus : 400, { data });
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

  const authenticate = async (request: FastifyRequest): Promise<Principal> =>
    rt.authenticator.principalFor(tokenFromAuthorization(request.headers.authorization));

  /** Names for users referenced by a response; a user since removed shows as their id. */
  const userNames = async (principal: Principal, ids: readonly string[]): Promise<UserNames> => {
    const users = new Map([[principal.user.id, principal.user]]);
    const others = [...new Set(ids)].filter((id) => !users.has(id));
    // Concurrent lookups: on PostgreSQL each is a round trip, and a page may name several users.
    for (const u of await Promise.all(others.map((id) => rt.store.getUser(principal.org.id, id)))) {
      if (u) users.set(u.id, u);
    }
    return { nameOf: (id) => users.get(id)?.name ?? id, emailOf: (id) => users.get(id)?.email };
  };

  const uploadBody = (req: IncomingMessage, maxFileBytes: number) =>
    new MultipartBody(req, { maxFileBytes, deadlineMs: rt.config.requestTimeoutMs });
  const noContent = (reply: FastifyReply) => () => reply.code(204).send();
  const downloadOptions = (reply: FastifyReply): DownloadOptions => ({ accel: rt.accel, onGone: noContent(reply) });

  async function photo(principal: Principal, r: Resource<'photo'>, request: FastifyRequest, reply: FastifyReply) {
    const method = request.method;
    if (method === 'GET' || method === 'HEAD') {
      const found = await rt.photos.download(principal, r.version, r.module, r.recordId);
      if (!found) return reply.code(204).send();
      const p = found.photo;
      return sendDownload(
        request,
        reply,
        { contentType: p.contentType, fileName: p.fileName, size: p.size, sha256: p.sha256, blobKey: p.blobKey, open: found.open },
        downloadOptions(reply),
      );
    }
    if (method === 'POST') {
      const ticket = await rt.photos.prepareUpload(principal, r.version, r.module, r.recordId, queryParam(request.query, 'restrict_triggers'));
      if (!isMultipart(request.headers['content-type'])) {
        throw notMultipart('photo.upload');
      }
      const body = uploadBody(request.raw, rt.config.photoMaxBytes);
      try {
        await rt.photos.upload(ticket, body);
      } finally {
        body.stop();
        request.bodyBytes = body.bytesReceived;
      }
      return sendJson(reply, 200, PHOTO_UPLOADED);
    }
    await rt.photos.delete(principal, r.version, r.module, r.recordId);
    return sendJson(reply, 200, PHOTO_DELETED);
  }

  async function attachments(principal: Principal, r: Resource<'attachments'>, request: FastifyRequest, reply: FastifyReply) {
    const q = request.query;
    if (request.method === 'GET' || request.method === 'HEAD') {
      const page = await rt.attachments.list(principal, r.version, r.module, r.recordId, {
        fields: queryParam(q, 'fields'),
        ids: queryParam(q, 'ids'),
        page: queryParam(q, 'page'),
        perPage: queryParam(q, 'per_page'),
        pageToken: queryParam(q, 'page_token'),
      });
      if (page.attachments.length === 0) return reply.code(204).send();
      const names = await userNames(
        principal,
        page.attachments.flatMap((a) => [a.ownerId, a.createdBy, a.modifiedBy]),
      );
      const parentName = recordDisplayName(page.access.module.apiName, page.access.record.data);
      const withTokens = r.version === 'v7' || r.version === 'v8';
      return sendJson(reply, 200, attachmentPageView(principal.org, names, page, parentName, withTokens));
    }
    if (request.method === 'DELETE') {
      const results = await rt.attachments.bulkDelete(principal, r.version, r.module, r.recordId, queryParam(q, 'ids'));
      return sendItems(reply, results, deletedItem);
    }
    const attachmentUrl = queryParam(q, 'attachmentUrl');
    const ticket = await rt.attachments.prepareUpload(principal, r.version, r.module, r.recordId, {
      attachmentUrl,
      title: queryParam(q, 'title'),
    });
    let body: MultipartBody | undefined;
    if (isMultipart(request.headers['content-type'])) {
      body = uploadBody(request.raw, rt.config.attachmentMaxBytes);
    } else if (attachmentUrl === undefined) {
      // Neither a form nor the SDK's body-less link upload.
      throw notMultipart('attachment.upload');
    }
    let created;
    try {
      created = await rt.attachments.upload(ticket, body);
    } finally {
      body?.stop();
      request.bodyBytes = body?.bytesReceived ?? 0;
    }
    return sendJson(reply, 200, attachmentUploaded(principal.org, await userNames(principal, []), created));
  }

  async function attachment(principal: Principal, r: Resource<'attachment'>, request: FastifyRequest, reply: FastifyReply) {
    if (request.method === 'DELETE') {
      const removed = await rt.attachments.delete(principal, r.version, r.module, r.recordId, r.attachmentId);
      return sendJson(reply, 200, { data: [deletedItem(removed.id)] });
    }
    const a = await rt.attachments.download(principal, r.version, r.module, r.recordId, r.attachmentId);
    if (a.kind === 'link' || !a.blobKey) {
      // A link has no bytes: "no content", with the link where a client can find it (docs/compatibility.md).
      const location = locationHeader(a.linkUrl);
      if (location !== undefined) reply.header('location', location);
      return reply.code(204).send();
    }
    return sendDownload(
      request,
      reply,
      {
        contentType: servedContentType(a.contentType),
        fileName: a.fileName,
        size: a.size,
        sha256: a.sha256,
        blobKey: a.blobKey,
        open: (range) => rt.attachments.openBytes(a, range),
      },
      downloadOptions(reply),
    );
  }

  async function records(principal: Principal, r: Resource<'records'>, request: FastifyRequest, reply: FastifyReply) {
    if (request.method === 'POST') {
      const body = await readJsonBody(request.raw, MAX_JSON_BODY);
      const results = await rt.records.insert(principal, r.version, r.module, body);
      const names = await userNames(principal, results.flatMap((x) => (x.ok ? [x.value.ownerId] : [])));
      return sendItems(reply, results, (rec) => recordAdded(principal.org, names, rec), 201);
    }
    return sendItems(reply, await rt.records.delete(principal, r.version, r.module, { idsParam: queryParam(request.query, 'ids') }), deletedItem);
  }

  async function record(principal: Principal, r: Resource<'record'>, request: FastifyRequest, reply: FastifyReply) {
    if (request.method === 'DELETE') {
      return sendItems(reply, await rt.records.delete(principal, r.version, r.module, { recordId: r.recordId }), deletedItem);
    }
    const found = await rt.records.get(principal, r.version, r.module, r.recordId);
    const names = await userNames(principal, [found.ownerId, found.createdBy, found.modifiedBy]);
    return sendJson(reply, 200, { data: [recordView(principal.org, names, found)] });
  }

  async function sideCall(principal: Principal, r: CrmResource, request: FastifyRequest, reply: FastifyReply) {
    switch (r.kind) {
      case 'users':
        return sendJson(reply, 200, usersView(principal.org, await rt.directory.users(principal, queryParam(request.query, 'type'))));
      case 'org':
        return sendJson(reply, 200, orgView(rt.directory.org(principal)));
      case 'settings-modules':
        return sendJson(reply, 200, modulesView(await rt.directory.modules(principal)));
      default: {
        const { module, fields } = await rt.directory.fields(principal, queryParam(request.query, 'module'));
        return sendJson(reply, 200, fieldsView(module, fields));
      }
    }
  }

  async function dispatch(request: FastifyRequest, reply: FastifyReply) {
    const principal = await authenticate(request);
    const resource = parseCrmPath(request.url.split('?', 1)[0]!);
    if (!resource) throw zohoError('INVALID_URL_PATTERN');
    const operation = operationOf(resource.kind, request.method);
    if (!operation) throw zohoError('INVALID_REQUEST_METHOD');
    request.operation = operation;
    switch (resource.kind) {
      case 'photo':
        return photo(principal, resource, request, reply);
      case 'attachments':
        return attachments(principal, resource, request, reply);
      case 'attachment':
        return attachment(principal, resource, request, reply);
      case 'records':
        return records(principal, resource, request, reply);
      case 'record':
        return record(principal, resource, request, reply);
      default:
        return sideCall(principal, resource, request, reply);
    }
  }

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    try {
      return await dispatch(request, reply);
    } catch (err) {
      if (!isZohoError(err)) throw err;
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
