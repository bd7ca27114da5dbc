/**
 * Who may do what (docs/compatibility.md "Permissions and sharing"): profile permissions × operations, the three
 * sharing levels × owner/other/administrator, isolation between orgs, and Owner on the Records API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTHORIZATION_FAILED_MESSAGE,
  BAD_RECORD_ID,
  ENDPOINTS,
  type Endpoint,
  type Fixture,
  NO_PERMISSION_MESSAGE,
  PERMISSION,
  callEndpoint,
  expectError,
  expectFixtureIntact,
  expectNothingChanged,
  expectSuccess,
  fixtureTarget,
  makeFixture,
  setSharing,
} from '../helpers/endpoint-matrix.js';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer, type TestUser } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';

let server: TestServer;

const CUSTOM = 'Gadgets';

beforeAll(async () => {
  server = await TestServer.start();
  await server.admin('POST', `/orgs/${server.orgId}/modules`, { api_name: CUSTOM });
});
afterAll(() => server?.stop());

type Perms = { view?: boolean; create?: boolean; edit?: boolean; delete?: boolean };
const ALL: Perms = { view: true, create: true, edit: true, delete: true };
const NONE: Perms = { view: false, create: false, edit: false, delete: false };

/**
 * Runs the five endpoints in an order where each success leaves the next one possible, against a fresh fixture;
 * returns per endpoint 'ok' or the refusal, after asserting the refusal's exact body.
 */
async function runAll(
  fx: Fixture,
  token: string,
  expectRefusal: (ep: Endpoint, res: HttpResponse) => void,
): Promise<Record<Endpoint, 'ok' | 'refused'>> {
  const out = {} as Record<Endpoint, 'ok' | 'refused'>;
  for (const ep of ['photo.download', 'photo.upload', 'attachment.upload', 'attachment.delete', 'photo.delete'] as const) {
    const before = await server.blobFiles();
    const res = await callEndpoint(server, ep, fixtureTarget(fx), { token });
    if (res.status < 300) {
      expectSuccess(ep, res);
      if (ep === 'photo.download') expect(res.body.equals(fx.photo)).toBe(true);
      out[ep] = 'ok';
    } else {
      expectRefusal(ep, res);
      expect(await server.blobFiles()).toEqual(before);
      out[ep] = 'refused';
    }
  }
  return out;
}

function expected(allowed: readonly Endpoint[]): Record<Endpoint, 'ok' | 'refused'> {
  return Object.fromEntries(ENDPOINTS.map((ep) => [ep, allowed.includes(ep) ? 'ok' : 'refused'])) as Record<Endpoint, 'ok' | 'refused'>;
}

describe(`access: profile permissions × operations (${BACKEND})`, () => {
  const READS: Endpoint[] = ['photo.download'];
  const WRITES: Endpoint[] = ['photo.upload', 'photo.delete', 'attachment.upload', 'attachment.delete'];
  const EVERYTHING: Endpoint[] = [...ENDPOINTS];

  // [name, permissions, admin, module → allowed endpoints]
  const rows: Array<[string, Record<string, Perms>, boolean, Record<string, Endpoint[]>]> = [
    ['all permissions', { '*': ALL }, false, { Leads: EVERYTHING, Contacts: EVERYTHING }],
    ['view only', { '*': { ...NONE, view: true } }, false, { Leads: READS }],
    ['view, create and delete but no edit', { '*': { ...ALL, edit: false } }, false, { Leads: READS }],
    ['edit only (no view)', { '*': { ...NONE, edit: true } }, false, { Leads: WRITES }],
    ['create only', { '*': { ...NONE, create: true } }, false, { Leads: [] }],
    ['delete only', { '*': { ...NONE, delete: true } }, false, { Leads: [] }],
    ['no permission at all', { '*': NONE }, false, { Leads: [] }],
    ['an empty permission map (no default)', {}, false, { Leads: [], Contacts: [] }],
    ['default all, Leads overridden to view only', { '*': ALL, Leads: { ...NONE, view: true } }, false, { Leads: READS, Contacts: EVERYTHING }],
    ['default none, lower-case key leads all', { '*': NONE, leads: ALL }, false, { Leads: EVERYTHING, Contacts: [] }],
    ['default none, upper-case key LEADS edit only', { '*': NONE, LEADS: { ...NONE, edit: true } }, false, { Leads: WRITES, Contacts: [] }],
    ['no default, Contacts all', { Contacts: ALL }, false, { Leads: [], Contacts: EVERYTHING }],
    ['default none, custom module by lower-case key view only', { '*': NONE, gadgets: { ...NONE, view: true } }, false, { [CUSTOM]: READS, Leads: [] }],
    ['default all, custom module overridden to nothing', { '*': ALL, [CUSTOM]: NONE }, false, { [CUSTOM]: [], Leads: EVERYTHING }],
    ['administrator profile with no permissions listed', { '*': NONE }, true, { Leads: EVERYTHING, Contacts: EVERYTHING }],
  ];
  const cases = rows.flatMap(([name, perms, admin, byModule]) =>
    Object.entries(byModule).map(([module, allowed]) => [name, module, perms, admin, allowed] as const),
  );

  it.each(cases)('%s → %s', async (_name, module, permissions, admin, allowed) => {
    const user = await server.createUser({ permissions: permissions as Record<string, Perms>, admin });
    const fx = await makeFixture(server, { module });
    const outcome = await runAll(fx, user.token, (ep, res) =>
      expectError(res, 403, 'NO_PERMISSION', NO_PERMISSION_MESSAGE[ep], { permissions: [`${module}.${PERMISSION[ep]}`] }),
    );
    expect(outcome).toEqual(expected(allowed));
    if (!allowed.includes('photo.upload') && !allowed.includes('photo.delete')) await expectFixtureIntact(server, fx);
  });

  it('Records API: insert needs create, get needs view, delete needs delete', async () => {
    const viewer = await server.createUser({ permissions: { '*': { ...NONE, view: true } } });
    const id = await server.createRecord('Leads');
    const ins = await server.api('POST', '/crm/v8/Leads', {
      token: viewer.token,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: [{ Last_Name: 'x' }] }),
    });
    expectZohoError(ins, { status: 403, code: 'NO_PERMISSION', details: { permissions: ['Leads.create'] } });
    expect((await server.api('GET', `/crm/v8/Leads/${id}`, { token: viewer.token })).status).toBe(200);
    const del = await server.api('DELETE', `/crm/v8/Leads/${id}`, { token: viewer.token });
    expectZohoError(del, { status: 403, code: 'NO_PERMISSION', details: { permissions: ['Leads.delete'] } });
    const blind = await server.createUser({ permissions: { '*': { ...ALL, view: false } } });
    expectZohoError(await server.api('GET', `/crm/v8/Leads/${id}`, { token: blind.token }), {
      status: 403,
      code: 'NO_PERMISSION',
      details: { permissions: ['Leads.view'] },
    });
  });
});

describe(`access: sharing (${BACKEND})`, () => {
  let org: { id: string; adminToken: string };
  let owner: TestUser;
  let other: TestUser;
  let adminProfileUser: TestUser;

  beforeAll(async () => {
    org = await server.createOrg();
    owner = await server.createUser({ org: org.id });
    other = await server.createUser({ org: org.id });
    adminProfileUser = await server.createUser({ org: org.id, admin: true });
  });

  type Actor = 'owner' | 'other' | 'admin profile' | 'org admin';
  const tokenOf = (a: Actor) =>
    ({ owner: owner.token, other: other.token, 'admin profile': adminProfileUser.token, 'org admin': org.adminToken })[a];

  const SHARINGS = ['public_read_write', 'public_read_only', 'private'] as const;
  const ACTORS: Actor[] = ['owner', 'other', 'admin profile', 'org admin'];
  const allowedFor = (sharing: (typeof SHARINGS)[number], actor: Actor): readonly Endpoint[] => {
    if (actor !== 'other' || sharing === 'public_read_write') return ENDPOINTS;
    if (sharing === 'public_read_only') return ['photo.download'];
    return [];
  };
  const cases = SHARINGS.flatMap((s) => ACTORS.map((a) => [s, a] as const));

  it.each(cases)('Leads %s: %s', async (sharing, actor) => {
    await setSharing(server, org.id, 'Leads', sharing);
    // The owner made the record, so Owner is them.
    const fx = await makeFixture(server, { org: org.id, token: owner.token });
    const allowed = allowedFor(sharing, actor);
    const outcome = await runAll(fx, tokenOf(actor), (ep, res) =>
      expectError(res, 400, 'AUTHORIZATION_FAILED', AUTHORIZATION_FAILED_MESSAGE[ep], {}),
    );
    expect(outcome).toEqual(expected(allowed));
    if (allowed.length < ENDPOINTS.length) await expectFixtureIntact(server, fx);
    // Records API: GET follows the read rule, DELETE the write rule.
    const get = await server.api('GET', `/crm/v8/Leads/${fx.recordId}`, { token: tokenOf(actor) });
    if (allowed.includes('photo.download')) expect(get.status, get.text).toBe(200);
    else expectZohoError(get, { status: 400, code: 'AUTHORIZATION_FAILED', details: {} });
    const del = await server.api('DELETE', `/crm/v8/Leads/${fx.recordId}`, { token: tokenOf(actor) });
    if (allowed.includes('photo.upload')) {
      expect(del.status, del.text).toBe(200);
    } else {
      expect(del.status, del.text).toBe(400);
      expect(del.json.data[0]).toMatchObject({ code: 'AUTHORIZATION_FAILED', status: 'error', details: {} });
      await expectFixtureIntact(server, fx);
    }
  });

  it('sharing is per module: Contacts private does not affect Leads', async () => {
    await setSharing(server, org.id, 'Leads', 'public_read_write');
    await setSharing(server, org.id, 'Contacts', 'private');
    const lead = await makeFixture(server, { org: org.id, token: owner.token });
    const contact = await makeFixture(server, { org: org.id, token: owner.token, module: 'Contacts' });
    expect((await callEndpoint(server, 'photo.download', fixtureTarget(lead), { token: other.token })).status).toBe(200);
    const res = await callEndpoint(server, 'photo.download', fixtureTarget(contact), { token: other.token });
    expectError(res, 400, 'AUTHORIZATION_FAILED', AUTHORIZATION_FAILED_MESSAGE['photo.download'], {});
    await setSharing(server, org.id, 'Contacts', 'public_read_write');
  });

  it('the sharing setting applies whatever the case of the module name, in the setting and in the URL', async () => {
    await setSharing(server, org.id, 'leads', 'private');
    try {
      const fx = await makeFixture(server, { org: org.id, token: owner.token });
      const res = await callEndpoint(server, 'photo.download', { ...fixtureTarget(fx), module: 'LEADS' }, { token: other.token });
      expectError(res, 400, 'AUTHORIZATION_FAILED', AUTHORIZATION_FAILED_MESSAGE['photo.download'], {});
      const mine = await callEndpoint(server, 'photo.download', { ...fixtureTarget(fx), module: 'leads' }, { token: owner.token });
      expect(mine.status).toBe(200);
    } finally {
      await setSharing(server, org.id, 'Leads', 'public_read_write');
    }
  });

  it('a custom module created private refuses others but not its owner', async () => {
    await server.admin('POST', `/orgs/${org.id}/modules`, { api_name: 'Secret_Things', sharing: 'private' });
    const fx = await makeFixture(server, { org: org.id, token: owner.token, module: 'Secret_Things' });
    const refusedRes = await callEndpoint(server, 'photo.download', fixtureTarget(fx), { token: other.token });
    expectError(refusedRes, 400, 'AUTHORIZATION_FAILED', AUTHORIZATION_FAILED_MESSAGE['photo.download'], {});
    expect((await callEndpoint(server, 'photo.download', fixtureTarget(fx), { token: owner.token })).status).toBe(200);
  });

  it('the sharing change takes effect for a token already in use', async () => {
    await setSharing(server, org.id, 'Leads', 'public_read_write');
    const fx = await makeFixture(server, { org: org.id, token: owner.token });
    expect((await callEndpoint(server, 'photo.download', fixtureTarget(fx), { token: other.token })).status).toBe(200);
    await setSharing(server, org.id, 'Leads', 'private');
    const res = await callEndpoint(server, 'photo.download', fixtureTarget(fx), { token: other.token });
    expectError(res, 400, 'AUTHORIZATION_FAILED', AUTHORIZATION_FAILED_MESSAGE['photo.download'], {});
    await setSharing(server, org.id, 'Leads', 'public_read_write');
  });
});

describe(`access: cross-org isolation (${BACKEND})`, () => {
  const SECRET = 'Zebulon-Quartermaine-7741';
  let a: Fixture;
  let b: { id: string; adminToken: string };
  let bStandard: TestUser;

  beforeAll(async () => {
    a = await makeFixture(server, { fields: { Last_Name: SECRET, Email: `${SECRET}@a.example` } });
    b = await server.createOrg();
    bStandard = await server.createUser({ org: b.id });
  });

  const secrets = () => [SECRET, a.attachmentId, 'note.txt', server.adminUserId];

  const cases = ENDPOINTS.flatMap((ep) => (['admin', 'standard user'] as const).map((who) => [ep, who] as const));
  it.each(cases)('org B %s: %s on org A’s record → INVALID_DATA, nothing leaked or changed', async (ep, who) => {
    const token = who === 'admin' ? b.adminToken : bStandard.token;
    const before = await server.blobFiles();
    const res = await callEndpoint(server, ep, fixtureTarget(a), { token });
    expectError(res, 400, 'INVALID_DATA', BAD_RECORD_ID[ep].message, BAD_RECORD_ID[ep].details);
    for (const s of secrets()) expect(res.text).not.toContain(s);
    await expectNothingChanged(server, before, [a]);
  });

  it('Records API GET and DELETE of org A’s record through org B → INVALID_DATA', async () => {
    const get = await server.api('GET', `/crm/v8/Leads/${a.recordId}`, { token: b.adminToken });
    expectZohoError(get, { status: 400, code: 'INVALID_DATA', message: 'the id given seems to be invalid', details: { id: a.recordId } });
    const del = await server.api('DELETE', `/crm/v8/Leads/${a.recordId}`, { token: b.adminToken });
    expect(del.status).toBe(400);
    expect(del.json).toEqual({
      data: [{ code: 'INVALID_DATA', details: { id: a.recordId }, message: 'the id given seems to be invalid', status: 'error' }],
    });
    const bulk = await server.api('DELETE', `/crm/v8/Leads`, { token: b.adminToken, query: { ids: a.recordId } });
    expect(bulk.status).toBe(400);
    expect(bulk.json.data[0]).toMatchObject({ code: 'INVALID_DATA', details: { id: a.recordId } });
    for (const r of [get, del, bulk]) for (const s of [SECRET, a.attachmentId]) expect(r.text).not.toContain(s);
    await expectFixtureIntact(server, a);
  });

  it('org A’s attachment id deleted through a record of org B → INVALID_DATA {id, resource_path_index: 3}', async () => {
    const bRecord = await server.createRecord('Leads', b.adminToken);
    const res = await callEndpoint(server, 'attachment.delete', { module: 'Leads', recordId: bRecord, attachmentId: a.attachmentId }, { token: b.adminToken });
    expectError(res, 400, 'INVALID_DATA', 'the id given seems to be invalid', { id: a.attachmentId, resource_path_index: 3 });
    await expectFixtureIntact(server, a);
  });

  it('org B’s upload to its own record does not touch org A', async () => {
    const bFx = await makeFixture(server, { org: b.id, token: b.adminToken, photo: png(5, 5) });
    await expectFixtureIntact(server, a);
    await expectFixtureIntact(server, bFx);
    // Org A's admin cannot see B's record either.
    expectError(
      await callEndpoint(server, 'photo.download', fixtureTarget(bFx)),
      400,
      'INVALID_DATA',
      BAD_RECORD_ID['photo.download'].message,
      {},
    );
  });

  it('a user of org B cannot be named Owner of a record in org A', async () => {
    const res = await server.api('POST', '/crm/v8/Leads', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: [{ Last_Name: 'x', Owner: { id: bStandard.id } }] }),
    });
    expect(res.status).toBe(400);
    expect(res.json.data[0]).toMatchObject({ code: 'INVALID_DATA', status: 'error', details: { api_name: 'Owner', expected_data_type: 'lookup' } });
  });
});

describe(`access: Records API Owner (${BACKEND})`, () => {
  let org: { id: string; adminToken: string };
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    org = await server.createOrg();
    alice = await server.createUser({ org: org.id });
    bob = await server.createUser({ org: org.id });
  });

  async function insertAs(token: string, item: Record<string, unknown>): Promise<HttpResponse> {
    return server.api('POST', '/crm/v8/Leads', { token, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [item] }) });
  }

  it.each([
    ['an object {id}', (u: TestUser) => ({ id: u.id })],
    ['the bare id', (u: TestUser) => u.id],
  ])('insert with Owner given as %s of another user; GET shows Owner {name, id, email}', async (_n, ownerOf) => {
    const res = await insertAs(org.adminToken, { Last_Name: 'Owned', Owner: ownerOf(alice) });
    expect(res.status, res.text).toBe(201);
    const id = res.json.data[0].details.id as string;
    const get = await server.api('GET', `/crm/v8/Leads/${id}`, { token: org.adminToken });
    expect(get.status).toBe(200);
    expect(get.json.data[0].Owner).toEqual({ name: `User ${alice.email}`, id: alice.id, email: alice.email });
    // Created_By is the caller, not the owner.
    expect(get.json.data[0].Created_By.id).not.toBe(alice.id);
  });

  it('without Owner the caller owns the record', async () => {
    const res = await insertAs(bob.token, { Last_Name: 'Mine' });
    const id = res.json.data[0].details.id as string;
    const get = await server.api('GET', `/crm/v8/Leads/${id}`, { token: bob.token });
    expect(get.json.data[0].Owner).toEqual({ name: `User ${bob.email}`, id: bob.id, email: bob.email });
  });

  it('an unknown Owner is an error item; the other items are inserted', async () => {
    const res = await server.api('POST', '/crm/v8/Leads', {
      token: org.adminToken,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: [{ Last_Name: 'bad', Owner: { id: '1000000000000000001' } }, { Last_Name: 'good' }] }),
    });
    expect(res.status).toBe(201);
    expect(res.json.data[0]).toEqual({
      code: 'INVALID_DATA',
      details: { api_name: 'Owner', expected_data_type: 'lookup' },
      message: 'invalid data',
      status: 'error',
    });
    expect(res.json.data[1]).toMatchObject({ code: 'SUCCESS' });
  });

  it('the named Owner is the owner for sharing: in a private module Alice may act, Bob may not', async () => {
    await setSharing(server, org.id, 'Leads', 'private');
    try {
      const res = await insertAs(org.adminToken, { Last_Name: 'Alice’s', Owner: { id: alice.id } });
      const id = res.json.data[0].details.id as string;
      const up = await callEndpoint(server, 'photo.upload', { module: 'Leads', recordId: id }, {
        token: alice.token,
        upload: filePart(png(2, 3), 'a.png', 'image/png'),
      });
      expectSuccess('photo.upload', up);
      const bobGet = await callEndpoint(server, 'photo.download', { module: 'Leads', recordId: id }, { token: bob.token });
      expectError(bobGet, 400, 'AUTHORIZATION_FAILED', AUTHORIZATION_FAILED_MESSAGE['photo.download'], {});
      const bobRecord = await server.api('GET', `/crm/v8/Leads/${id}`, { token: bob.token });
      expectZohoError(bobRecord, { status: 400, code: 'AUTHORIZATION_FAILED', details: {} });
      const aliceGet = await callEndpoint(server, 'photo.download', { module: 'Leads', recordId: id }, { token: alice.token });
      expect(aliceGet.status).toBe(200);
      expect(aliceGet.body.equals(png(2, 3))).toBe(true);
    } finally {
      await setSharing(server, org.id, 'Leads', 'public_read_write');
    }
  });
});
