/**
 * The five documented photo/attachment endpoints as data, for table-driven tests (errors, matrix, access, states):
 * how to call each one, what it needs, and the texts docs/compatibility.md gives for its endpoint-specific errors.
 * The expectations here are written from the docs, independently of src/.
 */
import { expect } from 'vitest';
import { png } from './images.js';
import { filePart } from './multipart.js';
import type { HttpResponse, RequestOptions, TestServer } from './server.js';
import { expectZohoError } from './zoho.js';

export const ENDPOINTS = ['photo.download', 'photo.upload', 'photo.delete', 'attachment.upload', 'attachment.delete'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];
export const PHOTO_ENDPOINTS = ['photo.download', 'photo.upload', 'photo.delete'] as const;
export const ATTACHMENT_ENDPOINTS = ['attachment.upload', 'attachment.delete'] as const;

export const METHOD: Record<Endpoint, string> = {
  'photo.download': 'GET',
  'photo.upload': 'POST',
  'photo.delete': 'DELETE',
  'attachment.upload': 'POST',
  'attachment.delete': 'DELETE',
};

export const WRITES: Record<Endpoint, boolean> = {
  'photo.download': false,
  'photo.upload': true,
  'photo.delete': true,
  'attachment.upload': true,
  'attachment.delete': true,
};

/** Profile permission each endpoint needs (docs "Permissions and sharing"). */
export const PERMISSION: Record<Endpoint, 'view' | 'edit'> = {
  'photo.download': 'view',
  'photo.upload': 'edit',
  'photo.delete': 'edit',
  'attachment.upload': 'edit',
  'attachment.delete': 'edit',
};

/** docs/compatibility.md "Error texts". */
export const NO_PERMISSION_MESSAGE: Record<Endpoint, string> = {
  'photo.download': 'Permission denied to download images',
  'photo.upload': 'Permission denied to upload photo',
  'photo.delete': 'Permission denied to delete images',
  'attachment.upload': 'Permission denied to upload attachment',
  'attachment.delete': 'Permission denied to delete attachment',
};

export const AUTHORIZATION_FAILED_MESSAGE: Record<Endpoint, string> = {
  'photo.download': 'User does not have sufficient privilege to download images',
  'photo.upload': 'User does not have sufficient privilege to upload photo',
  'photo.delete': 'User does not have sufficient privilege to delete images',
  'attachment.upload': 'User does not have sufficient privilege to upload attachments',
  'attachment.delete': 'User does not have sufficient privilege to delete attachments',
};

const RELATED_ID_DETAILS = { related_status: 'invalid', resource_path_index: 1 };

export const BAD_RECORD_ID: Record<Endpoint, { message: string; details: Record<string, unknown> }> = {
  'photo.download': { message: 'the id given seems to be invalid', details: {} },
  'photo.upload': { message: 'the related id given seems to be invalid', details: {} },
  'photo.delete': { message: 'the id given seems to be invalid', details: {} },
  'attachment.upload': { message: 'the related id given seems to be invalid', details: RELATED_ID_DETAILS },
  'attachment.delete': { message: 'the related id given seems to be invalid', details: RELATED_ID_DETAILS },
};

export const MSG = {
  AUTHENTICATION_FAILURE: 'Authentication failed',
  INVALID_TOKEN: 'invalid oauth token',
  OAUTH_SCOPE_MISMATCH: 'invalid oauth scope to access this URL',
  INVALID_URL_PATTERN: 'Please check if the URL trying to access is a correct one',
  INVALID_REQUEST_METHOD: 'The http request method type is not a valid one',
  INVALID_MODULE: 'the module name given seems to be invalid',
  MODULE_NOT_SUPPORTED: 'The given module is not supported in API',
  INTERNAL_ERROR: 'Internal Server Error',
  FILE_SIZE: 'please check if the file size is in the correct range',
  INVALID_REQUEST: 'invalid request',
} as const;

export interface Target {
  module: string;
  recordId: string;
  /** Only for attachment.delete; a well-formed id that names nothing when omitted. */
  attachmentId?: string;
  version?: string;
}

/** A well-formed 19-digit id that names nothing (ids are random, so a collision is negligible). */
export const NOWHERE_ID = '1000000000000000001';

export function endpointPath(ep: Endpoint, t: Target): string {
  const base = `/crm/${t.version ?? 'v8'}/${t.module}/${t.recordId}`;
  switch (ep) {
    case 'photo.download':
    case 'photo.upload':
    case 'photo.delete':
      return `${base}/photo`;
    case 'attachment.upload':
      return `${base}/Attachments`;
    case 'attachment.delete':
      return `${base}/Attachments/${t.attachmentId ?? NOWHERE_ID}`;
  }
}

const TINY_PNG = png(2, 2);

/** The body a successful call would send: a valid PNG for a photo, a small text file for an attachment. */
export function defaultBody(ep: Endpoint): { contentType: string; body: Buffer } | undefined {
  if (ep === 'photo.upload') return filePart(TINY_PNG, 'tiny.png', 'image/png');
  if (ep === 'attachment.upload') return filePart('hello attachment\n', 'note.txt', 'text/plain');
  return undefined;
}

export interface CallOptions extends RequestOptions {
  method?: string;
  /** Replace the default body (null: send none). */
  upload?: { contentType: string; body: Buffer | string } | null;
}

/** Calls `ep` on `t`. Uses the dev token unless `token` is given (null: no Authorization header). */
export function callEndpoint(server: TestServer, ep: Endpoint, t: Target, opts: CallOptions = {}): Promise<HttpResponse> {
  const { method, upload, headers, ...rest } = opts;
  const body = upload === undefined ? defaultBody(ep) : upload ?? undefined;
  return server.api(method ?? METHOD[ep], endpointPath(ep, t), {
    ...rest,
    headers: { ...(body ? { 'content-type': body.contentType } : {}), ...(headers ?? {}) },
    ...(body ? { body: body.body } : {}),
  });
}

/** Asserts the success answer of each endpoint. */
export function expectSuccess(ep: Endpoint, res: HttpResponse): void {
  switch (ep) {
    case 'photo.download':
      expect([200, 204], res.text).toContain(res.status);
      return;
    case 'photo.upload':
      expect({ status: res.status, body: res.json }, res.text).toEqual({
        status: 200,
        body: { code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' },
      });
      return;
    case 'photo.delete':
      expect({ status: res.status, body: res.json }, res.text).toEqual({
        status: 200,
        body: { code: 'SUCCESS', details: {}, message: 'Photo deleted', status: 'success' },
      });
      return;
    case 'attachment.upload':
      expect(res.status, res.text).toBe(200);
      expect(res.json.data[0]).toMatchObject({ code: 'SUCCESS', message: 'attachment uploaded successfully', status: 'success' });
      return;
    case 'attachment.delete':
      expect(res.status, res.text).toBe(200);
      expect(res.json.data[0]).toMatchObject({ code: 'SUCCESS', message: 'record deleted', status: 'success' });
      return;
  }
}

/** A record with a photo and a file attachment, to prove a refused request changed nothing. */
export interface Fixture {
  org: string;
  token: string;
  module: string;
  recordId: string;
  photo: Buffer;
  attachmentId: string;
}

export async function makeFixture(
  server: TestServer,
  opts: { module?: string; token?: string; org?: string; photo?: Buffer; fields?: Record<string, unknown> } = {},
): Promise<Fixture> {
  const module = opts.module ?? 'Leads';
  const token = opts.token ?? server.devToken;
  const org = opts.org ?? server.orgId;
  const recordId = await server.createRecord(module, token, opts.fields ?? { Last_Name: 'Fixture', Company: 'Fixture Inc' });
  const photo = opts.photo ?? png(3, 2);
  const up = await callEndpoint(server, 'photo.upload', { module, recordId }, { token, upload: filePart(photo, 'fx.png', 'image/png') });
  expectSuccess('photo.upload', up);
  const att = await callEndpoint(server, 'attachment.upload', { module, recordId }, { token });
  expectSuccess('attachment.upload', att);
  return { org, token, module, recordId, photo, attachmentId: att.json.data[0].details.id as string };
}

/** A target naming the fixture (its real attachment id for attachment.delete). */
export function fixtureTarget(fx: Fixture, version = 'v8'): Target {
  return { module: fx.module, recordId: fx.recordId, attachmentId: fx.attachmentId, version };
}

/** The fixture's photo still downloads byte-identical and its attachment still exists. */
export async function expectFixtureIntact(server: TestServer, fx: Fixture): Promise<void> {
  const res = await callEndpoint(server, 'photo.download', fixtureTarget(fx), { token: fx.token });
  expect(res.status, res.text).toBe(200);
  expect(res.body.equals(fx.photo)).toBe(true);
  expect(await server.runtime.store.attachments.get(fx.org, fx.recordId, fx.attachmentId)).toBeDefined();
}

/** Nothing stored or removed since `blobsBefore`; no upload temp files left; the server still answers. */
export async function expectNothingChanged(server: TestServer, blobsBefore: string[], fixtures: Fixture[] = []): Promise<void> {
  expect(await server.blobFiles()).toEqual(blobsBefore);
  expect(await server.tempFiles()).toEqual([]);
  for (const fx of fixtures) await expectFixtureIntact(server, fx);
}

export function expectError(
  res: HttpResponse,
  status: number,
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): void {
  expectZohoError(res, { status, code, message, details });
}

/** Issues a token through the admin API; returns its value and id. */
export async function issueToken(
  server: TestServer,
  org: string,
  user: string,
  opts: { scopes?: string; expiresIn?: number } = {},
): Promise<{ token: string; id: string }> {
  const t = await server.admin('POST', `/orgs/${org}/tokens`, {
    user,
    ...(opts.scopes ? { scopes: opts.scopes } : {}),
    ...(opts.expiresIn ? { expires_in: opts.expiresIn } : {}),
  });
  return { token: t.access_token as string, id: t.id as string };
}

export function setSharing(server: TestServer, org: string, module: string, sharing: string): Promise<unknown> {
  return server.admin('PUT', `/orgs/${org}/modules/${module}/sharing`, { sharing });
}
