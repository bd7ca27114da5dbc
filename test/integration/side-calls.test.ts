/**
 * The SDKs' side calls (docs/compatibility.md "SDK side calls"): /crm/{v}/users, /crm/{v}/org,
 * /crm/{v}/settings/modules and /crm/{v}/settings/fields, their scopes, their parameters, wrong methods and
 * wrong shapes of path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpResponse, TestServer } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const VERSIONS = ['v2', 'v2.1', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8'] as const;
const ZOHO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/;
const ADMIN_EMAIL = 'admin@crm-media.local';
const USER_KEYS = [
  'id',
  'full_name',
  'first_name',
  'last_name',
  'email',
  'status',
  'confirm',
  'profile',
  'role',
  'time_zone',
  'locale',
  'zuid',
  'created_time',
];
const SCOPE_MISMATCH = { status: 401, code: 'OAUTH_SCOPE_MISMATCH', message: 'invalid oauth scope to access this URL', details: {} };
const BAD_METHOD = { status: 400, code: 'INVALID_REQUEST_METHOD', message: 'The http request method type is not a valid one' };
const BAD_URL = { status: 404, code: 'INVALID_URL_PATTERN', message: 'Please check if the URL trying to access is a correct one' };

let server: TestServer;
let standard: { id: string; email: string; token: string };
let adminProfileUser: { id: string; email: string; token: string };
let otherOrg: { id: string; adminToken: string };

function get(path: string, query?: Record<string, string>, token?: string): Promise<HttpResponse> {
  return server.api('GET', path, { ...(query ? { query } : {}), ...(token ? { token } : {}) });
}

function expectOk(res: HttpResponse): void {
  expect(res.status, res.text).toBe(200);
  expect(res.headers['content-type']).toBe('application/json;charset=UTF-8');
}

beforeAll(async () => {
  server = await TestServer.start();
  standard = await server.createUser({ scopes: 'ZohoCRM.users.READ', permissions: { '*': { view: true } } });
  adminProfileUser = await server.createUser({ scopes: 'ZohoCRM.users.READ', admin: true });
  otherOrg = await server.createOrg();
  await server.admin('POST', `/orgs/${server.orgId}/modules`, { api_name: 'pets', singular: 'Pet', plural: 'Pets' });
  await server.admin('POST', `/orgs/${otherOrg.id}/modules`, { api_name: 'rockets' });
});
afterAll(() => server?.stop());

describe(`users (${BACKEND})`, () => {
  it('type=CurrentUser → the token\'s user, with every documented key', async () => {
    const res = await get('/crm/v8/users', { type: 'CurrentUser' });
    expectOk(res);
    expect(res.json.users).toHaveLength(1);
    const u = res.json.users[0];
    expect(Object.keys(u).sort()).toEqual([...USER_KEYS].sort());
    expect(u).toMatchObject({
      id: server.adminUserId,
      email: ADMIN_EMAIL,
      full_name: 'Admin User',
      status: 'active',
      confirm: true,
      role: { name: 'CEO' },
      time_zone: 'UTC',
    });
    expect(Object.keys(u.profile).sort()).toEqual(['id', 'name']);
    expect(Object.keys(u.role).sort()).toEqual(['id', 'name']);
    expect(u.created_time).toMatch(ZOHO_TIME);
    expect(typeof res.json.info).toBe('object');
    expect(res.json.info.count).toBe(1);

    const mine = await get('/crm/v8/users', { type: 'CurrentUser' }, standard.token);
    expectOk(mine);
    expect(mine.json.users).toHaveLength(1);
    expect(mine.json.users[0]).toMatchObject({ id: standard.id, email: standard.email, role: { name: 'Manager' } });
  });

  it.each(['AllUsers', 'ActiveUsers'])('type=%s → every (active) user of the org, none of another org', async (type) => {
    const res = await get('/crm/v8/users', { type });
    expectOk(res);
    const ids = res.json.users.map((u: { id: string }) => u.id);
    expect(ids).toEqual(expect.arrayContaining([server.adminUserId, standard.id, adminProfileUser.id]));
    expect(res.json.users.every((u: { status: string }) => u.status === 'active')).toBe(true);
    expect(JSON.stringify(res.json)).not.toContain(`admin-${otherOrg.id}@example.test`);
    expect(res.json.info.count).toBe(res.json.users.length);
  });

  it('type=AdminUsers → administrators only', async () => {
    const res = await get('/crm/v8/users', { type: 'AdminUsers' });
    expectOk(res);
    const ids = res.json.users.map((u: { id: string }) => u.id);
    expect(ids).toEqual(expect.arrayContaining([server.adminUserId, adminProfileUser.id]));
    expect(ids).not.toContain(standard.id);
    for (const u of res.json.users) expect(u.role.name).toBe('CEO');
  });

  it('no type → every user (AllUsers)', async () => {
    const all = await get('/crm/v8/users', { type: 'AllUsers' });
    const none = await get('/crm/v8/users');
    expectOk(none);
    expect(none.json.users.map((u: { id: string }) => u.id).sort()).toEqual(all.json.users.map((u: { id: string }) => u.id).sort());
  });

  it.each(['Nobody', '', 'currentuser'])('type=%j → INVALID_DATA {param_name: type}', async (type) => {
    const res = await get('/crm/v8/users', { type });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
    expect(res.json.details.param_name).toBe('type');
  });

  it('another org sees only its own users', async () => {
    const res = await get('/crm/v8/users', { type: 'AllUsers' }, otherOrg.adminToken);
    expectOk(res);
    expect(res.json.users).toHaveLength(1);
    expect(res.json.users[0].email).toBe(`admin-${otherOrg.id}@example.test`);
  });
});

describe(`org (${BACKEND})`, () => {
  it('→ {org: [{id, zgid, company_name, time_zone, currency, …}]}', async () => {
    const res = await get('/crm/v8/org');
    expectOk(res);
    expect(res.json.org).toHaveLength(1);
    expect(res.json.org[0]).toMatchObject({ id: server.orgId, time_zone: 'UTC' });
    for (const k of ['id', 'zgid', 'company_name', 'time_zone', 'currency']) expect(res.json.org[0]).toHaveProperty(k);
    expect(typeof res.json.org[0].company_name).toBe('string');
    const other = await get('/crm/v8/org', undefined, otherOrg.adminToken);
    expectOk(other);
    expect(other.json.org[0].id).toBe(otherOrg.id);
  });
});

describe(`settings/modules (${BACKEND})`, () => {
  type Mod = { api_name: string; api_supported: boolean; generated_type: string };
  const byName = (res: HttpResponse) => new Map<string, Mod>((res.json.modules as Mod[]).map((m) => [m.api_name, m]));

  it('standard modules api_supported + default; Documents not supported; the org\'s custom module as custom', async () => {
    const res = await get('/crm/v8/settings/modules');
    expectOk(res);
    const mods = byName(res);
    for (const name of ['Leads', 'Contacts', 'Accounts', 'Deals', 'Products', 'Vendors', 'Tasks', 'Calls', 'Notes', 'Price_Books']) {
      expect(mods.get(name), name).toMatchObject({ api_supported: true, generated_type: 'default' });
    }
    expect(mods.get('Documents')).toMatchObject({ api_supported: false });
    expect(mods.get('pets')).toMatchObject({ api_supported: true, generated_type: 'custom' });
    expect(mods.has('rockets')).toBe(false);
    expect(new Set(res.json.modules.map((m: Mod) => m.api_name)).size).toBe(res.json.modules.length);
  });

  it('a custom module created afterwards appears; another org sees its own', async () => {
    await server.admin('POST', `/orgs/${server.orgId}/modules`, { api_name: 'late_module' });
    const mods = byName(await get('/crm/v8/settings/modules'));
    expect(mods.get('late_module')).toMatchObject({ api_supported: true, generated_type: 'custom' });
    const other = byName(await get('/crm/v8/settings/modules', undefined, otherOrg.adminToken));
    expect(other.get('rockets')).toMatchObject({ generated_type: 'custom' });
    expect(other.has('pets')).toBe(false);
  });
});

describe(`settings/fields (${BACKEND})`, () => {
  type Field = { api_name: string; id: string };
  const names = (res: HttpResponse) => (res.json.fields as Field[]).map((f) => f.api_name);
  const SYSTEM = ['Owner', 'Created_By', 'Modified_By', 'Created_Time', 'Modified_Time'];

  it('module=Leads → name fields, system fields, Record_Image', async () => {
    const res = await get('/crm/v8/settings/fields', { module: 'Leads' });
    expectOk(res);
    expect(names(res)).toEqual(expect.arrayContaining(['First_Name', 'Last_Name', ...SYSTEM, 'Record_Image']));
  });

  it('module=pets (custom) → Name, system fields, Record_Image', async () => {
    const res = await get('/crm/v8/settings/fields', { module: 'pets' });
    expectOk(res);
    expect(names(res)).toEqual(expect.arrayContaining(['Name', ...SYSTEM, 'Record_Image']));
  });

  it('module=Tasks (no photos) → no Record_Image; module name in any case', async () => {
    const res = await get('/crm/v8/settings/fields', { module: 'tasks' });
    expectOk(res);
    expect(names(res)).toEqual(expect.arrayContaining(['Subject', ...SYSTEM]));
    expect(names(res)).not.toContain('Record_Image');
  });

  it('ids are stable across calls and distinct within a module', async () => {
    for (const module of ['Leads', 'pets', 'Accounts']) {
      const a = await get('/crm/v8/settings/fields', { module });
      const b = await get('/crm/v8/settings/fields', { module });
      expect(a.json.fields).toEqual(b.json.fields);
      const ids = (a.json.fields as Field[]).map((f) => f.id);
      expect(ids.length).toBeGreaterThan(0);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) expect(id).toMatch(/^\d{1,19}$/);
    }
    const v2 = await get('/crm/v2/settings/fields', { module: 'Leads' });
    const v8 = await get('/crm/v8/settings/fields', { module: 'Leads' });
    expect(v2.json.fields).toEqual(v8.json.fields);
  });

  it('module=Documents → INVALID_MODULE "The given module is not supported in API"', async () => {
    expectZohoError(await get('/crm/v8/settings/fields', { module: 'Documents' }), {
      status: 400,
      code: 'INVALID_MODULE',
      message: 'The given module is not supported in API',
    });
  });

  it('unknown module, or another org\'s custom module → INVALID_MODULE', async () => {
    for (const module of ['NoSuchModule', 'rockets']) {
      expectZohoError(await get('/crm/v8/settings/fields', { module }), {
        status: 400,
        code: 'INVALID_MODULE',
        message: 'the module name given seems to be invalid',
      });
    }
  });

  it.each([['missing', undefined], ['empty', '']])('module %s → REQUIRED_PARAM_MISSING {param_name: module}', async (_name, module) => {
    expectZohoError(await get('/crm/v8/settings/fields', module === undefined ? undefined : { module }), {
      status: 400,
      code: 'REQUIRED_PARAM_MISSING',
      details: { param_name: 'module' },
    });
  });
});

describe(`every version (${BACKEND})`, () => {
  it.each(VERSIONS)('%s: users, org, settings/modules, settings/fields answer', async (v) => {
    expectOk(await get(`/crm/${v}/users`, { type: 'CurrentUser' }));
    expectOk(await get(`/crm/${v}/org`));
    expectOk(await get(`/crm/${v}/settings/modules`));
    expectOk(await get(`/crm/${v}/settings/fields`, { module: 'Leads' }));
  });
});

describe(`scopes (${BACKEND})`, () => {
  const USERS = ['/crm/v8/users', { type: 'CurrentUser' }] as const;
  const ORG = ['/crm/v8/org', undefined] as const;
  const MODULES = ['/crm/v8/settings/modules', undefined] as const;
  const FIELDS = ['/crm/v8/settings/fields', { module: 'Leads' }] as const;

  it.each([
    ['users', USERS, 'ZohoCRM.users.READ', true],
    ['users', USERS, 'ZohoCRM.users.ALL', true],
    ['users', USERS, 'zohocrm.USERS.read', true],
    ['users', USERS, 'ZohoCRM.modules.ALL', false],
    ['users', USERS, 'ZohoCRM.users.CREATE', false],
    ['users', USERS, 'ZohoCRM.org.ALL', false],
    ['users', USERS, 'ZohoCRM.settings.ALL', false],
    ['org', ORG, 'ZohoCRM.org.READ', true],
    ['org', ORG, 'ZohoCRM.org.ALL', true],
    ['org', ORG, 'ZohoCRM.users.ALL', false],
    ['org', ORG, 'ZohoCRM.modules.ALL', false],
    ['org', ORG, 'ZohoCRM.settings.ALL', false],
    ['settings/modules', MODULES, 'ZohoCRM.settings.modules.READ', true],
    ['settings/modules', MODULES, 'ZohoCRM.settings.modules.ALL', true],
    ['settings/modules', MODULES, 'ZohoCRM.settings.ALL', true],
    ['settings/modules', MODULES, 'ZohoCRM.settings.fields.READ', false],
    ['settings/modules', MODULES, 'ZohoCRM.settings.modules.CREATE', false],
    ['settings/modules', MODULES, 'ZohoCRM.modules.ALL', false],
    ['settings/fields', FIELDS, 'ZohoCRM.settings.fields.READ', true],
    ['settings/fields', FIELDS, 'ZohoCRM.settings.fields.ALL', true],
    ['settings/fields', FIELDS, 'ZohoCRM.settings.ALL', true],
    ['settings/fields', FIELDS, 'ZohoCRM.settings.modules.READ', false],
    ['settings/fields', FIELDS, 'ZohoCRM.modules.ALL', false],
    ['settings/fields', FIELDS, 'ZohoCRM.users.ALL', false],
  ] as const)('%s with %s → allowed: %s', async (_name, [path, query], scopes, allowed) => {
    const user = await server.createUser({ scopes });
    const res = await get(path, query ? { ...query } : undefined, user.token);
    if (allowed) expectOk(res);
    else expectZohoError(res, SCOPE_MISMATCH);
  });

  it('scope is checked before the parameters', async () => {
    const user = await server.createUser({ scopes: 'ZohoCRM.modules.ALL' });
    expectZohoError(await get('/crm/v8/settings/fields', undefined, user.token), SCOPE_MISMATCH);
    expectZohoError(await get('/crm/v8/users', { type: 'Nobody' }, user.token), SCOPE_MISMATCH);
  });

  it('no token → AUTHENTICATION_FAILURE; unknown token → INVALID_TOKEN', async () => {
    expectZohoError(await server.api('GET', '/crm/v8/users', { token: null }), { status: 401, code: 'AUTHENTICATION_FAILURE' });
    expectZohoError(await get('/crm/v8/org', undefined, 'nope'), { status: 401, code: 'INVALID_TOKEN' });
  });
});

describe(`methods and paths (${BACKEND})`, () => {
  it.each(
    ['/crm/v8/users', '/crm/v8/org', '/crm/v8/settings/modules', '/crm/v8/settings/fields?module=Leads'].flatMap((path) =>
      ['POST', 'PUT', 'PATCH', 'DELETE'].map((method) => [method, path] as const),
    ),
  )('%s %s → INVALID_REQUEST_METHOD', async (method, path) => {
    expectZohoError(await server.api(method, path, { headers: { 'content-type': 'application/json' }, body: '{}' }), BAD_METHOD);
  });

  it.each(['/crm/v8/users', '/crm/v8/org', '/crm/v8/settings/modules'])('HEAD %s → 200 without a body', async (path) => {
    const res = await server.api('HEAD', path);
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
  });

  it.each([
    '/crm/v8/users/123',
    '/crm/v8/users/123/photo',
    '/crm/v8/org/1',
    '/crm/v8/settings',
    '/crm/v8/settings/layouts',
    '/crm/v8/settings/modules/Leads',
    '/crm/v9/users',
  ])('GET %s → INVALID_URL_PATTERN 404', async (path) => {
    expectZohoError(await server.api('GET', path), BAD_URL);
  });

  it('the server still answers', async () => {
    expectOk(await get('/crm/v8/users', { type: 'CurrentUser' }));
  });
});
