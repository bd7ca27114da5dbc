/**
 * DELETE …/Attachments?ids=a,b,… over real HTTP (docs/compatibility.md "Bulk delete"): one item per id in the
 * order given, SUCCESS "record deleted" or that id's own INVALID_DATA (malformed, unknown, another record's,
 * another org's), bad ids not stopping the others, blob files removed, HTTP 200 when any succeeded else 400,
 * REQUIRED_PARAM_MISSING without ids, LIMIT_EXCEEDED beyond 100, duplicates, and the DELETE scopes (module and
 * attachments both).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer } from '../helpers/server.js';
import { expectBlobs } from '../helpers/uploads.js';
import { expectZohoError } from '../helpers/zoho.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const UNKNOWN = '1234567890123456789';

let server: TestServer;

const ok = (id: string) => ({ code: 'SUCCESS', details: { id }, message: 'record deleted', status: 'success' });
const bad = (id: string) => ({ code: 'INVALID_DATA', details: { id }, message: 'the id given seems to be invalid', status: 'error' });
const RELATED_ID = {
  status: 400,
  code: 'INVALID_DATA',
  message: 'the related id given seems to be invalid',
  details: { related_status: 'invalid', resource_path_index: 1 },
};
const SCOPE_MISMATCH = { status: 401, code: 'OAUTH_SCOPE_MISMATCH', message: 'invalid oauth scope to access this URL', details: {} };

function attachmentsPath(record: string, module = 'Leads', version = 'v8'): string {
  return `/crm/${version}/${module}/${record}/Attachments`;
}

interface Uploaded {
  id: string;
  /** The blob key (`$file_id`), null for links. */
  blob: string | null;
}

async function uploadFile(record: string, name = 'f.txt', token = server.devToken, module = 'Leads'): Promise<Uploaded> {
  const b = filePart(Buffer.from(`content of ${name} ${Math.random()}`), name, 'text/plain');
  const res = await server.api('POST', attachmentsPath(record, module), { token, headers: { 'content-type': b.contentType }, body: b.body });
  expect(res.status, res.text).toBe(200);
  const id = res.json.data[0].details.id as string;
  return { id, blob: await blobOf(record, id, token, module) };
}

async function uploadLink(record: string): Promise<Uploaded> {
  const res = await server.api('POST', attachmentsPath(record), { query: { attachmentUrl: 'https://example.com/doc' } });
  expect(res.status, res.text).toBe(200);
  return { id: res.json.data[0].details.id, blob: null };
}

async function listIds(record: string, token = server.devToken, module = 'Leads'): Promise<string[]> {
  const res = await server.api('GET', attachmentsPath(record, module), { token, query: { fields: 'File_Name' } });
  if (res.status === 204) return [];
  expect(res.status, res.text).toBe(200);
  return (res.json.data as Array<{ id: string }>).map((a) => a.id).sort();
}

async function blobOf(record: string, id: string, token = server.devToken, module = 'Leads'): Promise<string | null> {
  const res = await server.api('GET', attachmentsPath(record, module), { token, query: { fields: '$file_id', ids: id } });
  expect(res.status, res.text).toBe(200);
  return res.json.data[0].$file_id;
}

function bulkDelete(record: string, ids: string | undefined, opts: { token?: string; module?: string; version?: string } = {}): Promise<HttpResponse> {
  return server.api('DELETE', attachmentsPath(record, opts.module, opts.version), {
    ...(ids !== undefined ? { query: { ids } } : {}),
    ...(opts.token ? { token: opts.token } : {}),
  });
}

function expectItems(res: HttpResponse, status: number, items: unknown[]): void {
  expect({ status: res.status, body: res.json }, res.text).toEqual({ status, body: { data: items } });
  expect(res.headers['content-type']).toBe('application/json;charset=UTF-8');
}

beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(() => server?.stop());

describe(`bulk delete (${BACKEND})`, () => {
  it('mixed good and bad ids: one item per id in order; bad ones do not stop the others; their blobs are removed', async () => {
    const record = await server.createRecord('Leads', server.devToken, { Last_Name: 'Mixed' });
    const otherRecord = await server.createRecord('Leads', server.devToken, { Last_Name: 'Other' });
    const a1 = await uploadFile(record, 'a1.txt');
    const a2 = await uploadFile(record, 'a2.txt');
    const a3 = await uploadFile(record, 'a3.txt');
    const link = await uploadLink(record);
    const b1 = await uploadFile(otherRecord, 'b1.txt');
    const org = await server.createOrg();
    const orgRecord = await server.createRecord('Leads', org.adminToken, { Last_Name: 'Foreign' });
    const o1 = await uploadFile(orgRecord, 'o1.txt', org.adminToken);
    const blobsBefore = await server.blobFiles();
    for (const u of [a1, a2, a3, b1, o1]) expect(blobsBefore).toContain(u.blob);

    const ids = [a1.id, 'abc', a2.id, UNKNOWN, b1.id, link.id, o1.id, '12345678901234567890'];
    const res = await bulkDelete(record, ids.join(','));
    expectItems(res, 200, [ok(a1.id), bad('abc'), ok(a2.id), bad(UNKNOWN), bad(b1.id), ok(link.id), bad(o1.id), bad('12345678901234567890')]);

    expect(await listIds(record)).toEqual([a3.id]);
    expect(await listIds(otherRecord)).toEqual([b1.id]);
    expect(await listIds(orgRecord, org.adminToken)).toEqual([o1.id]);
    await expectBlobs(server, blobsBefore.filter((k) => k !== a1.blob && k !== a2.blob));
    // The others still download, byte for byte from their blobs.
    const kept = await server.api('GET', `${attachmentsPath(otherRecord)}/${b1.id}`);
    expect(kept.status).toBe(200);
    const deleted = await server.api('GET', `${attachmentsPath(record)}/${a1.id}`);
    expectZohoError(deleted, { status: 400, code: 'INVALID_DATA', details: { id: a1.id, resource_path_index: 3 } });
  });

  it('spaces around ids and empty entries are tolerated', async () => {
    const record = await server.createRecord('Leads', server.devToken, { Last_Name: 'Spaces' });
    const a = await uploadFile(record, 'a.txt');
    const b = await uploadFile(record, 'b.txt');
    const res = await bulkDelete(record, ` ${a.id} ,, ${b.id},`);
    expectItems(res, 200, [ok(a.id), ok(b.id)]);
    expect(await listIds(record)).toEqual([]);
  });

  it('all bad → HTTP 400 with one INVALID_DATA item each; nothing changes', async () => {
    const record = await server.createRecord('Leads', server.devToken, { Last_Name: 'AllBad' });
    const keep = await uploadFile(record, 'keep.txt');
    const other = await server.createRecord('Leads', server.devToken, { Last_Name: 'Else' });
    const foreign = await uploadFile(other, 'x.txt');
    const blobs = await server.blobFiles();
    const res = await bulkDelete(record, `abc,${UNKNOWN},${foreign.id}`);
    expectItems(res, 400, [bad('abc'), bad(UNKNOWN), bad(foreign.id)]);
    expect(await listIds(record)).toEqual([keep.id]);
    expect(await listIds(other)).toEqual([foreign.id]);
    await expectBlobs(server, blobs);
  });

  it.each([
    ['no ids parameter', undefined],
    ['ids empty', ''],
    ['ids only commas and spaces', ' , ,'],
  ])('%s → REQUIRED_PARAM_MISSING {param_name: ids}', async (_name, ids) => {
    const record = await server.createRecord('Leads', server.devToken, { Last_Name: 'NoIds' });
    const a = await uploadFile(record, 'a.txt');
    expectZohoError(await bulkDelete(record, ids), {
      status: 400,
      code: 'REQUIRED_PARAM_MISSING',
      message: 'One of the expected parameter is missing',
      details: { param_name: 'ids' },
    });
    expect(await listIds(record)).toEqual([a.id]);
  });

  it('101 ids → LIMIT_EXCEEDED {param_name: ids, limit: 100}, nothing deleted; 100 ids are accepted', async () => {
    const record = await server.createRecord('Leads', server.devToken, { Last_Name: 'Limit' });
    const a = await uploadFile(record, 'a.txt');
    const blobs = await server.blobFiles();
    const filler = Array.from({ length: 100 }, (_, i) => String(1_000_000_000_000_000_000n + BigInt(i)));
    expectZohoError(await bulkDelete(record, [a.id, ...filler].join(',')), {
      status: 400,
      code: 'LIMIT_EXCEEDED',
      details: { param_name: 'ids', limit: 100 },
    });
    expect(await listIds(record)).toEqual([a.id]);
    await expectBlobs(server, blobs);

    const hundred = [a.id, ...filler.slice(0, 99)];
    const res = await bulkDelete(record, hundred.join(','));
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(res.json.data).toHaveLength(100);
    expect(res.json.data[0]).toEqual(ok(a.id));
    for (let i = 1; i < 100; i++) expect(res.json.data[i]).toEqual(bad(hundred[i]!));
    expect(await listIds(record)).toEqual([]);
  });

  it('the same id twice: the first deletes, the second is INVALID_DATA (already gone); HTTP 200; nothing breaks', async () => {
    const record = await server.createRecord('Leads', server.devToken, { Last_Name: 'Dup' });
    const a = await uploadFile(record, 'a.txt');
    const b = await uploadFile(record, 'b.txt');
    const blobs = await server.blobFiles();
    const res = await bulkDelete(record, `${a.id},${a.id},${b.id},${a.id}`);
    expectItems(res, 200, [ok(a.id), bad(a.id), ok(b.id), bad(a.id)]);
    expect(await listIds(record)).toEqual([]);
    await expectBlobs(server, blobs.filter((k) => k !== a.blob && k !== b.blob));
    // Again, now all gone → 400.
    expectItems(await bulkDelete(record, `${a.id},${b.id}`), 400, [bad(a.id), bad(b.id)]);
    // The record still takes new attachments.
    const c = await uploadFile(record, 'c.txt');
    expect(await listIds(record)).toEqual([c.id]);
  });

  it('works in every API version', async () => {
    const record = await server.createRecord('Leads', server.devToken, { Last_Name: 'Versions' });
    for (const v of ['v2', 'v2.1', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8']) {
      const a = await uploadFile(record, `${v}.txt`);
      expectItems(await bulkDelete(record, a.id, { version: v }), 200, [ok(a.id)]);
    }
    expect(await listIds(record)).toEqual([]);
  });

  it('a record in a custom module', async () => {
    await server.admin('POST', `/orgs/${server.orgId}/modules`, { api_name: 'bulk_pets' });
    const record = await server.createRecord('bulk_pets', server.devToken, { Name: 'Rex' });
    const a = await uploadFile(record, 'a.txt', server.devToken, 'bulk_pets');
    expectItems(await bulkDelete(record, `${a.id},abc`, { module: 'bulk_pets' }), 200, [ok(a.id), bad('abc')]);
  });
});

describe(`bulk delete refusals (${BACKEND})`, () => {
  let record: string;
  let kept: Uploaded;
  let blobs: string[];

  beforeAll(async () => {
    record = await server.createRecord('Leads', server.devToken, { Last_Name: 'Guarded' });
    kept = await uploadFile(record, 'guarded.txt');
    blobs = await server.blobFiles();
  });

  it.each([
    ['ZohoCRM.modules.leads.DELETE', false],
    ['ZohoCRM.modules.attachments.DELETE', false],
    ['ZohoCRM.modules.attachments.ALL', false],
    ['ZohoCRM.modules.leads.ALL', false],
    ['ZohoCRM.modules.leads.WRITE,ZohoCRM.modules.attachments.WRITE', false],
    ['ZohoCRM.modules.leads.UPDATE,ZohoCRM.modules.attachments.UPDATE', false],
    ['ZohoCRM.modules.leads.READ,ZohoCRM.modules.attachments.READ', false],
    ['ZohoCRM.modules.leads.DELETE,ZohoCRM.modules.attachments.READ', false],
    ['ZohoCRM.modules.contacts.DELETE,ZohoCRM.modules.attachments.DELETE', false],
  ])('scopes %s → OAUTH_SCOPE_MISMATCH, nothing deleted', async (scopes) => {
    const user = await server.createUser({ scopes });
    expectZohoError(await bulkDelete(record, kept.id, { token: user.token }), SCOPE_MISMATCH);
    expect(await listIds(record)).toEqual([kept.id]);
    await expectBlobs(server, blobs);
  });

  it.each([
    'ZohoCRM.modules.leads.DELETE,ZohoCRM.modules.attachments.DELETE',
    'ZohoCRM.modules.leads.ALL,ZohoCRM.modules.attachments.ALL',
    'ZohoCRM.modules.leads.DELETE,ZohoCRM.modules.attachments.ALL',
    'ZohoCRM.modules.ALL',
  ])('scopes %s → allowed', async (scopes) => {
    const user = await server.createUser({ scopes });
    const rec = await server.createRecord('Leads', server.devToken, { Last_Name: 'Scoped' });
    const a = await uploadFile(rec, 'a.txt');
    expectItems(await bulkDelete(rec, a.id, { token: user.token }), 200, [ok(a.id)]);
  });

  it('without edit permission → NO_PERMISSION {permissions: ["Leads.edit"]}, nothing deleted', async () => {
    const user = await server.createUser({
      scopes: 'ZohoCRM.modules.ALL',
      permissions: { Leads: { view: true, create: true, edit: false, delete: true } },
    });
    expectZohoError(await bulkDelete(record, kept.id, { token: user.token }), {
      status: 403,
      code: 'NO_PERMISSION',
      message: 'Permission denied to delete attachment',
      details: { permissions: ['Leads.edit'] },
    });
    expect(await listIds(record)).toEqual([kept.id]);
  });

  it.each([
    ['unknown', UNKNOWN],
    ['malformed', 'abc'],
  ])('%s record id → INVALID_DATA related id', async (_name, rec) => {
    expectZohoError(await bulkDelete(rec, kept.id), RELATED_ID);
    expect(await listIds(record)).toEqual([kept.id]);
  });

  it("another org's token → INVALID_DATA related id, nothing deleted", async () => {
    const org = await server.createOrg();
    expectZohoError(await bulkDelete(record, kept.id, { token: org.adminToken }), RELATED_ID);
    expect(await listIds(record)).toEqual([kept.id]);
    await expectBlobs(server, blobs);
  });

  it('REQUIRED_PARAM_MISSING comes after the scope and record checks', async () => {
    const user = await server.createUser({ scopes: 'ZohoCRM.modules.leads.READ' });
    expectZohoError(await bulkDelete(record, undefined, { token: user.token }), SCOPE_MISMATCH);
    expectZohoError(await bulkDelete(UNKNOWN, undefined), RELATED_ID);
  });

  it('record states do not affect attachments: a locked record still allows the bulk delete', async () => {
    const rec = await server.createRecord('Leads', server.devToken, { Last_Name: 'Locked' });
    const a = await uploadFile(rec, 'a.txt');
    await server.setState(rec, 'zia_vision_processing');
    expectItems(await bulkDelete(rec, a.id), 200, [ok(a.id)]);
  });

  it('the guarded attachment survived everything and the server still answers', async () => {
    expect(await listIds(record)).toEqual([kept.id]);
    const res = await server.api('GET', `${attachmentsPath(record)}/${kept.id}`);
    expect(res.status).toBe(200);
  });
});
