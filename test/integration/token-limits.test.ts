/**
 * The token endpoint's limits and forms (docs/zoho-api.md §7; docs/compatibility.md "OAuth token server"): with an
 * org's token limits on, at most 20 refresh tokens per user and client (the 21st revokes the oldest, with its access
 * tokens) and at most 10 access tokens per refresh token in any 10 minutes (then HTTP 200 "Access Denied"); and HTTP
 * Basic client authentication, always.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestServer, http } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start({ testClock: true, journalSize: 2000 });
});
afterAll(async () => {
  await server?.stop();
});

interface Client {
  org: string;
  id: string;
  secret: string;
}

async function orgWithClient(limits?: Record<string, unknown>): Promise<Client> {
  const org = await server.createOrg();
  if (limits) await server.admin('PUT', `/orgs/${org.id}/limits`, limits);
  const users = await server.admin('GET', `/orgs/${org.id}/users`);
  const client = await server.admin('POST', `/orgs/${org.id}/oauth-clients`, { user: users.users[0].id });
  return { org: org.id, id: client.client_id, secret: client.client_secret };
}

function token(params: Record<string, string>, headers: Record<string, string> = {}) {
  return http('POST', `${server.url}/oauth/v2/token`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
}

async function exchange(c: Client): Promise<{ access: string; refresh: string; requestId: string }> {
  const grant = await server.admin('POST', `/orgs/${c.org}/oauth-clients/${c.id}/grant-codes`, { scopes: 'ZohoCRM.modules.ALL,ZohoCRM.org.ALL' });
  const res = await token({ grant_type: 'authorization_code', client_id: c.id, client_secret: c.secret, code: grant.code });
  expect(res.json.refresh_token, res.text).toBeDefined();
  return { access: res.json.access_token, refresh: res.json.refresh_token, requestId: res.headers['x-request-id'] as string };
}

const refresh = (c: Client, value: string) => token({ grant_type: 'refresh_token', client_id: c.id, client_secret: c.secret, refresh_token: value });

function marks(requestId: string): string[] {
  return server.server.journal.list({}, 2000).find((e) => e.id === requestId)?.marks ?? [];
}

describe('refresh tokens per user and client', () => {
  it('the 21st revokes the first, and the access tokens made from it', async () => {
    const c = await orgWithClient({ token_limits: true });
    const issued = [];
    for (let i = 0; i < 20; i++) issued.push(await exchange(c));
    expect(marks(issued[19]!.requestId)).toEqual([]);
    const first = issued[0]!;
    expect((await server.api('GET', '/crm/v8/org', { token: first.access })).status).toBe(200);
    const twentyFirst = await exchange(c);
    expect(marks(twentyFirst.requestId)).toEqual(['limit:refresh-tokens']);
    expect((await refresh(c, first.refresh)).json).toEqual({ error: 'invalid_code' });
    expectZohoError(await server.api('GET', '/crm/v8/org', { token: first.access }), { status: 401, code: 'INVALID_TOKEN' });
    // The second oldest and the newest still work.
    expect((await refresh(c, issued[1]!.refresh)).json.access_token).toBeDefined();
    expect((await server.api('GET', '/crm/v8/org', { token: twentyFirst.access })).status).toBe(200);
  });

  it('without token limits, an org keeps every refresh token', async () => {
    const c = await orgWithClient();
    const issued = [];
    for (let i = 0; i < 21; i++) issued.push(await exchange(c));
    expect((await refresh(c, issued[0]!.refresh)).json.access_token).toBeDefined();
  });
});

describe('access tokens per refresh token per 10 minutes', () => {
  it('the 11th in 10 minutes is refused with "Access Denied", HTTP 200; 10 minutes later it works again', async () => {
    const c = await orgWithClient({ edition: 'professional', users: 2 });
    const { refresh: value } = await exchange(c);
    // The exchange minted the first; nine refreshes make ten.
    for (let i = 0; i < 9; i++) expect((await refresh(c, value)).json.access_token, `refresh ${i + 1}`).toBeDefined();
    const refused = await refresh(c, value);
    expect(refused.status).toBe(200);
    expect(refused.json).toEqual({
      error: 'Access Denied',
      error_description: 'You have made too many requests continuously. Please try again after some time.',
      status: 'failure',
    });
    expect(marks(refused.headers['x-request-id'] as string)).toEqual(['limit:token-rate']);
    expect(server.server.journal.list({}, 2000).find((e) => e.id === refused.headers['x-request-id'])?.code).toBe('Access Denied');
    await server.admin('POST', '/clock/advance', { by: '10m' });
    expect((await refresh(c, value)).json.access_token).toBeDefined();
  });

  it('concurrent refreshes never mint more than ten', async () => {
    const c = await orgWithClient({ token_limits: true });
    const { refresh: value } = await exchange(c);
    const results = await Promise.all(Array.from({ length: 16 }, () => refresh(c, value)));
    expect(results.filter((r) => r.json.access_token !== undefined)).toHaveLength(9);
    expect(results.filter((r) => r.json.error === 'Access Denied')).toHaveLength(7);
  });

  it('without token limits, refreshing is not throttled (the 15 live tokens still rotate)', async () => {
    const c = await orgWithClient({ credits: 1000 });
    const { refresh: value } = await exchange(c);
    for (let i = 0; i < 12; i++) expect((await refresh(c, value)).json.access_token).toBeDefined();
  });
});

describe('HTTP Basic client authentication', () => {
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  it('the client id and secret may come in an Authorization: Basic header', async () => {
    const c = await orgWithClient();
    const { refresh: value } = await exchange(c);
    const res = await token({ grant_type: 'refresh_token', refresh_token: value }, { authorization: basic(c.id, c.secret) });
    expect(res.json.access_token).toBeDefined();
    // The same client in the parameters too is fine.
    const both = await token({ grant_type: 'refresh_token', refresh_token: value, client_id: c.id }, { authorization: basic(c.id, c.secret) });
    expect(both.json.access_token).toBeDefined();
  });

  it.each([
    ['a wrong secret', (c: Client) => basic(c.id, 'nope'), {}, { error: 'invalid_client_secret' }],
    ['an unknown client', () => basic('1000.UNKNOWN', 'x'), {}, { error: 'invalid_client' }],
    ['another client in the parameters', (c: Client) => basic(c.id, c.secret), { client_id: '1000.OTHER' }, { error: 'invalid_client' }],
    ['an unreadable header', () => 'Basic !!!', {}, { error: 'invalid_client' }],
    ['no colon', () => `Basic ${Buffer.from('justanid').toString('base64')}`, {}, { error: 'invalid_client' }],
  ])('%s', async (_what, header, extra, expected) => {
    const c = await orgWithClient();
    const { refresh: value } = await exchange(c);
    const res = await token({ grant_type: 'refresh_token', refresh_token: value, ...extra }, { authorization: header(c) });
    expect(res.status).toBe(200);
    expect(res.json).toEqual(expected);
  });
});
