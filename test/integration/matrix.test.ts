/**
 * Two matrices from docs/compatibility.md, each checked against a small table written here (not derived from
 * src/):
 *  - module × endpoint × API version ("Modules per endpoint and version"): supported → success, otherwise
 *    INVALID_MODULE "The given module is not supported in API";
 *  - OAuth scope × operation ("Scopes"): allowed → success, otherwise OAUTH_SCOPE_MISMATCH.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENDPOINTS,
  type Endpoint,
  MSG,
  NOWHERE_ID,
  callEndpoint,
  expectError,
  expectSuccess,
  issueToken,
  makeFixture,
} from '../helpers/endpoint-matrix.js';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer } from '../helpers/server.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const VERSIONS = ['v2', 'v2.1', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8'] as const;
type Version = (typeof VERSIONS)[number];
const CUSTOM = 'CustomModule1';

/** First version of each family per module (docs "Modules per endpoint and version"); absent = never. */
const SINCE: Record<string, { photo?: Version; attachments?: Version; records?: Version }> = {
  Leads: { photo: 'v2', attachments: 'v2', records: 'v2' },
  Contacts: { photo: 'v2', attachments: 'v2', records: 'v2' },
  Accounts: { photo: 'v2', attachments: 'v2', records: 'v2' },
  Deals: { photo: 'v5', attachments: 'v2', records: 'v2' },
  Campaigns: { attachments: 'v2', records: 'v2' },
  Tasks: { attachments: 'v2', records: 'v2' },
  Cases: { attachments: 'v2', records: 'v2' },
  Events: { attachments: 'v2', records: 'v2' },
  Calls: { attachments: 'v2.1', records: 'v2' },
  Solutions: { attachments: 'v2', records: 'v2' },
  Products: { photo: 'v2', attachments: 'v2', records: 'v2' },
  Vendors: { photo: 'v2', attachments: 'v2', records: 'v2' },
  Price_Books: { attachments: 'v2', records: 'v2' },
  Quotes: { attachments: 'v2', records: 'v2' },
  Sales_Orders: { attachments: 'v2', records: 'v2' },
  Purchase_Orders: { attachments: 'v2', records: 'v2' },
  Invoices: { attachments: 'v2', records: 'v2' },
  Appointments__s: { attachments: 'v3', records: 'v3' },
  Services__s: { attachments: 'v3', records: 'v3' },
  Notes: { attachments: 'v2', records: 'v2' },
  [CUSTOM]: { photo: 'v2', attachments: 'v2', records: 'v2' },
};
const STANDARD = Object.keys(SINCE).filter((m) => m !== CUSTOM);

function supported(since: Version | undefined, v: Version): boolean {
  return since !== undefined && VERSIONS.indexOf(v) >= VERSIONS.indexOf(since);
}

let server: TestServer;
/** One record per module (made once through the Records API, v8) and a Leads record for the unsupported module. */
const records: Record<string, string> = {};
const TINY = png(1, 1);

beforeAll(async () => {
  server = await TestServer.start();
  await server.admin('POST', `/orgs/${server.orgId}/modules`, { api_name: CUSTOM, singular: 'Custom', plural: 'Customs' });
  for (const m of Object.keys(SINCE)) records[m] = await server.createRecord(m, server.devToken, { Name: `${m} record`, Last_Name: m });
});
afterAll(() => server?.stop());

describe(`matrix: module × endpoint × version (${BACKEND})`, () => {
  const cases = [...Object.keys(SINCE), 'Documents', 'Leadz'].flatMap((m) => VERSIONS.map((v) => [m, v] as const));

  it.each(cases)('%s in %s', async (module, version) => {
    const since = SINCE[module];
    const recordId = records[module] ?? records['Leads']!;
    const target = { module, recordId, version };
    const refusal = (res: Awaited<ReturnType<typeof callEndpoint>>) => {
      if (since) expectError(res, 400, 'INVALID_MODULE', MSG.MODULE_NOT_SUPPORTED, {});
      else if (module === 'Documents') expectError(res, 400, 'INVALID_MODULE', MSG.MODULE_NOT_SUPPORTED, {});
      else expectError(res, 400, 'INVALID_MODULE', MSG.INVALID_MODULE, { resource_path_index: 0 });
    };

    // Photo family: upload, download (the same bytes), delete, then download answers 204.
    if (supported(since?.photo, version)) {
      expectSuccess('photo.upload', await callEndpoint(server, 'photo.upload', target, { upload: filePart(TINY, 't.png', 'image/png') }));
      const got = await callEndpoint(server, 'photo.download', target);
      expect(got.status, got.text).toBe(200);
      expect(got.body.equals(TINY)).toBe(true);
      expectSuccess('photo.delete', await callEndpoint(server, 'photo.delete', target));
      expect((await callEndpoint(server, 'photo.download', target)).status).toBe(204);
    } else {
      for (const ep of ['photo.upload', 'photo.download', 'photo.delete'] as const) refusal(await callEndpoint(server, ep, target));
    }

    // Attachments family: upload, then delete what was uploaded.
    if (supported(since?.attachments, version)) {
      const up = await callEndpoint(server, 'attachment.upload', target);
      expectSuccess('attachment.upload', up);
      const del = await callEndpoint(server, 'attachment.delete', { ...target, attachmentId: up.json.data[0].details.id });
      expectSuccess('attachment.delete', del);
    } else {
      refusal(await callEndpoint(server, 'attachment.upload', target));
      refusal(await callEndpoint(server, 'attachment.delete', { ...target, attachmentId: NOWHERE_ID }));
    }

    // Records API insert follows the same table.
    const ins = await server.api('POST', `/crm/${version}/${module}`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: [{ Last_Name: 'matrix' }] }),
    });
    if (supported(since?.records, version)) expect(ins.status, ins.text).toBe(201);
    else refusal(ins);
  });

  it.each([
    ['leads', 'Leads'],
    ['LEADS', 'Leads'],
    ['deals', 'Deals'],
    ['custommodule1', CUSTOM],
    ['appointments__S', 'Appointments__s'],
  ])('module names are case-insensitive: %s works as %s', async (name, module) => {
    const target = { module: name, recordId: records[module]!, version: 'v8' };
    if (SINCE[module]!.photo) {
      expectSuccess('photo.upload', await callEndpoint(server, 'photo.upload', target, { upload: filePart(TINY, 't.png', 'image/png') }));
      expectSuccess('photo.delete', await callEndpoint(server, 'photo.delete', target));
    }
    const up = await callEndpoint(server, 'attachment.upload', target);
    expectSuccess('attachment.upload', up);
    expectSuccess('attachment.delete', await callEndpoint(server, 'attachment.delete', { ...target, attachmentId: up.json.data[0].details.id }));
  });

  it.each([
    ['PHOTO', 'photo/', 'ATTACHMENTS', 'attachments/'],
    ['Photo', 'PHOTO/', 'attachments', 'ATTACHMENTS/'],
  ])('path segments %s / %s / %s / %s: any case, trailing slash allowed', async (photoSeg, photoSlash, attSeg, attSlash) => {
    const base = `/crm/v8/Leads/${records['Leads']}`;
    const up = filePart(TINY, 't.png', 'image/png');
    expectSuccess('photo.upload', await server.api('POST', `${base}/${photoSeg}`, { headers: { 'content-type': up.contentType }, body: up.body }));
    const got = await server.api('GET', `${base}/${photoSlash}`);
    expect(got.status).toBe(200);
    expect(got.body.equals(TINY)).toBe(true);
    expectSuccess('photo.delete', await server.api('DELETE', `${base}/${photoSlash}`));
    const file = filePart('x', 'x.txt', 'text/plain');
    const att = await server.api('POST', `${base}/${attSlash}`, { headers: { 'content-type': file.contentType }, body: file.body });
    expectSuccess('attachment.upload', att);
    expectSuccess('attachment.delete', await server.api('DELETE', `${base}/${attSeg}/${att.json.data[0].details.id}/`));
  });

  it('Deals photo uploaded in v5 is readable and removable in v8 but not visible through v4', async () => {
    const deal = records['Deals']!;
    expectSuccess('photo.upload', await callEndpoint(server, 'photo.upload', { module: 'Deals', recordId: deal, version: 'v5' }, { upload: filePart(TINY, 'd.png', 'image/png') }));
    expectError(await callEndpoint(server, 'photo.download', { module: 'Deals', recordId: deal, version: 'v4' }), 400, 'INVALID_MODULE', MSG.MODULE_NOT_SUPPORTED, {});
    const got = await callEndpoint(server, 'photo.download', { module: 'Deals', recordId: deal, version: 'v8' });
    expect(got.status).toBe(200);
    expect(got.body.equals(TINY)).toBe(true);
    expectSuccess('photo.delete', await callEndpoint(server, 'photo.delete', { module: 'Deals', recordId: deal, version: 'v7' }));
  });

  it('covers all 20 standard modules', () => {
    expect(STANDARD).toHaveLength(20);
  });
});

/**
 * Scope table: for each scope list, the operations it allows (docs "Scopes"): photo download needs READ, upload
 * WRITE/CREATE, delete DELETE; attachment upload WRITE/CREATE plus attachments.{ALL,WRITE,CREATE}; attachment
 * delete DELETE plus attachments.{ALL,DELETE}; ALL grants every op; ZohoCRM.modules.ALL includes attachments;
 * UPDATE grants nothing here.
 */
const D = 'photo.download';
const U = 'photo.upload';
const X = 'photo.delete';
const AU = 'attachment.upload';
const AX = 'attachment.delete';
const PHOTO_ALL: Endpoint[] = [D, U, X];

const LEADS_ALL = 'ZohoCRM.modules.leads.ALL';
const SCOPE_TABLE: Array<[string, string, Endpoint[]]> = [
  // [scopes, module, allowed]
  ['ZohoCRM.modules.ALL', 'Leads', [D, U, X, AU, AX]],
  ['ZohoCRM.modules.ALL', CUSTOM, [D, U, X, AU, AX]],
  [LEADS_ALL, 'Leads', PHOTO_ALL],
  ['ZohoCRM.modules.leads.READ', 'Leads', [D]],
  ['ZohoCRM.modules.leads.CREATE', 'Leads', [U]],
  ['ZohoCRM.modules.leads.WRITE', 'Leads', [U]],
  ['ZohoCRM.modules.leads.UPDATE', 'Leads', []],
  ['ZohoCRM.modules.leads.DELETE', 'Leads', [X]],
  ['ZohoCRM.modules.Leads.read', 'Leads', [D]],
  ['zohocrm.MODULES.LEADS.all', 'Leads', PHOTO_ALL],
  ['ZohoCRM.modules.contacts.ALL', 'Leads', []],
  ['ZohoCRM.modules.contacts.ALL,ZohoCRM.modules.attachments.ALL', 'Leads', []],
  ['ZohoCRM.modules.attachments.ALL', 'Leads', []],
  ['ZohoCRM.settings.ALL', 'Leads', []],
  [`${LEADS_ALL},ZohoCRM.modules.attachments.ALL`, 'Leads', [D, U, X, AU, AX]],
  [`${LEADS_ALL},ZohoCRM.modules.attachments.READ`, 'Leads', PHOTO_ALL],
  [`${LEADS_ALL},ZohoCRM.modules.attachments.CREATE`, 'Leads', [D, U, X, AU]],
  [`${LEADS_ALL},ZohoCRM.modules.attachments.WRITE`, 'Leads', [D, U, X, AU]],
  [`${LEADS_ALL},ZohoCRM.modules.attachments.UPDATE`, 'Leads', PHOTO_ALL],
  [`${LEADS_ALL},ZohoCRM.modules.attachments.DELETE`, 'Leads', [D, U, X, AX]],
  ['ZohoCRM.modules.leads.READ,ZohoCRM.modules.attachments.ALL', 'Leads', [D]],
  ['ZohoCRM.modules.leads.CREATE,ZohoCRM.modules.attachments.CREATE', 'Leads', [U, AU]],
  ['ZohoCRM.modules.leads.WRITE,ZohoCRM.modules.attachments.CREATE', 'Leads', [U, AU]],
  ['ZohoCRM.modules.leads.DELETE,ZohoCRM.modules.attachments.DELETE', 'Leads', [X, AX]],
  ['ZohoCRM.modules.leads.UPDATE,ZohoCRM.modules.attachments.ALL', 'Leads', []],
  ['ZohoCRM.modules.leads.WRITE,ZohoCRM.modules.leads.DELETE', 'Leads', [U, X]],
  ['ZohoCRM.modules.leads.READ ZohoCRM.modules.leads.DELETE', 'Leads', [D, X]],
  [`${LEADS_ALL} ZohoCRM.modules.attachments.ALL`, 'Leads', [D, U, X, AU, AX]],
  [`${LEADS_ALL}, ZohoCRM.modules.attachments.DELETE`, 'Leads', [D, U, X, AX]],
  ['ZohoCRM.modules.custom.ALL', CUSTOM, PHOTO_ALL],
  ['ZohoCRM.modules.custom.ALL,ZohoCRM.modules.attachments.ALL', CUSTOM, [D, U, X, AU, AX]],
  ['ZohoCRM.modules.custom.READ', CUSTOM, [D]],
  [`ZohoCRM.modules.${CUSTOM.toLowerCase()}.ALL`, CUSTOM, PHOTO_ALL],
  ['ZohoCRM.modules.custom.ALL', 'Leads', []],
  [LEADS_ALL, CUSTOM, []],
];

describe(`matrix: scope × operation (${BACKEND})`, () => {
  it.each(SCOPE_TABLE)('%s on %s', async (scopes, module, allowed) => {
    // The org's administrator, so that only the scope decides.
    const { token } = await issueToken(server, server.orgId, server.adminUserId, { scopes });
    const fx = await makeFixture(server, { module });
    const target = { module, recordId: fx.recordId, attachmentId: fx.attachmentId };
    const outcome: Record<string, string> = {};
    const expected: Record<string, string> = {};
    for (const ep of [D, U, X, AU, AX] as const) {
      const res = await callEndpoint(server, ep, target, { token });
      expected[ep] = allowed.includes(ep) ? 'allowed' : 'OAUTH_SCOPE_MISMATCH';
      if (res.status < 300) {
        expectSuccess(ep, res);
        outcome[ep] = 'allowed';
      } else {
        expectError(res, 401, 'OAUTH_SCOPE_MISMATCH', MSG.OAUTH_SCOPE_MISMATCH, {});
        outcome[ep] = 'OAUTH_SCOPE_MISMATCH';
      }
    }
    expect(outcome).toEqual(expected);
    // What was refused changed nothing.
    if (!allowed.includes(U) && !allowed.includes(X)) {
      const got = await callEndpoint(server, D, target);
      expect(got.status).toBe(200);
      expect(got.body.equals(fx.photo)).toBe(true);
    }
    const att = await server.runtime.store.attachments.get(server.orgId, fx.recordId, fx.attachmentId);
    expect(att !== undefined).toBe(!allowed.includes(AX));
  });

  // Records API rows of the same docs table: insert WRITE/CREATE, get READ, delete WRITE/DELETE.
  const RECORD_SCOPES: Array<[string, Array<'insert' | 'get' | 'delete'>]> = [
    ['ZohoCRM.modules.ALL', ['insert', 'get', 'delete']],
    [LEADS_ALL, ['insert', 'get', 'delete']],
    ['ZohoCRM.modules.leads.READ', ['get']],
    ['ZohoCRM.modules.leads.CREATE', ['insert']],
    ['ZohoCRM.modules.leads.WRITE', ['insert', 'delete']],
    ['ZohoCRM.modules.leads.UPDATE', []],
    ['ZohoCRM.modules.leads.DELETE', ['delete']],
    ['ZohoCRM.modules.contacts.ALL', []],
    ['ZohoCRM.modules.attachments.ALL', []],
  ];

  it.each(RECORD_SCOPES)('Records API with %s', async (scopes, allowed) => {
    const { token } = await issueToken(server, server.orgId, server.adminUserId, { scopes });
    const id = await server.createRecord('Leads');
    const outcome: Record<string, boolean> = {};
    const ins = await server.api('POST', '/crm/v8/Leads', {
      token,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: [{ Last_Name: 'scoped' }] }),
    });
    const get = await server.api('GET', `/crm/v8/Leads/${id}`, { token });
    const del = await server.api('DELETE', `/crm/v8/Leads/${id}`, { token });
    for (const [name, res, okStatus] of [['insert', ins, 201], ['get', get, 200], ['delete', del, 200]] as const) {
      if (res.status === okStatus) outcome[name] = true;
      else {
        expectError(res, 401, 'OAUTH_SCOPE_MISMATCH', MSG.OAUTH_SCOPE_MISMATCH, {});
        outcome[name] = false;
      }
    }
    expect(outcome).toEqual({ insert: allowed.includes('insert'), get: allowed.includes('get'), delete: allowed.includes('delete') });
  });

  it('table covers every endpoint', () => {
    expect(new Set(SCOPE_TABLE.flatMap(([, , a]) => a))).toEqual(new Set(ENDPOINTS));
  });
});
