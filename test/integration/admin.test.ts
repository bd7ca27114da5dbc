/**
 * The admin API under /_admin (x-admin-key or Authorization: Bearer): orgs, profiles, users, custom modules and
 * sharing, records and states, tokens, seed (idempotent) and reset.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer, http } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

const ADMIN_KEY = 'test-admin-key-0123456789';
const ID = /^\d{19}$/;
const TOKEN = /^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$/;

let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start({ shutdownTimeoutMs: 1_000 });
});
afterAll(() => server?.stop());

/** An admin call returning the raw response (the harness's `admin()` throws on errors). */
function adminRaw(method: string, path: string, body?: unknown, headers: Record<string, string> = { 'x-admin-key': ADMIN_KEY }): Promise<HttpResponse> {
  return http(method, `${server.url}/_admin${path}`, {
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function uploadPhoto(module: string, id: string, image: Buffer, token = server.devToken): Promise<HttpResponse> {
  const { body, contentType } = filePart(image, 'p.png', 'image/png');
  return server.api('POST', `/crm/v8/${module}/${id}/photo`, { token, headers: { 'content-type': contentType }, body });
}

describe('admin authentication', () => {
  it.each([
    ['no key', {}],
    ['a wrong x-admin-key', { 'x-admin-key': 'wrong-key-wrong-key-wrong' }],
    ['the key with a suffix', { 'x-admin-key': `${ADMIN_KEY}x` }],
    ['a key prefix', { 'x-admin-key': ADMIN_KEY.slice(0, -1) }],
    ['a wrong bearer', { authorization: 'Bearer wrong-key-wrong-key-wrong' }],
    ['the key under the Zoho scheme', { authorization: `Zoho-oauthtoken ${ADMIN_KEY}` }],
    ['the dev token as bearer', { authorization: 'Bearer DEVTOKEN' }],
    ['an empty key', { 'x-admin-key': '' }],
  ])('%s → 401 Zoho-shaped', async (_name, headers: Record<string, string>) => {
    const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('DEVTOKEN', server.devToken)]));
    for (const [method, path, body] of [
      ['GET', '/orgs', undefined],
      ['POST', '/orgs', { name: 'Sneaky' }],
      ['POST', '/reset', undefined],
    ] as const) {
      const res = await adminRaw(method, path, body, h);
      expectZohoError(res, { status: 401, code: 'AUTHENTICATION_FAILURE', message: 'a valid admin key is required', details: {} });
    }
    // Nothing was created or reset.
    const orgs = await server.admin('GET', '/orgs');
    expect(orgs.orgs.some((o: any) => o.name === 'Sneaky')).toBe(false);
    expect((await server.api('GET', `/crm/v8/Leads/1`)).json.code).not.toBe('INVALID_TOKEN');
  });

  it('x-admin-key and Authorization: Bearer both work', async () => {
    const a = await adminRaw('GET', '/orgs', undefined, { 'x-admin-key': ADMIN_KEY });
    const b = await adminRaw('GET', '/orgs', undefined, { authorization: `Bearer ${ADMIN_KEY}` });
    const c = await adminRaw('GET', '/orgs', undefined, { authorization: `bearer ${ADMIN_KEY}` });
    for (const r of [a, b, c]) {
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
    }
    expect(b.json).toEqual(a.json);
  });

  it('an unknown admin path → INVALID_URL_PATTERN 404', async () => {
    expectZohoError(await adminRaw('GET', '/nothing-here'), { status: 404, code: 'INVALID_URL_PATTERN' });
  });

  it('a body that is not JSON → INVALID_DATA', async () => {
    expectZohoError(await adminRaw('POST', '/orgs', '{"name":'), { status: 400, code: 'INVALID_DATA' });
    expectZohoError(await adminRaw('POST', '/orgs', { time_zone: 'UTC' }), { status: 400, code: 'INVALID_DATA' });
  });
});

describe('orgs, profiles, users', () => {
  let orgId = '';

  it('creates and lists orgs; the bootstrap org is there', async () => {
    const org = await server.admin('POST', '/orgs', { name: 'Globex', time_zone: 'America/New_York' });
    expect(org).toMatchObject({ name: 'Globex', time_zone: 'America/New_York' });
    expect(org.id).toMatch(ID);
    orgId = org.id;
    const list = await server.admin('GET', '/orgs');
    const ids = list.orgs.map((o: any) => o.id);
    expect(ids).toContain(server.orgId);
    expect(ids).toContain(orgId);
    // Default time zone.
    const plain = await server.admin('POST', '/orgs', { name: 'Plain' });
    expect(plain.time_zone).toBe('UTC');
    // A chosen id.
    const fixed = await server.admin('POST', '/orgs', { id: '4150868000000001234', name: 'Fixed' });
    expect(fixed.id).toBe('4150868000000001234');
    expectZohoError(await adminRaw('POST', '/orgs', { id: '4150868000000001234', name: 'Again' }), { status: 400, code: 'DUPLICATE_DATA' });
    expectZohoError(await adminRaw('POST', '/orgs', { id: 'not-digits', name: 'Bad id' }), { status: 400, code: 'INVALID_DATA' });
  });

  it.each(['Mars/Olympus_Mons', 'UTC+25', 'not a zone', ''])('a bad time zone %j → INVALID_DATA, nothing created', async (tz) => {
    const before = (await server.admin('GET', '/orgs')).orgs.length;
    const res = await adminRaw('POST', '/orgs', { name: `TZ ${tz}`, time_zone: tz });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
    expect((await server.admin('GET', '/orgs')).orgs.length).toBe(before);
  });

  it('every org has Administrator and Standard profiles; new profiles carry their permissions', async () => {
    const initial = await server.admin('GET', `/orgs/${orgId}/profiles`);
    expect(initial.profiles.map((p: any) => p.name).sort()).toEqual(['Administrator', 'Standard']);
    expect(initial.profiles.find((p: any) => p.name === 'Administrator').admin).toBe(true);
    const perms = { '*': { view: true }, Leads: { view: true, create: true, edit: true, delete: false } };
    const p = await server.admin('POST', `/orgs/${orgId}/profiles`, { name: 'Sales', permissions: perms });
    expect(p.id).toMatch(ID);
    expect(p).toMatchObject({ name: 'Sales', admin: false });
    expect(p.permissions).toEqual({
      '*': { view: true, create: false, edit: false, delete: false },
      Leads: { view: true, create: true, edit: true, delete: false },
    });
    const list = await server.admin('GET', `/orgs/${orgId}/profiles`);
    expect(list.profiles).toHaveLength(3);
    expectZohoError(await adminRaw('POST', `/orgs/${orgId}/profiles`, { name: 'sales' }), { status: 400, code: 'DUPLICATE_DATA' });
    expectZohoError(await adminRaw('POST', `/orgs/${orgId}/profiles`, { name: 'Bad', permissions: { Leads: { view: 'yes' } } }), {
      status: 400,
      code: 'INVALID_DATA',
    });
  });

  it('creates users by profile name or id; a duplicate email (any case) → DUPLICATE_DATA', async () => {
    const u = await server.admin('POST', `/orgs/${orgId}/users`, { name: 'Sam Sales', email: 'sam@globex.test', profile: 'Sales' });
    expect(u).toMatchObject({ name: 'Sam Sales', email: 'sam@globex.test', status: 'active' });
    expect(u.id).toMatch(ID);
    const profiles = (await server.admin('GET', `/orgs/${orgId}/profiles`)).profiles;
    expect(u.profile_id).toBe(profiles.find((p: any) => p.name === 'Sales').id);
    const std = profiles.find((p: any) => p.name === 'Standard');
    const v = await server.admin('POST', `/orgs/${orgId}/users`, { name: 'Val', email: 'val@globex.test', profile: std.id });
    expect(v.profile_id).toBe(std.id);

    const dup = await adminRaw('POST', `/orgs/${orgId}/users`, { name: 'Other Sam', email: 'SAM@globex.test', profile: 'Standard' });
    expectZohoError(dup, { status: 400, code: 'DUPLICATE_DATA' });
    const users = await server.admin('GET', `/orgs/${orgId}/users`);
    expect(users.users.filter((x: any) => x.email.toLowerCase() === 'sam@globex.test')).toHaveLength(1);

    // The same email in another org is fine.
    const again = await server.admin('POST', `/orgs/${server.orgId}/users`, { name: 'Sam', email: 'sam@globex.test', profile: 'Standard' });
    expect(again.id).toMatch(ID);

    expectZohoError(await adminRaw('POST', `/orgs/${orgId}/users`, { name: 'X', email: 'not-an-email', profile: 'Standard' }), {
      status: 400,
      code: 'INVALID_DATA',
    });
    const unknownProfile = await adminRaw('POST', `/orgs/${orgId}/users`, { name: 'X', email: 'x@globex.test', profile: 'Nope' });
    expect(unknownProfile.status).toBeGreaterThanOrEqual(400);
    expect(unknownProfile.json).toMatchObject({ status: 'error' });
  });

  it('an unknown org → a Zoho error, no stack', async () => {
    for (const path of ['/orgs/1234567890123456789/users', '/orgs/1234567890123456789/profiles', '/orgs/nope/tokens']) {
      const res = await adminRaw('GET', path);
      expect(res.status).toBe(404);
      expectZohoError(res, { status: 404, code: 'INVALID_DATA' });
    }
  });
});

describe('custom modules and sharing', () => {
  let org: { id: string; adminToken: string };

  beforeAll(async () => {
    org = await server.createOrg('Modules Org');
  });

  it('creates a custom module that the Zoho API then serves (records and photos)', async () => {
    const m = await server.admin('POST', `/orgs/${org.id}/modules`, { api_name: 'Pets', singular: 'Pet', plural: 'Pets' });
    expect(m).toEqual({ api_name: 'Pets', custom: true, singular: 'Pet', plural: 'Pets', sharing: 'public_read_write' });
    const list = await server.admin('GET', `/orgs/${org.id}/modules`);
    expect(list.modules.map((x: any) => x.api_name)).toContain('Pets');
    const id = await server.createRecord('Pets', org.adminToken, { Name: 'Rex' });
    expect((await uploadPhoto('pets', id, png(4, 4), org.adminToken)).status).toBe(200);
    // Another org does not have it.
    expectZohoError(await server.api('GET', `/crm/v8/Pets/${id}`), { status: 400, code: 'INVALID_MODULE' });
    expectZohoError(await adminRaw('POST', `/orgs/${org.id}/modules`, { api_name: 'Pets' }), { status: 400, code: 'DUPLICATE_DATA' });
  });

  it.each(['Leads', 'leads', 'CONTACTS', 'Price_Books', 'Appointments__s', 'Documents', 'Attachments', 'custom', '1Pets', 'Pets-2', 'Pe ts', ''])(
    'a custom module named %j → INVALID_DATA, nothing created',
    async (name) => {
      const before = (await server.admin('GET', `/orgs/${org.id}/modules`)).modules;
      const res = await adminRaw('POST', `/orgs/${org.id}/modules`, { api_name: name });
      expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
      expect((await server.admin('GET', `/orgs/${org.id}/modules`)).modules).toEqual(before);
    },
  );

  it('sharing: private hides others\' records, read-only refuses their changes, read-write allows them', async () => {
    const owner = await server.createUser({ org: org.id });
    const other = await server.createUser({ org: org.id });
    const id = await server.createRecord('Leads', owner.token);
    const image = png(6, 6);
    expect((await uploadPhoto('Leads', id, image, owner.token)).status).toBe(200);

    const set = (sharing: string) => server.admin('PUT', `/orgs/${org.id}/modules/Leads/sharing`, { sharing });
    expect(await set('private')).toMatchObject({ api_name: 'Leads', custom: false, sharing: 'private' });
    expectZohoError(await server.api('GET', `/crm/v8/Leads/${id}/photo`, { token: other.token }), {
      status: 400,
      code: 'AUTHORIZATION_FAILED',
      message: 'User does not have sufficient privilege to download images',
    });
    expect((await server.api('GET', `/crm/v8/Leads/${id}/photo`, { token: owner.token })).status).toBe(200);
    expect((await server.api('GET', `/crm/v8/Leads/${id}/photo`, { token: org.adminToken })).status).toBe(200);

    await set('public_read_only');
    expect((await server.api('GET', `/crm/v8/Leads/${id}/photo`, { token: other.token })).status).toBe(200);
    expectZohoError(await uploadPhoto('Leads', id, png(7, 7), other.token), {
      status: 400,
      code: 'AUTHORIZATION_FAILED',
      message: 'User does not have sufficient privilege to upload photo',
    });
    expect((await server.api('GET', `/crm/v8/Leads/${id}/photo`, { token: owner.token })).body.equals(image)).toBe(true);

    await set('public_read_write');
    expect((await uploadPhoto('Leads', id, png(7, 7), other.token)).status).toBe(200);

    const list = await server.admin('GET', `/orgs/${org.id}/modules`);
    expect(list.modules.find((x: any) => x.api_name === 'Leads').sharing).toBe('public_read_write');
    expectZohoError(await adminRaw('PUT', `/orgs/${org.id}/modules/Leads/sharing`, { sharing: 'everyone' }), { status: 400, code: 'INVALID_DATA' });
    const unknown = await adminRaw('PUT', `/orgs/${org.id}/modules/Nope/sharing`, { sharing: 'private' });
    expectZohoError(unknown, { status: 404, code: 'INVALID_DATA' });
  });
});

describe('records through the admin API', () => {
  it('creates a record with data, owner and state; changes the state; deletes it with its media', async () => {
    const owner = await server.createUser();
    const created = await server.admin('POST', `/orgs/${server.orgId}/records`, {
      module: 'leads',
      owner: owner.email,
      data: { Last_Name: 'Admin-made', Tags: ['a', { b: 1 }] },
      state: 'awaiting_approval',
    });
    expect(created).toMatchObject({ module: 'Leads', owner_id: owner.id, state: 'awaiting_approval', data: { Last_Name: 'Admin-made' } });
    expect(created.id).toMatch(ID);
    const id = created.id as string;

    const got = await server.api('GET', `/crm/v8/Leads/${id}`);
    expect(got.json.data[0]).toMatchObject({ Last_Name: 'Admin-made', Tags: ['a', { b: 1 }], $approved: false, id });
    expect(got.json.data[0].Owner.id).toBe(owner.id);
    expectZohoError(await uploadPhoto('Leads', id, png(3, 3)), { status: 400, code: 'NOT_APPROVED', details: { id } });

    const normal = await server.admin('PUT', `/orgs/${server.orgId}/records/${id}/state`, { state: 'normal' });
    expect(normal.state).toBe('normal');
    expect((await uploadPhoto('Leads', id, png(3, 3))).status).toBe(200);
    const att = filePart('admin attachment', 'a.txt', 'text/plain');
    expect((await server.api('POST', `/crm/v8/Leads/${id}/Attachments`, { headers: { 'content-type': att.contentType }, body: att.body })).status).toBe(200);

    const listed = await server.admin('GET', `/orgs/${server.orgId}/records?module=Leads`);
    expect(listed.records.map((r: any) => r.id)).toContain(id);

    const blobsBefore = await server.blobFiles();
    expect(await server.admin('DELETE', `/orgs/${server.orgId}/records/${id}`)).toEqual({ deleted: id });
    expect((await server.blobFiles()).length).toBe(blobsBefore.length - 2);
    expectZohoError(await server.api('GET', `/crm/v8/Leads/${id}`), { status: 400, code: 'INVALID_DATA', message: 'the id given seems to be invalid' });
    expectZohoError(await adminRaw('DELETE', `/orgs/${server.orgId}/records/${id}`), { status: 404, code: 'INVALID_DATA' });
  });

  it.each(['zia_vision_processing', 'merge_in_progress', 'photo_rejected', 'awaiting_approval', 'normal'])('state %s can be set', async (state) => {
    const id = await server.createRecord('Contacts');
    const r = await server.admin('PUT', `/orgs/${server.orgId}/records/${id}/state`, { state });
    expect(r.state).toBe(state);
    const view = (await server.api('GET', `/crm/v8/Contacts/${id}`)).json.data[0];
    expect(view.$locked_for_me).toBe(state === 'zia_vision_processing' || state === 'merge_in_progress');
  });

  it('bad input: unknown state, unknown record, unknown module, duplicate id, missing module param', async () => {
    const id = await server.createRecord('Leads');
    expectZohoError(await adminRaw('PUT', `/orgs/${server.orgId}/records/${id}/state`, { state: 'frozen' }), { status: 400, code: 'INVALID_DATA' });
    expectZohoError(await adminRaw('PUT', `/orgs/${server.orgId}/records/1234567890123456789/state`, { state: 'normal' }), {
      status: 404,
      code: 'INVALID_DATA',
    });
    expectZohoError(await adminRaw('POST', `/orgs/${server.orgId}/records`, { module: 'Nope' }), { status: 404, code: 'INVALID_DATA' });
    expectZohoError(await adminRaw('POST', `/orgs/${server.orgId}/records`, { module: 'Leads', id }), { status: 400, code: 'DUPLICATE_DATA' });
    expectZohoError(await adminRaw('GET', `/orgs/${server.orgId}/records`), {
      status: 400,
      code: 'REQUIRED_PARAM_MISSING',
      details: { param_name: 'module' },
    });
    // The record is untouched.
    expect((await server.api('GET', `/crm/v8/Leads/${id}`)).json.data[0].$approved).toBe(true);
  });
});

describe('tokens', () => {
  it('issues a token with scopes; it works within them only', async () => {
    const user = await server.admin('POST', `/orgs/${server.orgId}/users`, { name: 'Reader', email: 'reader@example.test', profile: 'Standard' });
    const issued = await server.admin('POST', `/orgs/${server.orgId}/tokens`, { user: user.id, scopes: 'ZohoCRM.modules.leads.READ', label: 'ro' });
    expect(issued.access_token).toMatch(TOKEN);
    expect(issued).toMatchObject({ user_id: user.id, scopes: 'ZohoCRM.modules.leads.READ', label: 'ro', expires_at: null, revoked_at: null });
    expect(issued.id).toMatch(ID);
    const id = await server.createRecord('Leads');
    expect((await server.api('GET', `/crm/v8/Leads/${id}/photo`, { token: issued.access_token })).status).toBe(204);
    expectZohoError(await uploadPhoto('Leads', id, png(2, 2), issued.access_token), { status: 401, code: 'OAUTH_SCOPE_MISMATCH' });
    // By email as well.
    const byEmail = await server.admin('POST', `/orgs/${server.orgId}/tokens`, { user: 'READER@example.test' });
    expect(byEmail.user_id).toBe(user.id);
  });

  it('a chosen value works; the same value twice → DUPLICATE_DATA; a value with spaces → INVALID_DATA', async () => {
    const value = `1000.${'c'.repeat(32)}.${'d'.repeat(32)}`;
    const issued = await server.admin('POST', `/orgs/${server.orgId}/tokens`, { user: server.adminUserId, value });
    expect(issued.access_token).toBe(value);
    expect((await server.api('GET', `/crm/v8/Leads/1234567890123456789/photo`, { token: value })).json.code).toBe('INVALID_DATA');
    expectZohoError(await adminRaw('POST', `/orgs/${server.orgId}/tokens`, { user: server.adminUserId, value }), { status: 400, code: 'DUPLICATE_DATA' });
    expectZohoError(await adminRaw('POST', `/orgs/${server.orgId}/tokens`, { user: server.adminUserId, value: 'has a space' }), {
      status: 400,
      code: 'INVALID_DATA',
    });
    expectZohoError(await adminRaw('POST', `/orgs/${server.orgId}/tokens`, { user: server.adminUserId, scopes: 'everything please' }), {
      status: 400,
      code: 'INVALID_DATA',
    });
    expectZohoError(await adminRaw('POST', `/orgs/${server.orgId}/tokens`, { user: server.adminUserId, expires_in: -5 }), {
      status: 400,
      code: 'INVALID_DATA',
    });
    expectZohoError(await adminRaw('POST', `/orgs/${server.orgId}/tokens`, { user: 'nobody@example.test' }), { status: 404, code: 'INVALID_DATA' });
  });

  it('an expiring token works until it expires, then INVALID_TOKEN', async () => {
    const long = await server.admin('POST', `/orgs/${server.orgId}/tokens`, { user: server.adminUserId, expires_in: 3600 });
    expect(Date.parse(long.expires_at) - Date.now()).toBeGreaterThan(3500_000);
    expect((await server.api('GET', '/crm/v8/Leads/1/photo', { token: long.access_token })).json.code).toBe('INVALID_DATA');
    const short = await server.admin('POST', `/orgs/${server.orgId}/tokens`, { user: server.adminUserId, expires_in: 0.05 });
    await sleep(120);
    expectZohoError(await server.api('GET', '/crm/v8/Leads/1/photo', { token: short.access_token }), {
      status: 401,
      code: 'INVALID_TOKEN',
      message: 'invalid oauth token',
    });
  });

  it('the list never shows a value or a hash', async () => {
    const issued = await server.admin('POST', `/orgs/${server.orgId}/tokens`, { user: server.adminUserId, label: 'listed' });
    const res = await adminRaw('GET', `/orgs/${server.orgId}/tokens`);
    expect(res.status).toBe(200);
    const listed = res.json.tokens.find((t: any) => t.id === issued.id);
    expect(listed).toBeDefined();
    expect(Object.keys(listed).sort()).toEqual(['created_at', 'expires_at', 'id', 'label', 'revoked_at', 'scopes', 'user_id']);
    const hash = createHash('sha256').update(issued.access_token).digest('hex');
    for (const secret of [issued.access_token, hash, server.devToken, createHash('sha256').update(server.devToken).digest('hex')]) {
      expect(res.text).not.toContain(secret);
    }
    expect(res.text).not.toMatch(/1000\.[0-9a-f]{32}\.[0-9a-f]{32}/);
    expect(res.text).not.toMatch(/[0-9a-f]{64}/);
  });

  it('revoke → INVALID_TOKEN on use at once; revoking an unknown token → 404', async () => {
    const issued = await server.admin('POST', `/orgs/${server.orgId}/tokens`, { user: server.adminUserId });
    const id = await server.createRecord('Leads', issued.access_token);
    // Used once, so it is in the token cache.
    expect((await server.api('GET', `/crm/v8/Leads/${id}`, { token: issued.access_token })).status).toBe(200);
    expect(await server.admin('DELETE', `/orgs/${server.orgId}/tokens/${issued.id}`)).toEqual({ revoked: issued.id });
    expectZohoError(await server.api('GET', `/crm/v8/Leads/${id}`, { token: issued.access_token }), {
      status: 401,
      code: 'INVALID_TOKEN',
      message: 'invalid oauth token',
    });
    const listed = (await server.admin('GET', `/orgs/${server.orgId}/tokens`)).tokens.find((t: any) => t.id === issued.id);
    expect(listed.revoked_at).not.toBeNull();
    expectZohoError(await adminRaw('DELETE', `/orgs/${server.orgId}/tokens/1234567890123456789`), { status: 404, code: 'INVALID_DATA' });
    // Other tokens are unaffected.
    expect((await server.api('GET', `/crm/v8/Leads/${id}`)).status).toBe(200);
  });
});

describe('seed', () => {
  const tokenValue = `1000.${'a'.repeat(32)}.${'b'.repeat(32)}`;
  const seed = {
    orgs: [
      {
        name: 'Acme',
        time_zone: 'Asia/Kolkata',
        profiles: [{ name: 'Sales', permissions: { '*': { view: true }, Leads: { view: true, create: true, edit: true, delete: false } } }],
        users: [
          { name: 'Patricia Boyle', email: 'patricia@acme.test', profile: 'Administrator' },
          { name: 'Sal Sales', email: 'sal@acme.test', profile: 'Sales' },
        ],
        modules: [
          { api_name: 'Pets', sharing: 'private' },
          { api_name: 'Leads', sharing: 'public_read_only' },
        ],
        records: [
          { id: '4150868000000225013', module: 'Leads', owner: 'patricia@acme.test', data: { Last_Name: 'Boyle' }, state: 'awaiting_approval' },
          { id: '4150868000000225014', module: 'Pets', owner: 'patricia@acme.test', data: { Name: 'Rex' } },
        ],
        tokens: [
          { user: 'patricia@acme.test', value: tokenValue, scopes: 'ZohoCRM.modules.ALL' },
          { user: 'sal@acme.test', value: `1000.${'e'.repeat(32)}.${'f'.repeat(32)}`, scopes: 'ZohoCRM.modules.ALL' },
        ],
      },
    ],
  };

  async function snapshot(orgId: string) {
    const [profiles, users, modules, records, pets, tokens] = await Promise.all([
      server.admin('GET', `/orgs/${orgId}/profiles`),
      server.admin('GET', `/orgs/${orgId}/users`),
      server.admin('GET', `/orgs/${orgId}/modules`),
      server.admin('GET', `/orgs/${orgId}/records?module=Leads`),
      server.admin('GET', `/orgs/${orgId}/records?module=Pets`),
      server.admin('GET', `/orgs/${orgId}/tokens`),
    ]);
    return { profiles, users, modules, records, pets, tokens };
  }

  it('creates everything; re-posting is idempotent (same counts, no duplicates); the fixed token works', async () => {
    const orgsBefore = (await server.admin('GET', '/orgs')).orgs.length;
    const first = await server.admin('POST', '/seed', seed);
    expect(first.orgs).toHaveLength(1);
    expect(first.orgs[0].name).toBe('Acme');
    expect(first.orgs[0].id).toMatch(ID);
    expect(first.tokens).toEqual([]);
    // org + profile + 2 users + Pets + 2 records + 2 tokens (the Leads sharing is a setting, not a creation)
    expect(first.created).toBe(9);
    const orgId = first.orgs[0].id as string;
    const snap1 = await snapshot(orgId);
    expect(snap1.profiles.profiles.map((p: any) => p.name).sort()).toEqual(['Administrator', 'Sales', 'Standard']);
    expect(snap1.users.users).toHaveLength(2);
    expect(snap1.records.records).toHaveLength(1);
    expect(snap1.pets.records).toHaveLength(1);
    expect(snap1.tokens.tokens).toHaveLength(2);
    expect(snap1.modules.modules.find((m: any) => m.api_name === 'Leads').sharing).toBe('public_read_only');
    expect(snap1.modules.modules.find((m: any) => m.api_name === 'Pets')).toMatchObject({ custom: true, sharing: 'private' });

    const second = await server.admin('POST', '/seed', seed);
    expect(second).toEqual({ orgs: first.orgs, tokens: [], client_secrets: [], created: 0 });
    expect(await snapshot(orgId)).toEqual(snap1);
    expect((await server.admin('GET', '/orgs')).orgs.length).toBe(orgsBefore + 1);

    // The seeded token: Patricia (administrator) sees the seeded record, in its state, with Kolkata times.
    const got = await server.api('GET', '/crm/v8/Leads/4150868000000225013', { token: tokenValue });
    expect(got.status).toBe(200);
    expect(got.json.data[0]).toMatchObject({ Last_Name: 'Boyle', id: '4150868000000225013', $approved: false });
    expect(got.json.data[0].Owner).toMatchObject({ name: 'Patricia Boyle', email: 'patricia@acme.test' });
    expect(got.json.data[0].Created_Time).toMatch(/\+05:30$/);
    expectZohoError(await server.api('GET', '/crm/v8/Leads/4150868000000225013/photo', { token: tokenValue }), {
      status: 400,
      code: 'NOT_APPROVED',
    });
    // Sal (Sales profile): no delete on Leads; Pets is private (Patricia's record).
    const sal = `1000.${'e'.repeat(32)}.${'f'.repeat(32)}`;
    expectZohoError(await server.api('DELETE', '/crm/v8/Leads/4150868000000225013', { token: sal }), {
      status: 403,
      code: 'NO_PERMISSION',
      details: { permissions: ['Leads.delete'] },
    });
    expectZohoError(await server.api('GET', '/crm/v8/Pets/4150868000000225014', { token: sal }), { status: 400, code: 'AUTHORIZATION_FAILED' });
    expect((await server.api('GET', '/crm/v8/Pets/4150868000000225014', { token: tokenValue })).status).toBe(200);
    // The seeded org is not the dev token's org.
    expectZohoError(await server.api('GET', '/crm/v8/Leads/4150868000000225013'), { status: 400, code: 'INVALID_DATA' });
  });

  it('a token without a value is minted and reported once', async () => {
    const doc = { orgs: [{ name: 'Minted Org', users: [{ name: 'M', email: 'm@minted.test', profile: 'Administrator' }], tokens: [{ user: 'm@minted.test' }] }] };
    const report = await server.admin('POST', '/seed', doc);
    expect(report.tokens).toHaveLength(1);
    expect(report.tokens[0].value).toMatch(TOKEN);
    expect(report.tokens[0].user).toBe('m@minted.test');
    const id = await server.createRecord('Leads', report.tokens[0].value);
    expect(id).toMatch(ID);
  });

  it.each([
    ['not an object', '"seed"'],
    ['orgs missing', {}],
    ['an org without a name', { orgs: [{}] }],
    ['a bad record state', { orgs: [{ name: 'Bad', records: [{ module: 'Leads', state: 'frozen' }] }] }],
    ['a bad sharing', { orgs: [{ name: 'Bad', modules: [{ api_name: 'X', sharing: 'all' }] }] }],
    ['not JSON', '{"orgs":['],
  ])('an invalid seed (%s) → INVALID_DATA, nothing created', async (_name, doc) => {
    const before = (await server.admin('GET', '/orgs')).orgs.length;
    const res = await adminRaw('POST', '/seed', doc);
    expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
    expect((await server.admin('GET', '/orgs')).orgs.length).toBe(before);
  });
});

describe('reset (last: it removes everything)', () => {
  it('deletes every org, user, token, record and blob', async () => {
    const id = await server.createRecord('Leads');
    expect((await uploadPhoto('Leads', id, png(10, 10))).status).toBe(200);
    const extra = await server.createUser();
    expect((await server.blobFiles()).length).toBeGreaterThan(0);

    expect(await server.admin('POST', '/reset')).toEqual({ reset: true });

    expect((await server.admin('GET', '/orgs')).orgs).toEqual([]);
    expect(await server.blobFiles()).toEqual([]);
    for (const token of [server.devToken, extra.token, `1000.${'a'.repeat(32)}.${'b'.repeat(32)}`]) {
      expectZohoError(await server.api('GET', `/crm/v8/Leads/${id}/photo`, { token }), {
        status: 401,
        code: 'INVALID_TOKEN',
        message: 'invalid oauth token',
      });
    }
    // The admin API still works and can start over.
    const org = await server.createOrg('After Reset');
    const rid = await server.createRecord('Leads', org.adminToken);
    expect((await server.api('GET', `/crm/v8/Leads/${rid}`, { token: org.adminToken })).status).toBe(200);
  });
});
