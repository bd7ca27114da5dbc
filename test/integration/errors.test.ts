/**
 * Every documented error of every photo/attachment endpoint (the "Possible Errors" of Zoho's pages, docs/zoho-api.md
 * §3), provoked for real and asserted exactly as docs/compatibility.md specifies: code, HTTP status, message, details.
 * After each refused request nothing may have changed: the fixture record's photo still downloads byte-identical,
 * its attachment still exists, no blob was added or removed, no temp file was left, and the server still answers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTHORIZATION_FAILED_MESSAGE,
  BAD_RECORD_ID,
  ENDPOINTS,
  type Endpoint,
  type Fixture,
  MSG,
  NOWHERE_ID,
  NO_PERMISSION_MESSAGE,
  PERMISSION,
  callEndpoint,
  expectError,
  expectFixtureIntact,
  expectNothingChanged,
  expectSuccess,
  fixtureTarget,
  issueToken,
  makeFixture,
  setSharing,
} from '../helpers/endpoint-matrix.js';
import { png, pngHeaderOnly } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

let server: TestServer;
/** Leads record of the bootstrap org (owned by its admin) with a photo and an attachment. */
let fx: Fixture;

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const WRITE_ENDPOINTS = ENDPOINTS.filter((e) => e !== 'photo.download');

beforeAll(async () => {
  server = await TestServer.start();
  fx = await makeFixture(server);
});
afterAll(() => server?.stop());

/** Runs `request`, then checks that nothing changed; returns the answer for the caller's assertions. */
async function refused(request: () => Promise<HttpResponse>, fixtures: Fixture[] = [fx]): Promise<HttpResponse> {
  const before = await server.blobFiles();
  const res = await request();
  await expectNothingChanged(server, before, fixtures);
  return res;
}

describe(`errors: authentication (${BACKEND})`, () => {
  const garbled: Array<[string, () => Record<string, string>]> = [
    ['no Authorization header', () => ({})],
    ['Bearer x', () => ({ authorization: 'Bearer x' })],
    ['Bearer <valid token>', () => ({ authorization: `Bearer ${server.devToken}` })],
    ['Zoho-oauthtoken with no value', () => ({ authorization: 'Zoho-oauthtoken' })],
    ['Zoho-oauthtoken followed by spaces only', () => ({ authorization: 'Zoho-oauthtoken   ' })],
    ['Basic abc', () => ({ authorization: 'Basic abc' })],
    ['the bare token without a scheme', () => ({ authorization: server.devToken })],
    ['two values', () => ({ authorization: `Zoho-oauthtoken ${server.devToken} ${server.devToken}` })],
    ['empty header', () => ({ authorization: '' })],
  ];
  const cases = ENDPOINTS.flatMap((ep) => garbled.map(([name, headers]) => [ep, name, headers] as const));

  it.each(cases)('%s with %s → AUTHENTICATION_FAILURE 401', async (ep, _name, headers) => {
    const res = await refused(() => callEndpoint(server, ep, fixtureTarget(fx), { token: null, headers: headers() }));
    expectError(res, 401, 'AUTHENTICATION_FAILURE', MSG.AUTHENTICATION_FAILURE, {});
  });

  it('the scheme name matches case-insensitively', async () => {
    const res = await callEndpoint(server, 'photo.download', fixtureTarget(fx), {
      token: null,
      headers: { authorization: `ZOHO-OAUTHTOKEN ${server.devToken}` },
    });
    expect(res.status).toBe(200);
    expect(res.body.equals(fx.photo)).toBe(true);
  });

  describe('INVALID_TOKEN', () => {
    let expired: string;
    let revoked: string;
    const unknown = `1000.${'0'.repeat(32)}.${'f'.repeat(32)}`;

    beforeAll(async () => {
      const user = await server.createUser();
      expired = (await issueToken(server, server.orgId, user.id, { expiresIn: 1 })).token;
      // Presented while (probably) still valid, so that a cached principal must not outlive the expiry. The answer
      // is not asserted: how long issuing took is not this test's business.
      await callEndpoint(server, 'photo.download', fixtureTarget(fx), { token: expired });
      const r = await issueToken(server, server.orgId, user.id);
      revoked = r.token;
      // Used (and cached) before it is revoked: revocation must win over the cache.
      const ok = await callEndpoint(server, 'photo.download', fixtureTarget(fx), { token: revoked });
      expect(ok.status).toBe(200);
      await server.admin('DELETE', `/orgs/${server.orgId}/tokens/${r.id}`);
      // The expired token lives 1 s; wait until it is certainly past.
      await sleep(1200);
    });

    const kinds = ['unknown', 'expired', 'revoked', 'not in Zoho format'] as const;
    const cases2 = ENDPOINTS.flatMap((ep) => kinds.map((k) => [ep, k] as const));
    it.each(cases2)('%s with a %s token → INVALID_TOKEN 401', async (ep, kind) => {
      const token = { unknown, expired, revoked, 'not in Zoho format': 'some-random-value' }[kind];
      const res = await refused(() => callEndpoint(server, ep, fixtureTarget(fx), { token }));
      expectError(res, 401, 'INVALID_TOKEN', MSG.INVALID_TOKEN, {});
    });
  });
});

describe(`errors: INVALID_URL_PATTERN (${BACKEND})`, () => {
  const photoBody = () => filePart(png(2, 2), 'p.png', 'image/png');
  const cases: Array<[string, string, (id: string, att: string) => string]> = [
    ['GET', 'photos instead of photo', (id) => `/crm/v8/Leads/${id}/photos`],
    ['POST', 'photos instead of photo', (id) => `/crm/v8/Leads/${id}/photos`],
    ['DELETE', 'photos instead of photo', (id) => `/crm/v8/Leads/${id}/photos`],
    ['GET', 'unknown version v99', (id) => `/crm/v99/Leads/${id}/photo`],
    ['POST', 'unknown version v99', (id) => `/crm/v99/Leads/${id}/photo`],
    ['DELETE', 'unknown version v99', (id) => `/crm/v99/Leads/${id}/photo`],
    ['GET', 'unknown version v1', (id) => `/crm/v1/Leads/${id}/photo`],
    ['GET', 'no version', (id) => `/crm/Leads/${id}/photo`],
    ['GET', 'a segment after photo', (id) => `/crm/v8/Leads/${id}/photo/x`],
    ['POST', 'unknown version on Attachments', (id) => `/crm/v99/Leads/${id}/Attachments`],
    ['POST', 'Attachment (singular)', (id) => `/crm/v8/Leads/${id}/Attachment`],
    ['DELETE', 'unknown version on an attachment', (id, a) => `/crm/v9/Leads/${id}/Attachments/${a}`],
    ['DELETE', 'a segment after the attachment id', (id, a) => `/crm/v8/Leads/${id}/Attachments/${a}/x`],
    ['POST', 'a segment after the attachment id', (id, a) => `/crm/v8/Leads/${id}/Attachments/${a}/x`],
    ['DELETE', 'an empty segment', (id) => `/crm/v8/Leads//${id}/photo`],
  ];

  it.each(cases)('%s %s → 404', async (method, _name, path) => {
    const body = method === 'POST' ? photoBody() : undefined;
    const res = await refused(() =>
      server.api(method, path(fx.recordId, fx.attachmentId), {
        ...(body ? { headers: { 'content-type': body.contentType }, body: body.body } : {}),
      }),
    );
    expectError(res, 404, 'INVALID_URL_PATTERN', MSG.INVALID_URL_PATTERN, {});
  });
});

describe(`errors: INVALID_REQUEST_METHOD (${BACKEND})`, () => {
  const cases: Array<[string, string, 'photo' | 'attachments' | 'attachment']> = [
    ['PUT', 'photo', 'photo'],
    ['PATCH', 'photo', 'photo'],
    ['PUT', 'Attachments', 'attachments'],
    ['PATCH', 'Attachments', 'attachments'],
    ['PUT', 'Attachments/{id}', 'attachment'],
    ['PATCH', 'Attachments/{id}', 'attachment'],
    ['POST', 'Attachments/{id}', 'attachment'],
    ['OPTIONS', 'Attachments/{id}', 'attachment'],
  ];

  it.each(cases)('%s on %s → 400, with a body that is never read', async (method, _name, kind) => {
    const path =
      kind === 'photo'
        ? `/crm/v8/Leads/${fx.recordId}/photo`
        : kind === 'attachments'
          ? `/crm/v8/Leads/${fx.recordId}/Attachments`
          : `/crm/v8/Leads/${fx.recordId}/Attachments/${fx.attachmentId}`;
    const body = method === 'GET' || method === 'DELETE' ? undefined : filePart(png(4, 4), 'new.png', 'image/png');
    const res = await refused(() =>
      server.api(method, path, body ? { headers: { 'content-type': body.contentType }, body: body.body } : {}),
    );
    expectError(res, 400, 'INVALID_REQUEST_METHOD', MSG.INVALID_REQUEST_METHOD, {});
  });
});

describe(`errors: INVALID_MODULE (${BACKEND})`, () => {
  const modules: Array<[string, string, Record<string, unknown>]> = [
    ['Leadz', MSG.INVALID_MODULE, { resource_path_index: 0 }],
    ['Foo_Bar', MSG.INVALID_MODULE, { resource_path_index: 0 }],
    ['Documents', MSG.MODULE_NOT_SUPPORTED, {}],
    ['Projects', MSG.MODULE_NOT_SUPPORTED, {}],
    ['documents', MSG.MODULE_NOT_SUPPORTED, {}],
  ];
  const cases = ENDPOINTS.flatMap((ep) => modules.map(([m, msg, details]) => [ep, m, msg, details] as const));

  it.each(cases)('%s on module %s → 400 %s', async (ep, module, message, details) => {
    const res = await refused(() => callEndpoint(server, ep, { ...fixtureTarget(fx), module }));
    expectError(res, 400, 'INVALID_MODULE', message, details);
  });

  it.each(['photo.download', 'photo.upload', 'photo.delete'] as const)(
    '%s on a standard module outside the photo list (Tasks) → not supported',
    async (ep) => {
      const task = await server.createRecord('Tasks', server.devToken, { Subject: 'call back' });
      const res = await refused(() => callEndpoint(server, ep, { module: 'Tasks', recordId: task }));
      expectError(res, 400, 'INVALID_MODULE', MSG.MODULE_NOT_SUPPORTED, {});
    },
  );
});

describe(`errors: OAUTH_SCOPE_MISMATCH (${BACKEND})`, () => {
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    // The org's administrator, so that only the scope can be the reason for a refusal.
    for (const scopes of ['ZohoCRM.modules.contacts.ALL', 'ZohoCRM.modules.leads.ALL', 'ZohoCRM.settings.ALL', 'ZohoCRM.modules.attachments.ALL']) {
      tokens[scopes] = (await issueToken(server, server.orgId, server.adminUserId, { scopes })).token;
    }
  });

  const cases: Array<[Endpoint, string]> = [
    ...ENDPOINTS.map((ep) => [ep, 'ZohoCRM.modules.contacts.ALL'] as [Endpoint, string]),
    ...ENDPOINTS.map((ep) => [ep, 'ZohoCRM.settings.ALL'] as [Endpoint, string]),
    ...ENDPOINTS.map((ep) => [ep, 'ZohoCRM.modules.attachments.ALL'] as [Endpoint, string]),
    // Module scope without the attachments scope.
    ['attachment.upload', 'ZohoCRM.modules.leads.ALL'],
    ['attachment.delete', 'ZohoCRM.modules.leads.ALL'],
  ];

  it.each(cases)('%s with only %s → 401', async (ep, scopes) => {
    const res = await refused(() => callEndpoint(server, ep, fixtureTarget(fx), { token: tokens[scopes]! }));
    expectError(res, 401, 'OAUTH_SCOPE_MISMATCH', MSG.OAUTH_SCOPE_MISMATCH, {});
  });

  it('the same module-only token is enough for the photo endpoints', async () => {
    const res = await callEndpoint(server, 'photo.download', fixtureTarget(fx), { token: tokens['ZohoCRM.modules.leads.ALL']! });
    expect(res.status).toBe(200);
  });
});

describe(`errors: NO_PERMISSION (${BACKEND})`, () => {
  let noView: string;
  let noEdit: string;

  beforeAll(async () => {
    noView = (await server.createUser({ permissions: { '*': { view: false, create: true, edit: true, delete: true } } })).token;
    noEdit = (await server.createUser({ permissions: { '*': { view: true, create: true, edit: false, delete: true } } })).token;
  });

  it.each(ENDPOINTS)('%s without the needed permission → 403 with the endpoint message and permissions', async (ep) => {
    const token = PERMISSION[ep] === 'view' ? noView : noEdit;
    const res = await refused(() => callEndpoint(server, ep, fixtureTarget(fx), { token }));
    expectError(res, 403, 'NO_PERMISSION', NO_PERMISSION_MESSAGE[ep], { permissions: [`Leads.${PERMISSION[ep]}`] });
  });

  it('create and delete permissions do not stand in for edit', async () => {
    for (const ep of WRITE_ENDPOINTS) {
      const res = await refused(() => callEndpoint(server, ep, fixtureTarget(fx), { token: noEdit }));
      expectError(res, 403, 'NO_PERMISSION', NO_PERMISSION_MESSAGE[ep], { permissions: ['Leads.edit'] });
    }
    const ok = await callEndpoint(server, 'photo.download', fixtureTarget(fx), { token: noEdit });
    expect(ok.status).toBe(200);
  });
});

describe(`errors: INTERNAL_ERROR (${BACKEND})`, () => {
  type Patchable = Record<string, unknown>;
  const faults: Array<[Endpoint, 'store' | 'blobs', string]> = [
    // A download reads the record and its photo in one lookup.
    ['photo.download', 'store', 'records.getWithPhoto'],
    ['photo.download', 'blobs', 'open'],
    ['photo.upload', 'blobs', 'put'],
    ['photo.upload', 'store', 'transaction'],
    ['photo.delete', 'store', 'transaction'],
    ['attachment.upload', 'blobs', 'put'],
    ['attachment.upload', 'store', 'transaction'],
    ['attachment.delete', 'store', 'transaction'],
    ...ENDPOINTS.filter((ep) => ep !== 'photo.download').map((ep) => [ep, 'store', 'records.get'] as [Endpoint, 'store', string]),
  ];

  /** `method` may name a port's method (`records.get`): the store's ports are objects of their own. */
  async function withFault<T>(target: 'store' | 'blobs', path: string, fn: () => Promise<T>): Promise<T> {
    const names = path.split('.');
    const method = names.pop()!;
    const obj = names.reduce((o, n) => o[n] as Patchable, server.runtime[target] as unknown as Patchable);
    const own = Object.prototype.hasOwnProperty.call(obj, method);
    const orig = obj[method];
    obj[method] = async () => {
      throw new Error('disk on fire at /secret/path');
    };
    try {
      return await fn();
    } finally {
      if (own) obj[method] = orig;
      else delete obj[method];
    }
  }

  it.each(faults)('%s with %s.%s failing → 500 Internal Server Error, cause never sent', async (ep, target, method) => {
    const before = await server.blobFiles();
    const res = await withFault(target, method, () => callEndpoint(server, ep, fixtureTarget(fx)));
    expectZohoError(res, { status: 500, code: 'INTERNAL_ERROR', message: MSG.INTERNAL_ERROR, details: {} });
    expect(res.text).not.toContain('disk on fire');
    expect(res.text).not.toContain('/secret');
    expect(res.text).not.toMatch(/\bat \S+ \(|\.ts:\d+|\.js:\d+/);
    // The server keeps serving, and the failed request left nothing behind.
    await expectNothingChanged(server, before, [fx]);
  });
});

describe(`errors: AUTHORIZATION_FAILED (${BACKEND})`, () => {
  let shareFx: Fixture;
  let other: string;

  beforeAll(async () => {
    // An org of its own, so that making Leads private there cannot affect the other tests.
    const org = await server.createOrg();
    shareFx = await makeFixture(server, { org: org.id, token: org.adminToken });
    other = (await server.createUser({ org: org.id })).token;
    await setSharing(server, org.id, 'Leads', 'private');
  });

  it.each(ENDPOINTS)('%s on someone else’s record in a private module → 400 with the endpoint message', async (ep) => {
    const res = await refused(() => callEndpoint(server, ep, fixtureTarget(shareFx), { token: other }), [shareFx]);
    expectError(res, 400, 'AUTHORIZATION_FAILED', AUTHORIZATION_FAILED_MESSAGE[ep], {});
  });
});

describe(`errors: RECORD_LOCKED and NOT_APPROVED (${BACKEND})`, () => {
  const NOT_APPROVED_IMAGE = 'cannot get the record image that is not approved yet';
  const cases: Array<[Endpoint, string, string, string, (id: string) => Record<string, unknown>]> = [
    ['photo.download', 'zia_vision_processing', 'RECORD_LOCKED', NOT_APPROVED_IMAGE, (id) => ({ id, action: 'zia_vision_processing' })],
    ['photo.upload', 'zia_vision_processing', 'RECORD_LOCKED', 'You cannot perform this operation as the record is locked.', (id) => ({ id, action: 'zia_vision_processing' })],
    ['photo.delete', 'zia_vision_processing', 'RECORD_LOCKED', 'You cannot perform this operation as the record is locked.', (id) => ({ id, action: 'zia_vision_processing' })],
    ['photo.download', 'awaiting_approval', 'NOT_APPROVED', NOT_APPROVED_IMAGE, (id) => ({ id })],
    ['photo.download', 'photo_rejected', 'NOT_APPROVED', NOT_APPROVED_IMAGE, (id) => ({ id, action: 'zia_vision_rejected' })],
  ];

  it.each(cases)('%s in state %s → 400 %s', async (ep, state, code, message, details) => {
    const before = await server.blobFiles();
    await server.setState(fx.recordId, state);
    let res: HttpResponse;
    try {
      res = await callEndpoint(server, ep, fixtureTarget(fx));
    } finally {
      await server.setState(fx.recordId, 'normal');
    }
    expectError(res, 400, code, message, details(fx.recordId));
    await expectNothingChanged(server, before, [fx]);
  });
});

describe(`errors: INVALID_DATA for a bad record id (${BACKEND})`, () => {
  let contactId: string;
  beforeAll(async () => {
    contactId = await server.createRecord('Contacts', server.devToken, { Last_Name: 'Elsewhere' });
  });

  const ids: Array<[string, () => string]> = [
    ['unknown', () => NOWHERE_ID],
    ['malformed (abc)', () => 'abc'],
    ['25 digits', () => '1234567890123456789012345'],
    ['20 digits', () => '12345678901234567890'],
    ['19 digits above 2^63-1', () => '9223372036854775808'],
    ['negative', () => '-1'],
    ['with a decimal point', () => '1.5'],
    ['of a record of another module (Contacts)', () => contactId],
  ];
  const cases = ENDPOINTS.flatMap((ep) => ids.map(([name, id]) => [ep, name, id] as const));

  it.each(cases)('%s with a record id that is %s → 400 with the endpoint message and details', async (ep, _name, id) => {
    const res = await refused(() => callEndpoint(server, ep, { module: 'Leads', recordId: id(), attachmentId: fx.attachmentId }));
    expectError(res, 400, 'INVALID_DATA', BAD_RECORD_ID[ep].message, BAD_RECORD_ID[ep].details);
  });
});

describe(`errors: INVALID_DATA for a bad attachment id (${BACKEND})`, () => {
  let otherFx: Fixture;
  beforeAll(async () => {
    otherFx = await makeFixture(server);
  });

  const ids: Array<[string, () => string]> = [
    ['unknown', () => NOWHERE_ID],
    ['malformed (abc)', () => 'abc'],
    ['25 digits', () => '1234567890123456789012345'],
    ['19 digits above 2^63-1', () => '9223372036854775808'],
    ['of another record', () => otherFx.attachmentId],
    ['the record id itself', () => fx.recordId],
  ];

  it.each(ids)('attachment.delete with an attachment id that is %s → 400 {id, resource_path_index: 3}', async (_name, id) => {
    const attId = id();
    const res = await refused(
      () => callEndpoint(server, 'attachment.delete', { module: 'Leads', recordId: fx.recordId, attachmentId: attId }),
      [fx, otherFx],
    );
    expectError(res, 400, 'INVALID_DATA', 'the id given seems to be invalid', { id: attId, resource_path_index: 3 });
  });
});

describe(`errors: uploads (${BACKEND})`, () => {
  it('photo.upload of more than 10 megapixels (4000×3000 header) → 415', async () => {
    const res = await refused(() =>
      callEndpoint(server, 'photo.upload', fixtureTarget(fx), { upload: filePart(pngHeaderOnly(4000, 3000), 'big.png', 'image/png') }),
    );
    expectError(res, 415, 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE', MSG.FILE_SIZE, {});
  });

  it('photo.upload of 10 MiB + 1 byte → 415', async () => {
    const big = Buffer.concat([png(2, 2), Buffer.alloc(10 * 1024 * 1024 + 1 - png(2, 2).length)]);
    const res = await refused(() => callEndpoint(server, 'photo.upload', fixtureTarget(fx), { upload: filePart(big, 'big.png', 'image/png') }));
    expectError(res, 415, 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE', MSG.FILE_SIZE, {});
  });

  const bodies: Array<[string, { contentType: string; body: string } | null]> = [
    ['a JSON body', { contentType: 'application/json', body: JSON.stringify({ file: 'x' }) }],
    ['a text body', { contentType: 'text/plain', body: 'hello' }],
    ['a urlencoded body', { contentType: 'application/x-www-form-urlencoded', body: 'file=x' }],
    ['no body at all', null],
  ];
  const cases = (['photo.upload', 'attachment.upload'] as const).flatMap((ep) => bodies.map(([n, b]) => [ep, n, b] as const));

  it.each(cases)('%s with %s → INVALID_REQUEST {expected_type}', async (ep, _name, upload) => {
    const res = await refused(() => callEndpoint(server, ep, fixtureTarget(fx), { upload }));
    expectError(res, 400, 'INVALID_REQUEST', MSG.INVALID_REQUEST, { expected_type: 'Multipart Form Request' });
  });
});

describe(`errors: order of checks (${BACKEND})`, () => {
  it('authentication before URL shape; URL before method; method before module', async () => {
    expectError(
      await server.api('GET', `/crm/v8/Leads/${fx.recordId}/photos`, { token: null }),
      401,
      'AUTHENTICATION_FAILURE',
      MSG.AUTHENTICATION_FAILURE,
    );
    expectError(
      await server.api('GET', `/crm/v99/Leads/${fx.recordId}/photo`, { token: '1000.nope' }),
      401,
      'INVALID_TOKEN',
      MSG.INVALID_TOKEN,
    );
    expectError(await server.api('PUT', `/crm/v99/Leads/${fx.recordId}/photo`), 404, 'INVALID_URL_PATTERN', MSG.INVALID_URL_PATTERN);
    expectError(
      await server.api('PUT', `/crm/v8/Leadz/${fx.recordId}/photo`),
      400,
      'INVALID_REQUEST_METHOD',
      MSG.INVALID_REQUEST_METHOD,
    );
  });

  it('module before scope, version support before scope, scope before permission, permission before record id', async () => {
    const contacts = (await issueToken(server, server.orgId, server.adminUserId, { scopes: 'ZohoCRM.modules.contacts.ALL' })).token;
    expectError(
      await callEndpoint(server, 'photo.download', { module: 'Leadz', recordId: fx.recordId }, { token: contacts }),
      400,
      'INVALID_MODULE',
      MSG.INVALID_MODULE,
      { resource_path_index: 0 },
    );
    const deal = await server.createRecord('Deals', server.devToken, { Deal_Name: 'x' });
    expectError(
      await callEndpoint(server, 'photo.download', { module: 'Deals', recordId: deal, version: 'v4' }, { token: contacts }),
      400,
      'INVALID_MODULE',
      MSG.MODULE_NOT_SUPPORTED,
    );
    const nobody = await server.createUser({
      scopes: 'ZohoCRM.modules.contacts.ALL',
      permissions: { '*': { view: false, create: false, edit: false, delete: false } },
    });
    expectError(await callEndpoint(server, 'photo.download', fixtureTarget(fx), { token: nobody.token }), 401, 'OAUTH_SCOPE_MISMATCH', MSG.OAUTH_SCOPE_MISMATCH);
    const noView = await server.createUser({ permissions: { '*': { view: false, create: true, edit: true, delete: true } } });
    expectError(
      await callEndpoint(server, 'photo.download', { module: 'Leads', recordId: 'abc' }, { token: noView.token }),
      403,
      'NO_PERMISSION',
      NO_PERMISSION_MESSAGE['photo.download'],
      { permissions: ['Leads.view'] },
    );
  });

  it('record id before sharing, sharing before state, state before parameters and body', async () => {
    const org = await server.createOrg();
    const privFx = await makeFixture(server, { org: org.id, token: org.adminToken });
    const other = (await server.createUser({ org: org.id })).token;
    await setSharing(server, org.id, 'Leads', 'private');
    expectError(
      await callEndpoint(server, 'photo.upload', { module: 'Leads', recordId: NOWHERE_ID }, { token: other }),
      400,
      'INVALID_DATA',
      BAD_RECORD_ID['photo.upload'].message,
      BAD_RECORD_ID['photo.upload'].details,
    );
    await server.setState(privFx.recordId, 'zia_vision_processing', org.id);
    expectError(
      await callEndpoint(server, 'photo.upload', fixtureTarget(privFx), { token: other }),
      400,
      'AUTHORIZATION_FAILED',
      AUTHORIZATION_FAILED_MESSAGE['photo.upload'],
    );
    const locked = { id: privFx.recordId, action: 'zia_vision_processing' };
    const lockedMsg = 'You cannot perform this operation as the record is locked.';
    const before = await server.blobFiles();
    // Owner: the lock is reported, not the JSON body, the oversized image or the bad parameter.
    expectError(
      await callEndpoint(server, 'photo.upload', fixtureTarget(privFx), {
        token: org.adminToken,
        upload: { contentType: 'application/json', body: '{}' },
      }),
      400,
      'RECORD_LOCKED',
      lockedMsg,
      locked,
    );
    expectError(
      await callEndpoint(server, 'photo.upload', fixtureTarget(privFx), {
        token: org.adminToken,
        upload: filePart(pngHeaderOnly(4000, 3000), 'big.png', 'image/png'),
      }),
      400,
      'RECORD_LOCKED',
      lockedMsg,
      locked,
    );
    expectError(
      await callEndpoint(server, 'photo.upload', fixtureTarget(privFx), { token: org.adminToken, query: { restrict_triggers: 'nope' } }),
      400,
      'RECORD_LOCKED',
      lockedMsg,
      locked,
    );
    await server.setState(privFx.recordId, 'normal', org.id);
    await expectNothingChanged(server, before, [privFx]);
    // Back to normal, the parameter is the next thing checked.
    expectError(
      await callEndpoint(server, 'photo.upload', fixtureTarget(privFx), { token: org.adminToken, query: { restrict_triggers: 'nope' } }),
      400,
      'INVALID_DATA',
      'invalid data',
      { param_name: 'restrict_triggers', expected_value: 'workflow' },
    );
  });
});

describe(`errors: the fixture survives everything (${BACKEND})`, () => {
  it('its photo is the original and its attachment can still be deleted', async () => {
    await expectFixtureIntact(server, fx);
    const res = await callEndpoint(server, 'attachment.delete', fixtureTarget(fx));
    expectSuccess('attachment.delete', res);
    expect(res.json.data[0].details).toEqual({ id: fx.attachmentId });
  });
});
