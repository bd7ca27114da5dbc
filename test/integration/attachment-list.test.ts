/**
 * GET /crm/{v}/{module}/{id}/Attachments over real HTTP (docs/compatibility.md "Around the five endpoints → Get
 * attachments"): `fields` mandatory from v3 and optional in v2/v2.1, only the requested fields plus `id`, the exact
 * shape of every field, newest first, page/per_page paging, page tokens in v7/v8, the `ids` filter, 204 when there
 * is nothing, and the usual refusals (scope, permission, record id, another org).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const ZOHO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/;
const ID = /^\d{1,19}$/;
const LINK = 'https://www.zohocorp.com/crm';
const ADMIN_EMAIL = 'admin@crm-media.local';
const ADMIN_NAME = 'Admin User';
const VERSIONS = ['v2', 'v2.1', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8'] as const;

/** Every field the doc lists for an attachment. */
const ALL_FIELDS = [
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
];

const RELATED_ID = {
  status: 400,
  code: 'INVALID_DATA',
  message: 'the related id given seems to be invalid',
  details: { related_status: 'invalid', resource_path_index: 1 },
};
const SCOPE_MISMATCH = { status: 401, code: 'OAUTH_SCOPE_MISMATCH', message: 'invalid oauth scope to access this URL', details: {} };
const FIELDS_MISSING = {
  status: 400,
  code: 'REQUIRED_PARAM_MISSING',
  message: 'One of the expected parameter is missing',
  details: { param_name: 'fields' },
};
const BAD_PER_PAGE = { status: 400, code: 'INVALID_DATA', details: { param_name: 'per_page', maximum: 200 } };
const BAD_TOKEN = { status: 400, code: 'INVALID_DATA', details: { param_name: 'page_token' } };

let server: TestServer;
/** A Lead "Patricia Boyle" with one file and one link (the link newest). */
let lead: string;
let leadFile: string;
let leadLink: string;
const leadBytes = Buffer.from('hello attachment list\n');
/** A Lead with 7 file attachments, ids newest first. */
let paged: string;
let pagedIds: string[] = [];

function listPath(record: string, module = 'Leads', version = 'v8'): string {
  return `/crm/${version}/${module}/${record}/Attachments`;
}

function list(
  record: string,
  query: Record<string, string> = { fields: 'File_Name' },
  opts: { module?: string; version?: string; token?: string } = {},
): Promise<HttpResponse> {
  return server.api('GET', listPath(record, opts.module, opts.version), { query, ...(opts.token ? { token: opts.token } : {}) });
}

async function uploadFile(record: string, data: Buffer, name: string, type = 'text/plain', module = 'Leads'): Promise<string> {
  const b = filePart(data, name, type);
  const res = await server.api('POST', listPath(record, module), { headers: { 'content-type': b.contentType }, body: b.body });
  expect(res.status, res.text).toBe(200);
  return res.json.data[0].details.id as string;
}

async function uploadLink(record: string, url: string, title?: string, module = 'Leads'): Promise<string> {
  const res = await server.api('POST', listPath(record, module), { query: { attachmentUrl: url, ...(title ? { title } : {}) } });
  expect(res.status, res.text).toBe(200);
  return res.json.data[0].details.id as string;
}

/** Created_Time has millisecond resolution in storage: a short pause keeps "newest first" unambiguous. */
const tick = () => sleep(5);

function expectOk(res: HttpResponse): void {
  expect(res.status, res.text).toBe(200);
  expect(res.headers['content-type']).toBe('application/json;charset=UTF-8');
}

function expectNoContent(res: HttpResponse): void {
  expect(res.status, res.text).toBe(204);
  expect(res.body.length).toBe(0);
}

const idsOf = (res: HttpResponse): string[] => (res.json.data as Array<{ id: string }>).map((a) => a.id);

beforeAll(async () => {
  server = await TestServer.start();
  lead = await server.createRecord('Leads', server.devToken, { First_Name: 'Patricia', Last_Name: 'Boyle' });
  leadFile = await uploadFile(lead, leadBytes, 'notes.txt');
  await tick();
  leadLink = await uploadLink(lead, LINK, 'Zoho CRM');
  paged = await server.createRecord('Leads', server.devToken, { Last_Name: 'Paged' });
  const created: string[] = [];
  for (let i = 0; i < 7; i++) {
    await tick();
    created.push(await uploadFile(paged, Buffer.from(`file ${i}`), `f${i}.txt`));
  }
  pagedIds = created.reverse();
});
afterAll(() => server?.stop());

describe(`fields parameter (${BACKEND})`, () => {
  it.each(['v3', 'v4', 'v5', 'v6', 'v7', 'v8'])('%s without fields → REQUIRED_PARAM_MISSING {param_name: fields}', async (v) => {
    expectZohoError(await list(lead, {}, { version: v }), FIELDS_MISSING);
  });

  it.each(['v2', 'v2.1'])('%s without fields → every field, plus id', async (v) => {
    const res = await list(lead, {}, { version: v });
    expectOk(res);
    expect(res.json.data).toHaveLength(2);
    for (const a of res.json.data) expect(Object.keys(a).sort()).toEqual([...ALL_FIELDS, 'id'].sort());
  });

  it.each(VERSIONS)('%s with fields → only the requested fields plus id', async (v) => {
    const res = await list(lead, { fields: 'File_Name,Size' }, { version: v });
    expectOk(res);
    for (const a of res.json.data) expect(Object.keys(a).sort()).toEqual(['File_Name', 'Size', 'id']);
  });

  it('every field of the list can be asked for by name, each alone', async () => {
    for (const f of ALL_FIELDS) {
      const res = await list(lead, { fields: f });
      expectOk(res);
      for (const a of res.json.data) expect(Object.keys(a).sort(), f).toEqual([f, 'id'].sort());
    }
  });

  it('unknown field names are ignored (also when they are all unknown: only id)', async () => {
    const mixed = await list(lead, { fields: 'Bogus,File_Name, $type ,not_a_field' });
    expectOk(mixed);
    for (const a of mixed.json.data) expect(Object.keys(a).sort()).toEqual(['$type', 'File_Name', 'id']);
    const none = await list(lead, { fields: 'Bogus,Nothing' });
    expectOk(none);
    expect(none.json.data).toEqual([{ id: leadLink }, { id: leadFile }]);
  });
});

describe(`exact shapes (${BACKEND})`, () => {
  it('a file and a link, every field (newest first)', async () => {
    const res = await list(lead, { fields: ALL_FIELDS.join(',') });
    expectOk(res);
    expect(res.json.data).toHaveLength(2);
    const [link, file] = res.json.data;
    const admin = { name: ADMIN_NAME, id: server.adminUserId, email: ADMIN_EMAIL };
    const parent = { name: 'Patricia Boyle', id: lead };

    expect(file).toMatchObject({
      id: leadFile,
      Owner: admin,
      Created_By: admin,
      Modified_By: admin,
      File_Name: 'notes.txt',
      Size: String(leadBytes.length),
      Parent_Id: parent,
      $editable: true,
      $type: 'File',
      $se_module: 'Leads',
      $state: 'save',
      $link_url: null,
      $sharing_permission: 'full_access',
      $attachment_type: 1,
      Record_Status__s: 'Available',
      Attachment_Source__s: 'API',
      $field_states: null,
      $zia_visions: null,
    });
    expect(Object.keys(file.Owner).sort()).toEqual(['email', 'id', 'name']);
    expect(Object.keys(file.Parent_Id).sort()).toEqual(['id', 'name']);
    expect(typeof file.Size).toBe('string');
    expect(file.Created_Time).toMatch(ZOHO_TIME);
    expect(file.Modified_Time).toMatch(ZOHO_TIME);
    expect(typeof file.$file_id).toBe('string');
    expect(file.$file_id.length).toBeGreaterThan(0);
    expect(file.File_Id__s).toBe(file.$file_id);
    expect(await server.blobFiles()).toContain(file.$file_id);

    expect(link).toMatchObject({
      id: leadLink,
      Owner: admin,
      Created_By: admin,
      Modified_By: admin,
      File_Name: 'Zoho CRM',
      Parent_Id: parent,
      $editable: true,
      $type: 'Link URL',
      $se_module: 'Leads',
      $state: 'save',
      $link_url: LINK,
      $sharing_permission: 'full_access',
      $attachment_type: 3,
      Record_Status__s: 'Available',
      Attachment_Source__s: 'API',
      $file_id: null,
      File_Id__s: null,
      $field_states: null,
      $zia_visions: null,
    });
    expect(typeof link.Size).toBe('string');
    expect(link.Created_Time).toMatch(ZOHO_TIME);
    expect(link.id).toMatch(ID);
  });

  it('v2 (no fields) gives the same values as v8 with every field named', async () => {
    const v2 = await list(lead, {}, { version: 'v2' });
    const v8 = await list(lead, { fields: ALL_FIELDS.join(',') });
    expect(v2.json.data).toEqual(v8.json.data);
  });

  it.each([
    { module: 'Leads', fields: { First_Name: 'Patricia', Last_Name: 'Boyle' }, name: 'Patricia Boyle' },
    { module: 'Leads', fields: { Last_Name: 'Solo' }, name: 'Solo' },
    { module: 'Contacts', fields: { First_Name: 'Ann', Last_Name: 'Lee' }, name: 'Ann Lee' },
    { module: 'Accounts', fields: { Account_Name: 'Zylker Inc' }, name: 'Zylker Inc' },
    { module: 'Deals', fields: { Deal_Name: 'Big Deal' }, name: 'Big Deal' },
  ])('Parent_Id of a $module record is {name: "$name", id}', async ({ module, fields, name }) => {
    const record = await server.createRecord(module, server.devToken, fields);
    await uploadFile(record, Buffer.from('x'), 'x.txt', 'text/plain', module);
    const res = await list(record, { fields: 'Parent_Id,$se_module' }, { module });
    expectOk(res);
    expect(res.json.data[0]).toEqual({ Parent_Id: { name, id: record }, $se_module: module, id: expect.stringMatching(ID) });
  });

  it('Owner/Created_By/Modified_By name the uploader (another user of the org)', async () => {
    const user = await server.createUser({ scopes: 'ZohoCRM.modules.ALL' });
    const record = await server.createRecord('Leads', server.devToken, { Last_Name: 'Owned' });
    const b = filePart(Buffer.from('by user'), 'u.txt', 'text/plain');
    const up = await server.api('POST', listPath(record), { token: user.token, headers: { 'content-type': b.contentType }, body: b.body });
    expect(up.status, up.text).toBe(200);
    const res = await list(record, { fields: 'Owner,Created_By,Modified_By' });
    expectOk(res);
    const ref = { name: `User ${user.email}`, id: user.id, email: user.email };
    expect(res.json.data[0]).toEqual({ Owner: ref, Created_By: ref, Modified_By: ref, id: up.json.data[0].details.id });
  });
});

describe(`order and paging (${BACKEND})`, () => {
  it('newest first, default per_page 200, info {per_page, count, page, more_records}', async () => {
    const res = await list(paged, { fields: 'File_Name' });
    expectOk(res);
    expect(idsOf(res)).toEqual(pagedIds);
    expect(res.json.data.map((a: { File_Name: string }) => a.File_Name)).toEqual(['f6.txt', 'f5.txt', 'f4.txt', 'f3.txt', 'f2.txt', 'f1.txt', 'f0.txt']);
    expect(res.json.info).toMatchObject({ per_page: 200, count: 7, page: 1, more_records: false });
  });

  it.each([
    { page: '1', ids: [0, 1, 2], more: true },
    { page: '2', ids: [3, 4, 5], more: true },
    { page: '3', ids: [6], more: false },
  ])('page $page with per_page 3', async ({ page, ids, more }) => {
    const res = await list(paged, { fields: 'File_Name', page, per_page: '3' });
    expectOk(res);
    expect(idsOf(res)).toEqual(ids.map((i) => pagedIds[i]));
    expect(res.json.info).toMatchObject({ per_page: 3, count: ids.length, page: Number(page), more_records: more });
  });

  it('a page past the end → 204 without a body', async () => {
    expectNoContent(await list(paged, { fields: 'File_Name', page: '4', per_page: '3' }));
    expectNoContent(await list(paged, { fields: 'File_Name', page: '2' }));
  });

  it('per_page 1 and 200 are accepted', async () => {
    const one = await list(paged, { fields: 'File_Name', per_page: '1', page: '7' });
    expectOk(one);
    expect(idsOf(one)).toEqual([pagedIds[6]]);
    expect(one.json.info).toMatchObject({ per_page: 1, count: 1, page: 7, more_records: false });
    const max = await list(paged, { fields: 'File_Name', per_page: '200' });
    expectOk(max);
    expect(max.json.info.count).toBe(7);
  });

  it.each(['0', '201', 'x', '-1', '1.5', '', '1e2', '999999999999999999999'])('per_page=%j → INVALID_DATA {param_name: per_page, maximum: 200}', async (perPage) => {
    expectZohoError(await list(paged, { fields: 'File_Name', per_page: perPage }), BAD_PER_PAGE);
  });

  it.each(['0', 'x', '-1', '1.5'])('page=%j → INVALID_DATA {param_name: page}', async (page) => {
    const res = await list(paged, { fields: 'File_Name', page });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
    expect(res.json.details.param_name).toBe('page');
  });

  it('v6 info has no page tokens; v7 and v8 have next/previous tokens and their expiry', async () => {
    const v6 = await list(paged, { fields: 'File_Name', per_page: '3' }, { version: 'v6' });
    expectOk(v6);
    expect(Object.keys(v6.json.info).sort()).toEqual(['count', 'more_records', 'page', 'per_page']);
    for (const v of ['v7', 'v8']) {
      const res = await list(paged, { fields: 'File_Name', per_page: '3' }, { version: v });
      expectOk(res);
      expect(Object.keys(res.json.info).sort()).toEqual(
        ['count', 'more_records', 'next_page_token', 'page', 'page_token_expiry', 'per_page', 'previous_page_token'].sort(),
      );
      expect(typeof res.json.info.next_page_token).toBe('string');
      expect(res.json.info.previous_page_token).toBeNull();
      expect(res.json.info.page_token_expiry).toMatch(ZOHO_TIME);
    }
  });

  it('a single page in v8: every token null', async () => {
    const res = await list(paged, { fields: 'File_Name' });
    expect(res.json.info).toMatchObject({ next_page_token: null, previous_page_token: null, page_token_expiry: null, more_records: false });
  });

  it.each(['v7', 'v8'])('%s: next_page_token walks all pages exactly once (7 attachments, per_page 3)', async (v) => {
    const seen: string[] = [];
    const pages: number[] = [];
    let res = await list(paged, { fields: 'File_Name', per_page: '3' }, { version: v });
    for (let i = 0; i < 10; i++) {
      expectOk(res);
      seen.push(...idsOf(res));
      pages.push(res.json.info.page);
      const next = res.json.info.next_page_token as string | null;
      expect(next !== null).toBe(res.json.info.more_records);
      if (!next) break;
      res = await list(paged, { fields: 'File_Name', per_page: '3', page_token: next }, { version: v });
    }
    expect(seen).toEqual(pagedIds);
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toEqual([1, 2, 3]);
  });

  it('previous_page_token of page 2 leads back to page 1', async () => {
    const first = await list(paged, { fields: 'File_Name', per_page: '3' });
    const second = await list(paged, { fields: 'File_Name', per_page: '3', page_token: first.json.info.next_page_token });
    expectOk(second);
    expect(idsOf(second)).toEqual(pagedIds.slice(3, 6));
    expect(typeof second.json.info.previous_page_token).toBe('string');
    const back = await list(paged, { fields: 'File_Name', per_page: '3', page_token: second.json.info.previous_page_token });
    expectOk(back);
    expect(idsOf(back)).toEqual(pagedIds.slice(0, 3));
  });

  it('a bad page token → INVALID_DATA {param_name: page_token} (garbage, empty, another record\'s token)', async () => {
    for (const token of ['garbage', '', '!!!', Buffer.from('{"r":"1","o":0,"x":1}').toString('base64url')]) {
      expectZohoError(await list(paged, { fields: 'File_Name', page_token: token }), BAD_TOKEN);
    }
    const other = await server.createRecord('Leads', server.devToken, { Last_Name: 'Other' });
    for (let i = 0; i < 2; i++) {
      await uploadFile(other, Buffer.from(`o${i}`), `o${i}.txt`);
      await tick();
    }
    const otherPage = await list(other, { fields: 'File_Name', per_page: '1' });
    const token = otherPage.json.info.next_page_token as string;
    expect(typeof token).toBe('string');
    expectZohoError(await list(paged, { fields: 'File_Name', per_page: '1', page_token: token }), BAD_TOKEN);
    // The same token still works where it came from.
    expectOk(await list(other, { fields: 'File_Name', per_page: '1', page_token: token }));
  });
});

describe(`ids filter and empty lists (${BACKEND})`, () => {
  it('ids filters (order stays newest first)', async () => {
    const res = await list(paged, { fields: 'File_Name', ids: `${pagedIds[5]},${pagedIds[1]}` });
    expectOk(res);
    expect(idsOf(res)).toEqual([pagedIds[1], pagedIds[5]]);
    expect(res.json.info.count).toBe(2);
  });

  it('ids with unknown, malformed and other records\' ids: those are left out', async () => {
    const res = await list(paged, { fields: 'File_Name', ids: `${pagedIds[0]},abc,1234567890123456789,${leadFile}` });
    expectOk(res);
    expect(idsOf(res)).toEqual([pagedIds[0]]);
  });

  it('ids matching nothing → 204', async () => {
    expectNoContent(await list(paged, { fields: 'File_Name', ids: '1234567890123456789' }));
    expectNoContent(await list(paged, { fields: 'File_Name', ids: `${leadFile}` }));
    expectNoContent(await list(paged, { fields: 'File_Name', ids: 'abc' }));
  });

  it('more than 200 ids → LIMIT_EXCEEDED (a page could never answer them); 200 are accepted', async () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => (1_000_000_000_000_000_000n + BigInt(i)).toString());
    const res = await list(paged, { fields: 'File_Name', ids: [pagedIds[0], ...many(200)].join(',') });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ code: 'LIMIT_EXCEEDED', details: { param_name: 'ids', limit: 200 }, message: 'the number of ids exceeds the limit', status: 'error' });
    const ok = await list(paged, { fields: 'File_Name', ids: [pagedIds[0], ...many(199)].join(',') });
    expectOk(ok);
    expect(idsOf(ok)).toEqual([pagedIds[0]]);
  });

  it('a record without attachments → 204 without a body, in every version', async () => {
    const empty = await server.createRecord('Leads', server.devToken, { Last_Name: 'Empty' });
    for (const v of VERSIONS) {
      const res = await list(empty, v === 'v2' || v === 'v2.1' ? {} : { fields: 'File_Name' }, { version: v });
      expectNoContent(res);
      expect(res.headers['content-type']).toBeUndefined();
    }
  });
});

describe(`refusals (${BACKEND})`, () => {
  it.each([
    ['ZohoCRM.modules.leads.READ', false],
    ['ZohoCRM.modules.leads.ALL', false],
    ['ZohoCRM.modules.attachments.READ', false],
    ['ZohoCRM.modules.attachments.ALL', false],
    ['ZohoCRM.modules.leads.CREATE,ZohoCRM.modules.attachments.CREATE', false],
    ['ZohoCRM.modules.leads.READ,ZohoCRM.modules.attachments.CREATE', false],
    ['ZohoCRM.modules.leads.READ,ZohoCRM.modules.attachments.READ', true],
    ['ZohoCRM.modules.leads.ALL,ZohoCRM.modules.attachments.ALL', true],
    ['ZohoCRM.modules.ALL', true],
  ])('scopes %s → allowed: %s', async (scopes, allowed) => {
    const user = await server.createUser({ scopes });
    const res = await list(lead, { fields: 'File_Name' }, { token: user.token });
    if (allowed) {
      expectOk(res);
      expect(idsOf(res)).toEqual([leadLink, leadFile]);
    } else {
      expectZohoError(res, SCOPE_MISMATCH);
    }
  });

  it('without view permission on the module → NO_PERMISSION 403 {permissions: ["Leads.view"]}', async () => {
    const user = await server.createUser({
      scopes: 'ZohoCRM.modules.ALL',
      permissions: { Leads: { view: false, create: true, edit: true, delete: true }, '*': { view: true } },
    });
    expectZohoError(await list(lead, { fields: 'File_Name' }, { token: user.token }), {
      status: 403,
      code: 'NO_PERMISSION',
      details: { permissions: ['Leads.view'] },
    });
    // View alone is enough.
    const viewer = await server.createUser({ scopes: 'ZohoCRM.modules.ALL', permissions: { Leads: { view: true } } });
    expectOk(await list(lead, { fields: 'File_Name' }, { token: viewer.token }));
  });

  it.each([
    ['unknown', '1234567890123456789'],
    ['malformed', 'abc'],
    ['too long', '12345678901234567890'],
  ])('%s record id → INVALID_DATA related id', async (_name, record) => {
    expectZohoError(await list(record, { fields: 'File_Name' }), RELATED_ID);
  });

  it('a record of another module → INVALID_DATA related id', async () => {
    const account = await server.createRecord('Accounts', server.devToken, { Account_Name: 'Elsewhere' });
    expectZohoError(await list(account, { fields: 'File_Name' }, { module: 'Leads' }), RELATED_ID);
  });

  it('another org\'s token cannot list (the record is not in its org)', async () => {
    const other = await server.createOrg();
    expectZohoError(await list(lead, { fields: 'File_Name' }, { token: other.adminToken }), RELATED_ID);
    expectZohoError(await list(lead, { fields: 'File_Name', ids: leadFile }, { token: other.adminToken }), RELATED_ID);
  });

  it('checks run in the documented order: scope before the missing fields parameter, record id before it', async () => {
    const user = await server.createUser({ scopes: 'ZohoCRM.modules.leads.READ' });
    expectZohoError(await list(lead, {}, { token: user.token }), SCOPE_MISMATCH);
    expectZohoError(await list('1234567890123456789', {}), RELATED_ID);
  });

  it('no token → AUTHENTICATION_FAILURE; unknown token → INVALID_TOKEN', async () => {
    const none = await server.api('GET', listPath(lead), { token: null, query: { fields: 'File_Name' } });
    expectZohoError(none, { status: 401, code: 'AUTHENTICATION_FAILURE' });
    expectZohoError(await list(lead, { fields: 'File_Name' }, { token: 'not-a-real-token' }), { status: 401, code: 'INVALID_TOKEN' });
  });

  it('the server still answers and the listing is unchanged after all of this', async () => {
    const res = await list(lead, { fields: 'File_Name' });
    expectOk(res);
    expect(idsOf(res)).toEqual([leadLink, leadFile]);
  });
});
