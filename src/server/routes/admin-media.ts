/**
 * A record as the console shows it, and its photo and attachments changed *as a chosen user of the org* (`?as=`, a
 * user id or email; default: the record's owner). Those changes call the very service methods the Zoho API calls,
 * with that user's profile and every scope, so they meet the same rules: permissions and sharing, record locks and
 * approvals, image checks, size limits, workflow rules. (The console is served by the admin listener, which may not
 * serve /crm at all, so it cannot simply call the Zoho API.) These requests are admin requests: they are not in the
 * request journal, which records the Zoho surface only.
 *   GET    /_admin/orgs/:org/records/:id                       the record, its photo's facts, its attachments
 *   GET    /_admin/orgs/:org/records/:id/photo                 the photo's bytes
 *   POST   /_admin/orgs/:org/records/:id/photo                 multipart, one `file` part
 *   DELETE /_admin/orgs/:org/records/:id/photo
 *   POST   /_admin/orgs/:org/records/:id/attachments           multipart `file`, or `?attachmentUrl=` (+ `title`)
 *   GET    /_admin/orgs/:org/records/:id/attachments/:att      the attachment's bytes
 *   DELETE /_admin/orgs/:org/records/:id/attachments/:att
 */
import type { FastifyRequest } from 'fastify';
import { attachmentJson, photoJson, recordJson } from '../../admin/views.js';
import type { Principal } from '../../domain/access.js';
import { FULL_SCOPES } from '../../domain/admin.js';
import type { RecordCall } from '../../domain/calls.js';
import { servedContentType } from '../../domain/content-types.js';
import { zohoError } from '../../domain/errors.js';
import type { OperationName } from '../../domain/operations.js';
import { ScopeSet } from '../../domain/scopes.js';
import { notMultipart } from '../../domain/uploads.js';
import type { Runtime } from '../../runtime.js';
import { sendDownload } from '../download.js';
import { queryParam } from '../http.js';
import { MultipartBody, isMultipart } from '../multipart.js';
import type { AdminParams, AdminRoute } from './admin-router.js';

const FULL = ScopeSet.parse(FULL_SCOPES);

export function registerMediaRoutes(route: AdminRoute, rt: Runtime): void {
  const uploadLimit = { bodyLimit: Math.max(rt.config.photoMaxBytes, rt.config.attachmentMaxBytes) + 1024 * 1024 };

  /** The call the Zoho API would make for `operation` on the record, by the user `?as=` names. */
  async function callAs<Op extends OperationName>(request: FastifyRequest<{ Params: AdminParams }>, operation: Op): Promise<RecordCall<Op>> {
    const orgId = request.params['org']!;
    const { record } = await rt.admin.recordDetail(orgId, request.params['id']!);
    const principal = await principalOf(rt, orgId, queryParam(request.query, 'as') || record.ownerId);
    return { principal, operation, version: 'v8', module: record.module, recordId: record.id };
  }

  function uploadBody(request: FastifyRequest, maxFileBytes: number): MultipartBody {
    if (!isMultipart(request.headers['content-type'])) throw notMultipart();
    return new MultipartBody(request.raw, { maxFileBytes, deadlineMs: rt.config.requestTimeoutMs });
  }

  route('GET', '/orgs/:org/records/:id', async (req) => {
    const d = await rt.admin.recordDetail(req.params['org']!, req.params['id']!);
    return { ...recordJson(d.record), photo: d.photo ? photoJson(d.photo) : null, attachments: d.attachments.map(attachmentJson) };
  });

  route('GET', '/orgs/:org/records/:id/photo', async (req, reply) => {
    const found = await rt.photos.download(await callAs(req, 'photo.download'));
    if (!found) throw zohoError('NO_SUCH_PHOTO', {}, 'photo.download');
    const p = found.photo;
    // The console shows it as a thumbnail of a page it serves itself; it stays private to the session's browser.
    reply.header('cache-control', 'private, no-cache');
    return sendDownload(req, reply, { contentType: p.contentType, fileName: p.fileName, size: p.size, sha256: p.sha256, blobKey: p.blobKey, open: found.open }, {
      onGone: () => reply.code(204).send(),
    });
  });

  route(
    'POST',
    '/orgs/:org/records/:id/photo',
    async (req) => {
      const ticket = await rt.photos.prepareUpload(await callAs(req, 'photo.upload'), queryParam(req.query, 'restrict_triggers'));
      const body = uploadBody(req, rt.config.photoMaxBytes);
      try {
        await rt.photos.upload(ticket, body);
      } finally {
        body.stop();
        req.bodyBytes = body.bytesReceived;
      }
      const { photo } = await rt.admin.recordDetail(req.params['org']!, req.params['id']!);
      return { photo: photo ? photoJson(photo) : null };
    },
    uploadLimit,
  );

  route('DELETE', '/orgs/:org/records/:id/photo', async (req) => {
    await rt.photos.delete(await callAs(req, 'photo.delete'));
    return { deleted: 'photo' };
  });

  route(
    'POST',
    '/orgs/:org/records/:id/attachments',
    async (req) => {
      const attachmentUrl = queryParam(req.query, 'attachmentUrl');
      const ticket = await rt.attachments.prepareUpload(await callAs(req, 'attachment.upload'), { attachmentUrl, title: queryParam(req.query, 'title') });
      const body = attachmentUrl !== undefined && !isMultipart(req.headers['content-type']) ? undefined : uploadBody(req, rt.config.attachmentMaxBytes);
      try {
        return attachmentJson(await rt.attachments.upload(ticket, body));
      } finally {
        body?.stop();
        req.bodyBytes = body?.bytesReceived ?? 0;
      }
    },
    uploadLimit,
  );

  route('GET', '/orgs/:org/records/:id/attachments/:att', async (req, reply) => {
    const a = await rt.attachments.download(await callAs(req, 'attachment.download'), req.params['att']!);
    if (a.kind === 'link' || !a.blobKey) throw zohoError('INVALID_DATA', { reason: 'a link attachment has no bytes', link_url: a.linkUrl });
    return sendDownload(
      req,
      reply,
      { contentType: servedContentType(a.contentType), fileName: a.fileName, size: a.size, sha256: a.sha256, blobKey: a.blobKey, open: (range) => rt.attachments.openBytes(a, range) },
      { onGone: () => reply.code(204).send() },
    );
  });

  route('DELETE', '/orgs/:org/records/:id/attachments/:att', async (req) => {
    const removed = await rt.attachments.delete(await callAs(req, 'attachment.delete'), req.params['att']!);
    return { deleted: removed.id };
  });
}

/** A user of the org as a principal with every scope: what their own full-scope token would give. */
async function principalOf(rt: Runtime, orgId: string, userRef: string): Promise<Principal> {
  const org = await rt.admin.org(orgId);
  const user = await rt.admin.findUser(orgId, userRef);
  if (user.status !== 'active') throw zohoError('INVALID_DATA', { param_name: 'as', reason: 'the user is inactive' });
  const profile = await rt.admin.findProfile(orgId, user.profileId);
  return { org, user, profile, scopes: FULL, tokenId: 'console', clientId: null };
}
