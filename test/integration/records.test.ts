/**
 * The Records API subset (docs/compatibility.md "Records API"): insert (per-item results), get, delete (one id or
 * `?ids=`), and the cascade that removes a deleted record's photo and attachments, rows and bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(() => server?.stop());

const ZOHO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/;
const ID = /^\d{19}$/;
const MAX_LONG = 9223372036854775807n;
const JSON_HEADERS = { 'content-type': 'application/json' };

function insert(module: string, body: unknown, token?: string): Promise<HttpResponse> {
  return server.api('POST', `/crm/v8/${module}`, {
    ...(token ? { token } : {}),
    headers: JSON_HEADERS,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function leadCount(org = server.orgId): Promise<number> {
  const res = await server.admin('GET', `/orgs/${org}/records?module=Leads&limit=1000`);
  return res.records.length as number;
}

function expectZohoId(id: unknown): void {
  expect(id).toMatch(ID);
  expect(BigInt(id as string) <= MAX_LONG).toBe(true);
}

function expectRecordAdded(item: any, userId = server.adminUserId, userName = 'Admin User'): void {
  expect(item).toMatchObject({ code: 'SUCCESS', message: 'record added', status: 'success' });
  expect(Object.keys(item).sort()).toEqual(['code', 'details', 'message', 'status']);
  expect(Object.keys(item.details)).toEqual(['Modified_Time', 'Modified_By', 'Created_Time', 'id', 'Created_By']);
  expect(item.details.Modified_Time).toMatch(ZOHO_TIME);
  expect(item.details.Created_Time).toMatch(ZOHO_TIME);
  expectZohoId(item.details.id);
  expect(item.details.Created_By).toEqual({ name: userName, id: userId });
  expect(item.details.Modified_By).toEqual({ name: userName, id: userId });
}

describe(`Records API insert (${process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk'})`, () => {
  it('inserts one record: 201, one SUCCESS item with Zoho insert details', async () => {
    const res = await insert('Leads', { data: [{ Last_Name: 'Boyle' }] });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(Object.keys(res.json)).toEqual(['data']);
    expect(res.json.data).toHaveLength(1);
    expectRecordAdded(res.json.data[0]);
  });

  it('inserts several records at once, each with its own distinct 19-digit id', async () => {
    const before = await leadCount();
    const res = await insert('Leads', { data: [{ Last_Name: 'A' }, { Last_Name: 'B' }, { Last_Name: 'C' }] });
    expect(res.status).toBe(201);
    expect(res.json.data).toHaveLength(3);
    for (const item of res.json.data) expectRecordAdded(item);
    const ids = res.json.data.map((x: any) => x.details.id);
    expect(new Set(ids).size).toBe(3);
    expect(await leadCount()).toBe(before + 3);
    for (const [i, id] of ids.entries()) {
      const got = await server.api('GET', `/crm/v8/Leads/${id}`);
      expect(got.status).toBe(200);
      expect(got.json.data[0].Last_Name).toBe(['A', 'B', 'C'][i]);
    }
  });

  it('accepts exactly 100 items', async () => {
    const data = Array.from({ length: 100 }, (_, i) => ({ Last_Name: `Bulk ${i}` }));
    const res = await insert('Leads', { data });
    expect(res.status).toBe(201);
    expect(res.json.data).toHaveLength(100);
    expect(res.json.data.every((x: any) => x.code === 'SUCCESS')).toBe(true);
  });

  it('mixed items: a non-object and an unknown Owner get their own errors, the others are inserted', async () => {
    const before = await leadCount();
    const res = await insert('Leads', {
      data: [
        { Last_Name: 'First' },
        'not an object',
        { Last_Name: 'Ghost owned', Owner: { id: '1234567890123456789' } },
        [1, 2, 3],
        null,
        { Last_Name: 'Last' },
      ],
    });
    expect(res.status).toBe(201);
    const items = res.json.data;
    expect(items).toHaveLength(6);
    expectRecordAdded(items[0]);
    expectRecordAdded(items[5]);
    for (const i of [1, 2, 3, 4]) {
      expect(items[i]).toMatchObject({ code: 'INVALID_DATA', status: 'error' });
      expect(Object.keys(items[i]).sort()).toEqual(['code', 'details', 'message', 'status']);
    }
    expect(items[2].details).toMatchObject({ api_name: 'Owner' });
    expect(await leadCount()).toBe(before + 2);
  });

  it('an Owner naming another user of the org is kept; the caller is Created_By', async () => {
    const other = await server.createUser();
    const res = await insert('Leads', { data: [{ Last_Name: 'Delegated', Owner: { id: other.id } }] });
    expect(res.status).toBe(201);
    expectRecordAdded(res.json.data[0]);
    const got = await server.api('GET', `/crm/v8/Leads/${res.json.data[0].details.id}`);
    expect(got.json.data[0].Owner).toMatchObject({ id: other.id, email: other.email });
    expect(got.json.data[0].Created_By).toEqual({ name: 'Admin User', id: server.adminUserId });
  });

  it('an Owner of another org is an unknown Owner', async () => {
    const org = await server.createOrg();
    const users = await server.admin('GET', `/orgs/${org.id}/users`);
    const res = await insert('Leads', { data: [{ Last_Name: 'X', Owner: { id: users.users[0].id } }] });
    expect(res.status).toBe(400);
    expect(res.json.data[0]).toMatchObject({ code: 'INVALID_DATA', status: 'error', details: { api_name: 'Owner' } });
  });

  it('all items invalid: 400 with one error item each, nothing inserted', async () => {
    const before = await leadCount();
    const res = await insert('Leads', { data: ['x', 42, { Last_Name: 'Y', Owner: '999' }] });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(res.json.data).toHaveLength(3);
    for (const item of res.json.data) expect(item).toMatchObject({ code: 'INVALID_DATA', status: 'error' });
    expect(await leadCount()).toBe(before);
  });

  it.each([
    ['no data key', { records: [{ Last_Name: 'x' }] }],
    ['data is an object', { data: { Last_Name: 'x' } }],
    ['data is a string', { data: 'x' }],
    ['a JSON array body', [{ Last_Name: 'x' }]],
  ])('%s → REQUIRED_PARAM_MISSING {param_name: data}', async (_name, body) => {
    const before = await leadCount();
    const res = await insert('Leads', body);
    expectZohoError(res, { status: 400, code: 'REQUIRED_PARAM_MISSING', details: { param_name: 'data' } });
    expect(await leadCount()).toBe(before);
  });

  it.each([
    ['101 items', 101],
    ['no items', 0],
  ])('%s → LIMIT_EXCEEDED, nothing inserted', async (_name, n) => {
    const before = await leadCount();
    const res = await insert('Leads', { data: Array.from({ length: n }, (_, i) => ({ Last_Name: `Over ${i}` })) });
    expectZohoError(res, { status: 400, code: 'LIMIT_EXCEEDED' });
    expect(await leadCount()).toBe(before);
  });

  it.each([
    ['truncated JSON', '{"data":[{"Last_Name":"x"}'],
    ['not JSON at all', 'Last_Name=Boyle'],
    ['an empty body', ''],
    ['a JSON body with a trailing comma', '{"data":[{"Last_Name":"x"},]}'],
  ])('%s → INVALID_DATA {expected_data_type: jsonobject}', async (_name, body) => {
    const before = await leadCount();
    const res = await insert('Leads', body);
    expectZohoError(res, { status: 400, code: 'INVALID_DATA', details: { expected_data_type: 'jsonobject' } });
    expect(await leadCount()).toBe(before);
  });

  it('an unknown module → INVALID_MODULE', async () => {
    const res = await insert('Nonexistent_Things', { data: [{ Name: 'x' }] });
    expectZohoError(res, {
      status: 400,
      code: 'INVALID_MODULE',
      message: 'the module name given seems to be invalid',
      details: { resource_path_index: 0 },
    });
  });
});

describe('Records API get', () => {
  const fields = {
    Last_Name: 'Müller-Łukasiewicz 李小龍 🦊',
    First_Name: 'Zoë',
    Email: 'zoe@example.test',
    Annual_Revenue: 1234567.89,
    No_of_Employees: 0,
    Email_Opt_Out: false,
    Description: 'line one\nline two\t"quoted" \\ backslash',
    Empty: null,
    Tags: [{ name: 'vip' }, { name: 'émigré' }],
    Nested: { a: { b: [1, 'two', { three: 3 }] }, empty: {}, list: [] },
  };
  let id = '';

  beforeAll(async () => {
    id = await server.createRecord('Leads', server.devToken, fields);
  });

  it('returns the fields exactly as given (nested objects, arrays, unicode) plus system fields', async () => {
    const res = await server.api('GET', `/crm/v8/Leads/${id}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(Object.keys(res.json)).toEqual(['data']);
    expect(res.json.data).toHaveLength(1);
    const r = res.json.data[0];
    for (const [k, v] of Object.entries(fields)) expect(r[k], k).toEqual(v);
    expect(r.id).toBe(id);
    expectZohoId(r.id);
    expect(r.Owner).toMatchObject({ name: 'Admin User', id: server.adminUserId });
    expect(r.Created_By).toEqual({ name: 'Admin User', id: server.adminUserId });
    expect(r.Modified_By).toEqual({ name: 'Admin User', id: server.adminUserId });
    expect(r.Created_Time).toMatch(ZOHO_TIME);
    expect(r.Modified_Time).toMatch(ZOHO_TIME);
    expect(r.$approved).toBe(true);
    expect(r.$approval_state).toBe('approved');
    expect(r.$locked_for_me).toBe(false);
    const expectedKeys = [
      ...Object.keys(fields),
      'Owner',
      'Created_By',
      'Modified_By',
      'Created_Time',
      'Modified_Time',
      '$approved',
      '$approval_state',
      '$locked_for_me',
      'id',
    ];
    expect(Object.keys(r).sort()).toEqual(expectedKeys.sort());
  });

  it('system fields given on insert are set by the server, not taken from the client', async () => {
    const res = await insert('Leads', {
      data: [
        {
          Last_Name: 'Sneaky',
          id: '1111111111111111111',
          Created_Time: '2001-01-01T00:00:00+00:00',
          Modified_Time: '2001-01-01T00:00:00+00:00',
          Created_By: { id: '2222222222222222222', name: 'Someone' },
          Modified_By: { id: '2222222222222222222', name: 'Someone' },
        },
      ],
    });
    expect(res.status).toBe(201);
    const newId = res.json.data[0].details.id;
    expect(newId).not.toBe('1111111111111111111');
    const got = (await server.api('GET', `/crm/v8/Leads/${newId}`)).json.data[0];
    expect(got.id).toBe(newId);
    expect(got.Created_Time).not.toBe('2001-01-01T00:00:00+00:00');
    expect(got.Created_By.id).toBe(server.adminUserId);
    expect(got.Modified_By.id).toBe(server.adminUserId);
    expect((await server.api('GET', '/crm/v8/Leads/1111111111111111111')).status).toBe(400);
  });

  it('module names and versions: any case, any supported version', async () => {
    for (const path of [`/crm/v2/leads/${id}`, `/crm/v2.1/LEADS/${id}`, `/crm/v7/Leads/${id}/`]) {
      const res = await server.api('GET', path);
      expect(res.status, path).toBe(200);
      expect(res.json.data[0].id).toBe(id);
    }
  });

  it('HEAD answers like GET without a body', async () => {
    const res = await server.api('HEAD', `/crm/v8/Leads/${id}`);
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
  });

  it('times are in the org time zone (Asia/Kolkata → +05:30)', async () => {
    const org = await server.createOrg(undefined, 'Asia/Kolkata');
    const res = await insert('Leads', { data: [{ Last_Name: 'Kolkata' }] }, org.adminToken);
    expect(res.status).toBe(201);
    expect(res.json.data[0].details.Created_Time).toMatch(/\+05:30$/);
    const got = await server.api('GET', `/crm/v8/Leads/${res.json.data[0].details.id}`, { token: org.adminToken });
    expect(got.json.data[0].Created_Time).toMatch(/\+05:30$/);
    // Another org does not see it.
    const foreign = await server.api('GET', `/crm/v8/Leads/${res.json.data[0].details.id}`);
    expectZohoError(foreign, { status: 400, code: 'INVALID_DATA', message: 'the id given seems to be invalid' });
  });

  it.each([
    ['an unknown 19-digit id', '1234567890123456789'],
    ['a short unknown id', '42'],
    ['a non-digit id', 'abc'],
    ['a 20-digit id', '12345678901234567890'],
    ['an id above 2^63-1', '9223372036854775808'],
  ])('%s → INVALID_DATA "the id given seems to be invalid"', async (_name, bad) => {
    const res = await server.api('GET', `/crm/v8/Leads/${bad}`);
    expectZohoError(res, { status: 400, code: 'INVALID_DATA', message: 'the id given seems to be invalid' });
  });

  it('the state shows in $approved / $approval_state / $locked_for_me, and GET is not refused', async () => {
    const rid = await server.createRecord('Leads');
    await server.setState(rid, 'awaiting_approval');
    let r = (await server.api('GET', `/crm/v8/Leads/${rid}`)).json.data[0];
    expect([r.$approved, r.$approval_state, r.$locked_for_me]).toEqual([false, 'approval_process_pending', false]);
    await server.setState(rid, 'zia_vision_processing');
    r = (await server.api('GET', `/crm/v8/Leads/${rid}`)).json.data[0];
    expect([r.$approved, r.$locked_for_me]).toEqual([true, true]);
    await server.setState(rid, 'merge_in_progress');
    r = (await server.api('GET', `/crm/v8/Leads/${rid}`)).json.data[0];
    expect(r.$locked_for_me).toBe(true);
    await server.setState(rid, 'normal');
  });
});

describe('Records API delete', () => {
  it('DELETE /{module}/{id} → 200 "record deleted", then GET → INVALID_DATA', async () => {
    const id = await server.createRecord('Leads');
    const res = await server.api('DELETE', `/crm/v8/Leads/${id}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(res.json).toEqual({ data: [{ code: 'SUCCESS', details: { id }, message: 'record deleted', status: 'success' }] });
    expectZohoError(await server.api('GET', `/crm/v8/Leads/${id}`), {
      status: 400,
      code: 'INVALID_DATA',
      message: 'the id given seems to be invalid',
    });
    // A second delete of the same id: that id's error, 400.
    const again = await server.api('DELETE', `/crm/v8/Leads/${id}`);
    expect(again.status).toBe(400);
    expect(again.json.data).toHaveLength(1);
    expect(again.json.data[0]).toMatchObject({ code: 'INVALID_DATA', status: 'error', message: 'the id given seems to be invalid' });
  });

  it('DELETE ?ids=a,b,bad → one item per id; 200 because some succeeded', async () => {
    const a = await server.createRecord('Leads');
    const b = await server.createRecord('Leads');
    const res = await server.api('DELETE', '/crm/v8/Leads', { query: { ids: `${a},${b},bad` } });
    expect(res.status).toBe(200);
    expect(res.json.data).toHaveLength(3);
    expect(res.json.data[0]).toEqual({ code: 'SUCCESS', details: { id: a }, message: 'record deleted', status: 'success' });
    expect(res.json.data[1]).toEqual({ code: 'SUCCESS', details: { id: b }, message: 'record deleted', status: 'success' });
    expect(res.json.data[2]).toMatchObject({ code: 'INVALID_DATA', status: 'error', message: 'the id given seems to be invalid' });
    for (const id of [a, b]) expect((await server.api('GET', `/crm/v8/Leads/${id}`)).status).toBe(400);
  });

  it('DELETE ?ids= with only bad ids → 400, one error item each', async () => {
    const res = await server.api('DELETE', '/crm/v8/Leads', { query: { ids: '1234567890123456789,zzz' } });
    expect(res.status).toBe(400);
    expect(res.json.data).toHaveLength(2);
    for (const item of res.json.data) expect(item).toMatchObject({ code: 'INVALID_DATA', status: 'error' });
  });

  it('DELETE ?ids= with 101 ids → LIMIT_EXCEEDED, nothing deleted', async () => {
    const keep = await server.createRecord('Leads');
    const ids = [keep, ...Array.from({ length: 100 }, (_, i) => String(1000 + i))];
    const res = await server.api('DELETE', '/crm/v8/Leads', { query: { ids: ids.join(',') } });
    expectZohoError(res, { status: 400, code: 'LIMIT_EXCEEDED' });
    expect((await server.api('GET', `/crm/v8/Leads/${keep}`)).status).toBe(200);
  });

  it('a record of another module under the wrong module name (a Contacts id via /Leads/) → INVALID_DATA', async () => {
    const contact = await server.createRecord('Contacts', server.devToken, { Last_Name: 'Contact' });
    expectZohoError(await server.api('GET', `/crm/v8/Leads/${contact}`), {
      status: 400,
      code: 'INVALID_DATA',
      message: 'the id given seems to be invalid',
    });
    const del = await server.api('DELETE', `/crm/v8/Leads/${contact}`);
    expect(del.status).toBe(400);
    expect(del.json.data[0]).toMatchObject({ code: 'INVALID_DATA', status: 'error' });
    const bulk = await server.api('DELETE', '/crm/v8/Leads', { query: { ids: contact } });
    expect(bulk.status).toBe(400);
    // Still there under its own module.
    const got = await server.api('GET', `/crm/v8/Contacts/${contact}`);
    expect(got.status).toBe(200);
    expect(got.json.data[0].Last_Name).toBe('Contact');
  });

  it('a locked record is not deleted (its own error item); others in the same request are', async () => {
    const locked = await server.createRecord('Leads');
    const free = await server.createRecord('Leads');
    await server.setState(locked, 'zia_vision_processing');
    const res = await server.api('DELETE', '/crm/v8/Leads', { query: { ids: `${locked},${free}` } });
    expect(res.status).toBe(200);
    expect(res.json.data[0]).toMatchObject({ code: 'RECORD_LOCKED', status: 'error' });
    expect(res.json.data[1]).toMatchObject({ code: 'SUCCESS', details: { id: free } });
    expect((await server.api('GET', `/crm/v8/Leads/${locked}`)).status).toBe(200);
    await server.setState(locked, 'normal');
  });

  it('cascade: deleting a record with a photo and 3 attachments removes them, rows and bytes', async () => {
    const baseline = await server.blobFiles();
    const id = await server.createRecord('Leads');
    const image = png(40, 30);
    const up = filePart(image, 'face.png', 'image/png');
    expect((await server.api('POST', `/crm/v8/Leads/${id}/photo`, { headers: { 'content-type': up.contentType }, body: up.body })).status).toBe(200);
    const attachmentIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const a = filePart(`attachment ${i}\n`, `a${i}.txt`, 'text/plain');
      const res = await server.api('POST', `/crm/v8/Leads/${id}/Attachments`, { headers: { 'content-type': a.contentType }, body: a.body });
      expect(res.status).toBe(200);
      attachmentIds.push(res.json.data[0].details.id);
    }
    const withMedia = await server.blobFiles();
    expect(withMedia.length).toBe(baseline.length + 4);
    expect((await server.api('GET', `/crm/v8/Leads/${id}/photo`)).body.equals(image)).toBe(true);

    const del = await server.api('DELETE', `/crm/v8/Leads/${id}`);
    expect(del.status).toBe(200);
    expect(del.json.data[0]).toMatchObject({ code: 'SUCCESS', details: { id } });

    expect(await server.blobFiles()).toEqual(baseline);
    expect(await server.tempFiles()).toEqual([]);
    expectZohoError(await server.api('GET', `/crm/v8/Leads/${id}/photo`), {
      status: 400,
      code: 'INVALID_DATA',
      message: 'the id given seems to be invalid',
      details: {},
    });
    for (const aid of attachmentIds) {
      expectZohoError(await server.api('DELETE', `/crm/v8/Leads/${id}/Attachments/${aid}`), {
        status: 400,
        code: 'INVALID_DATA',
        message: 'the related id given seems to be invalid',
        details: { related_status: 'invalid', resource_path_index: 1 },
      });
    }
  });

  it('cascade through ?ids= as well', async () => {
    const baseline = await server.blobFiles();
    const ids = [await server.createRecord('Contacts'), await server.createRecord('Contacts')];
    for (const id of ids) {
      const up = filePart(png(8, 8), 'p.png', 'image/png');
      expect((await server.api('POST', `/crm/v8/Contacts/${id}/photo`, { headers: { 'content-type': up.contentType }, body: up.body })).status).toBe(200);
      const a = filePart('x', 'x.txt', 'text/plain');
      expect((await server.api('POST', `/crm/v8/Contacts/${id}/Attachments`, { headers: { 'content-type': a.contentType }, body: a.body })).status).toBe(200);
    }
    expect((await server.blobFiles()).length).toBe(baseline.length + 4);
    const res = await server.api('DELETE', '/crm/v8/Contacts', { query: { ids: ids.join(',') } });
    expect(res.status).toBe(200);
    expect(res.json.data.map((x: any) => x.code)).toEqual(['SUCCESS', 'SUCCESS']);
    expect(await server.blobFiles()).toEqual(baseline);
  });
});

describe('Records API scopes and permissions', () => {
  it.each([
    ['ZohoCRM.modules.leads.READ cannot insert', 'ZohoCRM.modules.leads.READ', 'POST', 'OAUTH_SCOPE_MISMATCH', 401],
    ['ZohoCRM.modules.leads.CREATE cannot get', 'ZohoCRM.modules.leads.CREATE', 'GET', 'OAUTH_SCOPE_MISMATCH', 401],
    ['ZohoCRM.modules.leads.UPDATE cannot delete', 'ZohoCRM.modules.leads.UPDATE', 'DELETE', 'OAUTH_SCOPE_MISMATCH', 401],
    ['ZohoCRM.modules.contacts.ALL cannot touch Leads', 'ZohoCRM.modules.contacts.ALL', 'GET', 'OAUTH_SCOPE_MISMATCH', 401],
    ['ZohoCRM.modules.leads.WRITE may insert', 'ZohoCRM.modules.leads.WRITE', 'POST', 'SUCCESS', 201],
    ['ZohoCRM.modules.leads.READ may get', 'ZohoCRM.modules.leads.READ', 'GET', 'OK', 200],
    ['ZohoCRM.modules.leads.DELETE may delete', 'ZohoCRM.modules.leads.DELETE', 'DELETE', 'SUCCESS', 200],
    ['ZohoCRM.modules.leads.WRITE may delete', 'ZohoCRM.modules.leads.WRITE', 'DELETE', 'SUCCESS', 200],
  ])('%s', async (_name, scopes, method, code, status) => {
    const user = await server.createUser({ scopes });
    const id = await server.createRecord('Leads');
    const res =
      method === 'POST'
        ? await insert('Leads', { data: [{ Last_Name: 'S' }] }, user.token)
        : await server.api(method, `/crm/v8/Leads/${id}`, { token: user.token });
    expect(res.status, res.text).toBe(status);
    if (code === 'OAUTH_SCOPE_MISMATCH') {
      expectZohoError(res, { status, code, message: 'invalid oauth scope to access this URL' });
      expect((await server.api('GET', `/crm/v8/Leads/${id}`)).status).toBe(200);
    }
  });

  it.each([
    ['create', 'POST', { view: true, edit: true, delete: true }],
    ['view', 'GET', { create: true, edit: true, delete: true }],
    ['delete', 'DELETE', { view: true, create: true, edit: true }],
  ])('lacking Leads.%s → NO_PERMISSION 403', async (perm, method, perms) => {
    const user = await server.createUser({ permissions: { '*': { view: true, create: true, edit: true, delete: true }, Leads: perms } });
    const id = await server.createRecord('Leads');
    const res =
      method === 'POST'
        ? await insert('Leads', { data: [{ Last_Name: 'S' }] }, user.token)
        : await server.api(method, `/crm/v8/Leads/${id}`, { token: user.token });
    expectZohoError(res, { status: 403, code: 'NO_PERMISSION', details: { permissions: [`Leads.${perm}`] } });
    expect((await server.api('GET', `/crm/v8/Leads/${id}`)).status).toBe(200);
  });

  it('no Authorization header → AUTHENTICATION_FAILURE, nothing inserted', async () => {
    const before = await leadCount();
    const res = await server.api('POST', '/crm/v8/Leads', { token: null, headers: JSON_HEADERS, body: JSON.stringify({ data: [{ Last_Name: 'x' }] }) });
    expectZohoError(res, { status: 401, code: 'AUTHENTICATION_FAILURE', message: 'Authentication failed' });
    expect(await leadCount()).toBe(before);
  });
});
