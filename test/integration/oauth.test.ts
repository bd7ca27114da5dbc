/**
 * The token server (docs/compatibility.md "OAuth token server") over real HTTP with undici's fetch, parameters as
 * multipart form-data (the official SDK's way), urlencoded and query string: grant-code exchange, refresh, client
 * credentials, the 15-live-tokens rule, revocation, every error as HTTP 200 `{"error": …}`, one-time codes under
 * concurrency, the admin API (no secrets listed, deleting a client revokes its tokens) and the CLI equivalents.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { FormData, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpResponse, TestServer } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const TOKEN = /^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$/;
const GRANT_CODE = /^1000\.[0-9a-f]+\.[0-9a-f]+$/;
const CLIENT_ID = /^1000\.[A-Z0-9]{30}$/;
const CLIENT_SECRET = /^[0-9a-f]{42}$/;
const ADMIN_EMAIL = 'admin@crm-media.local';
const MODES = ['multipart', 'urlencoded', 'query'] as const;
type Mode = (typeof MODES)[number];

let server: TestServer;
let client: { client_id: string; client_secret: string };

async function oauthCall(path: string, params: Record<string, string>, mode: Mode = 'multipart'): Promise<any> {
  let url = `${server.url}${path}`;
  let body: FormData | URLSearchParams | undefined;
  if (mode === 'multipart') {
    const form = new FormData();
    for (const [k, v] of Object.entries(params)) form.append(k, v);
    body = form;
  } else if (mode === 'urlencoded') {
    body = new URLSearchParams(params);
  } else {
    url += `?${new URLSearchParams(params).toString()}`;
  }
  const res = await fetch(url, { method: 'POST', ...(body ? { body } : {}) });
  const text = await res.text();
  // Every answer of the token server, errors included, is HTTP 200 JSON.
  expect(res.status, text).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return JSON.parse(text);
}

const token = (params: Record<string, string>, mode: Mode = 'multipart') => oauthCall('/oauth/v2/token', params, mode);
const revoke = (value: string | undefined, mode: Mode = 'query') =>
  oauthCall('/oauth/v2/token/revoke', value === undefined ? {} : { token: value }, mode);

async function newClient(user: string = server.adminUserId, org: string = server.orgId): Promise<{ client_id: string; client_secret: string }> {
  return server.admin('POST', `/orgs/${org}/oauth-clients`, { name: 'Test Client', user });
}

async function grant(
  scopes: string,
  opts: { client?: string; org?: string; expiresIn?: number; user?: string } = {},
): Promise<string> {
  const g = await server.admin('POST', `/orgs/${opts.org ?? server.orgId}/oauth-clients/${opts.client ?? client.client_id}/grant-codes`, {
    scopes,
    ...(opts.expiresIn ? { expires_in: opts.expiresIn } : {}),
    ...(opts.user ? { user: opts.user } : {}),
  });
  expect(g.code).toMatch(GRANT_CODE);
  return g.code as string;
}

function exchange(code: string, c = client, mode: Mode = 'multipart', extra: Record<string, string> = {}) {
  return token({ grant_type: 'authorization_code', client_id: c.client_id, client_secret: c.client_secret, code, ...extra }, mode);
}

function refresh(refreshToken: string, c = client, mode: Mode = 'multipart') {
  return token({ grant_type: 'refresh_token', client_id: c.client_id, client_secret: c.client_secret, refresh_token: refreshToken }, mode);
}

function currentUser(accessToken: string): Promise<HttpResponse> {
  return server.api('GET', '/crm/v8/users', { token: accessToken, query: { type: 'CurrentUser' } });
}

/** Whether the token is accepted (200 on the current-user call) or refused as INVALID_TOKEN. */
async function alive(accessToken: string): Promise<boolean> {
  const res = await currentUser(accessToken);
  if (res.status === 200) return true;
  expectZohoError(res, { status: 401, code: 'INVALID_TOKEN', message: 'invalid oauth token' });
  return false;
}

const SCOPE_MISMATCH = { status: 401, code: 'OAUTH_SCOPE_MISMATCH', message: 'invalid oauth scope to access this URL' };

beforeAll(async () => {
  server = await TestServer.start();
  client = await newClient();
});
afterAll(() => server?.stop());

describe(`self clients (${BACKEND})`, () => {
  it('client ids and secrets have Zoho\'s shapes; the secret is never listed', async () => {
    expect(client.client_id).toMatch(CLIENT_ID);
    expect(client.client_secret).toMatch(CLIENT_SECRET);
    const listed = await server.admin('GET', `/orgs/${server.orgId}/oauth-clients`);
    const mine = listed.clients.find((c: { client_id: string }) => c.client_id === client.client_id);
    expect(mine).toBeDefined();
    expect(Object.keys(mine).sort()).toEqual(['client_id', 'created_at', 'name', 'user_id']);
    expect(mine.user_id).toBe(server.adminUserId);
    expect(JSON.stringify(listed)).not.toContain(client.client_secret);
    expect(JSON.stringify(listed)).not.toMatch(/secret/i);
  });
});

describe.each(MODES)(`authorization_code exchange, parameters as %s (${BACKEND})`, (mode) => {
  it('answers {access_token, refresh_token, scope, api_domain, token_type, expires_in}; the token works on /crm/v8', async () => {
    const code = await grant('ZohoCRM.modules.ALL,ZohoCRM.users.READ');
    const t = await exchange(code, client, mode);
    expect(Object.keys(t).sort()).toEqual(['access_token', 'api_domain', 'expires_in', 'refresh_token', 'scope', 'token_type']);
    expect(t).toMatchObject({
      scope: 'ZohoCRM.modules.ALL ZohoCRM.users.READ',
      api_domain: server.url,
      token_type: 'Bearer',
      expires_in: 3600,
    });
    expect(t.access_token).toMatch(TOKEN);
    expect(t.refresh_token).toMatch(TOKEN);
    expect(t.refresh_token).not.toBe(t.access_token);

    const me = await currentUser(t.access_token);
    expect(me.status, me.text).toBe(200);
    expect(me.json.users).toHaveLength(1);
    expect(me.json.users[0]).toMatchObject({ id: server.adminUserId, email: ADMIN_EMAIL });
    const record = await server.createRecord('Leads', t.access_token, { Last_Name: `OAuth ${mode}` });
    expect(record).toMatch(/^\d{1,19}$/);
    // Outside the granted scopes.
    expectZohoError(await server.api('GET', '/crm/v8/org', { token: t.access_token }), SCOPE_MISMATCH);

    // One-time.
    expect(await exchange(code, client, mode)).toEqual({ error: 'invalid_code' });
  });

  it('wrong client id → invalid_client; wrong secret → invalid_client_secret; unknown grant_type → unsupported_grant_type', async () => {
    const code = await grant('ZohoCRM.users.READ');
    expect(await exchange(code, { client_id: '1000.NOSUCHCLIENT0000000000000000000', client_secret: client.client_secret }, mode)).toEqual({
      error: 'invalid_client',
    });
    expect(await exchange(code, { client_id: client.client_id, client_secret: 'f'.repeat(42) }, mode)).toEqual({
      error: 'invalid_client_secret',
    });
    expect(
      await token({ grant_type: 'password', client_id: client.client_id, client_secret: client.client_secret, code }, mode),
    ).toEqual({ error: 'unsupported_grant_type' });
    // None of those used the code up.
    const t = await exchange(code, client, mode);
    expect(t.access_token).toMatch(TOKEN);
  });
});

describe(`authorization_code details (${BACKEND})`, () => {
  it('the token carries exactly the granted scopes', async () => {
    const t = await exchange(await grant('ZohoCRM.modules.leads.READ,ZohoCRM.modules.attachments.READ'));
    expect(t.scope).toBe('ZohoCRM.modules.leads.READ ZohoCRM.modules.attachments.READ');
    const record = await server.createRecord('Leads', server.devToken, { Last_Name: 'Scoped' });
    const got = await server.api('GET', `/crm/v8/Leads/${record}`, { token: t.access_token });
    expect(got.status, got.text).toBe(200);
    const list = await server.api('GET', `/crm/v8/Leads/${record}/Attachments`, { token: t.access_token, query: { fields: 'File_Name' } });
    expect(list.status, list.text).toBe(204);
    const insert = await server.api('POST', '/crm/v8/Leads', {
      token: t.access_token,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: [{ Last_Name: 'x' }] }),
    });
    expectZohoError(insert, SCOPE_MISMATCH);
    const contact = await server.createRecord('Contacts', server.devToken, { Last_Name: 'C' });
    expectZohoError(await server.api('GET', `/crm/v8/Contacts/${contact}`, { token: t.access_token }), SCOPE_MISMATCH);
    expectZohoError(await currentUser(t.access_token), SCOPE_MISMATCH);
    expectZohoError(await server.api('DELETE', `/crm/v8/Leads/${record}/photo`, { token: t.access_token }), SCOPE_MISMATCH);
  });

  it('missing or unknown code → invalid_code; a code of another client → invalid_code', async () => {
    expect(await token({ grant_type: 'authorization_code', client_id: client.client_id, client_secret: client.client_secret })).toEqual({
      error: 'invalid_code',
    });
    expect(await exchange('1000.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef')).toEqual({ error: 'invalid_code' });
    const other = await newClient();
    const code = await grant('ZohoCRM.users.READ', { client: other.client_id });
    expect(await exchange(code, client)).toEqual({ error: 'invalid_code' });
    // Its own client can still use it.
    expect((await exchange(code, other)).access_token).toMatch(TOKEN);
  });

  it('missing client id → invalid_client; missing secret → invalid_client_secret', async () => {
    const code = await grant('ZohoCRM.users.READ');
    expect(await token({ grant_type: 'authorization_code', client_secret: client.client_secret, code })).toEqual({ error: 'invalid_client' });
    expect(await token({ grant_type: 'authorization_code', client_id: client.client_id, code })).toEqual({ error: 'invalid_client_secret' });
    expect(await token({ client_id: client.client_id, client_secret: client.client_secret, code })).toEqual({ error: 'unsupported_grant_type' });
  });

  it('an expired code (expires_in 1, then wait) → invalid_code', async () => {
    const code = await grant('ZohoCRM.users.READ', { expiresIn: 1 });
    await sleep(1_300);
    expect(await exchange(code)).toEqual({ error: 'invalid_code' });
  });

  it('redirect_uri is accepted and ignored', async () => {
    const t = await exchange(await grant('ZohoCRM.users.READ'), client, 'urlencoded', { redirect_uri: 'https://elsewhere.example/cb' });
    expect(t.access_token).toMatch(TOKEN);
    expect(t.api_domain).toBe(server.url);
  });

  it('body parameters win over the query string', async () => {
    const code = await grant('ZohoCRM.users.READ');
    const form = new FormData();
    form.append('client_secret', client.client_secret);
    const qs = new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: client.client_id,
      client_secret: 'wrong',
      code,
    });
    const res = await fetch(`${server.url}/oauth/v2/token?${qs.toString()}`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const t = (await res.json()) as { access_token?: string };
    expect(t.access_token).toMatch(TOKEN);
  });

  it('a grant code for another user of the org makes tokens acting as that user', async () => {
    const user = await server.createUser({ scopes: 'ZohoCRM.users.READ' });
    const t = await exchange(await grant('ZohoCRM.users.READ', { user: user.id }));
    const me = await currentUser(t.access_token);
    expect(me.status).toBe(200);
    expect(me.json.users[0]).toMatchObject({ id: user.id, email: user.email });
  });

  it('10 simultaneous exchanges of one code → exactly one succeeds, the others invalid_code', async () => {
    const code = await grant('ZohoCRM.users.READ');
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => exchange(code, client, MODES[i % 3]!)));
    const ok = answers.filter((a) => typeof a.access_token === 'string');
    expect(ok).toHaveLength(1);
    expect(answers.filter((a) => a.error === 'invalid_code')).toHaveLength(9);
    expect(await alive(ok[0].access_token)).toBe(true);
  });
});

describe(`refresh_token grant (${BACKEND})`, () => {
  it.each(MODES)('(%s) → a new access token without refresh_token; both tokens work', async (mode) => {
    const first = await exchange(await grant('ZohoCRM.users.READ,ZohoCRM.modules.leads.ALL'));
    const t = await refresh(first.refresh_token, client, mode);
    expect(Object.keys(t).sort()).toEqual(['access_token', 'api_domain', 'expires_in', 'scope', 'token_type']);
    expect(t).toMatchObject({
      scope: 'ZohoCRM.users.READ ZohoCRM.modules.leads.ALL',
      api_domain: server.url,
      token_type: 'Bearer',
      expires_in: 3600,
    });
    expect(t.access_token).toMatch(TOKEN);
    expect(t.access_token).not.toBe(first.access_token);
    expect(await alive(t.access_token)).toBe(true);
    expect(await alive(first.access_token)).toBe(true);
    // Same scopes as the grant: nothing more.
    expectZohoError(await server.api('GET', '/crm/v8/org', { token: t.access_token }), SCOPE_MISMATCH);
  });

  it('unknown refresh token → invalid_code; another client\'s refresh token → invalid_code; an access token → invalid_code', async () => {
    const first = await exchange(await grant('ZohoCRM.users.READ'));
    expect(await refresh('1000.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef')).toEqual({ error: 'invalid_code' });
    expect(await token({ grant_type: 'refresh_token', client_id: client.client_id, client_secret: client.client_secret })).toEqual({
      error: 'invalid_code',
    });
    const other = await newClient();
    expect(await refresh(first.refresh_token, other)).toEqual({ error: 'invalid_code' });
    expect(await refresh(first.access_token)).toEqual({ error: 'invalid_code' });
  });

  it('a 16th access token from one refresh token revokes the oldest; the other 15 still work', async () => {
    const first = await exchange(await grant('ZohoCRM.users.READ'));
    const tokens = [first.access_token as string];
    for (let i = 0; i < 14; i++) tokens.push((await refresh(first.refresh_token)).access_token);
    expect(tokens).toHaveLength(15);
    for (const t of tokens) expect(await alive(t)).toBe(true);

    tokens.push((await refresh(first.refresh_token)).access_token);
    expect(new Set(tokens).size).toBe(16);
    expect(await alive(tokens[0]!)).toBe(false);
    for (const t of tokens.slice(1)) expect(await alive(t)).toBe(true);

    // A 17th evicts the next oldest.
    const seventeenth = (await refresh(first.refresh_token)).access_token as string;
    expect(await alive(tokens[1]!)).toBe(false);
    expect(await alive(seventeenth)).toBe(true);
    for (const t of tokens.slice(2)) expect(await alive(t)).toBe(true);
  });
});

describe(`client_credentials grant (${BACKEND})`, () => {
  let user: { id: string; email: string };
  let cc: { client_id: string; client_secret: string };

  beforeAll(async () => {
    const u = await server.createUser({ scopes: 'ZohoCRM.users.READ' });
    user = { id: u.id, email: u.email };
    cc = await newClient(u.id);
  });

  const credentials = (params: Record<string, string>, mode: Mode = 'multipart') =>
    token({ grant_type: 'client_credentials', client_id: cc.client_id, client_secret: cc.client_secret, ...params }, mode);

  it.each(MODES)('(%s) soid=ZohoCRM.<org> → a token for the client\'s user with the requested scope', async (mode) => {
    const t = await credentials({ scope: 'ZohoCRM.users.READ,ZohoCRM.modules.leads.READ', soid: `ZohoCRM.${server.orgId}` }, mode);
    expect(Object.keys(t).sort()).toEqual(['access_token', 'api_domain', 'expires_in', 'scope', 'token_type']);
    expect(t).toMatchObject({
      scope: 'ZohoCRM.users.READ ZohoCRM.modules.leads.READ',
      api_domain: server.url,
      token_type: 'Bearer',
      expires_in: 3600,
    });
    const me = await currentUser(t.access_token);
    expect(me.status, me.text).toBe(200);
    expect(me.json.users[0]).toMatchObject({ id: user.id, email: user.email });
    expectZohoError(await server.api('GET', '/crm/v8/org', { token: t.access_token }), SCOPE_MISMATCH);
  });

  it('without soid → missing_org_info; another org\'s or a malformed soid → invalid_org_info; bad or missing scope → invalid_scope', async () => {
    const other = await server.createOrg();
    expect(await credentials({ scope: 'ZohoCRM.users.READ' })).toEqual({ error: 'missing_org_info' });
    expect(await credentials({ scope: 'ZohoCRM.users.READ', soid: `ZohoCRM.${other.id}` })).toEqual({ error: 'invalid_org_info' });
    expect(await credentials({ scope: 'ZohoCRM.users.READ', soid: 'ZohoCRM.abc' })).toEqual({ error: 'invalid_org_info' });
    expect(await credentials({ scope: 'ZohoCRM.users.READ', soid: server.orgId })).toEqual({ error: 'invalid_org_info' });
    expect(await credentials({ scope: 'Foo.bar', soid: `ZohoCRM.${server.orgId}` })).toEqual({ error: 'invalid_scope' });
    expect(await credentials({ scope: 'ZohoCRM.modules.READ', soid: `ZohoCRM.${server.orgId}` })).toEqual({ error: 'invalid_scope' });
    expect(await credentials({ soid: `ZohoCRM.${server.orgId}` })).toEqual({ error: 'invalid_scope' });
  });
});

describe(`revocation (${BACKEND})`, () => {
  it('revoking the refresh token kills every access token minted from it and the refresh token itself', async () => {
    const first = await exchange(await grant('ZohoCRM.users.READ'));
    const second = await refresh(first.refresh_token);
    const unrelated = await exchange(await grant('ZohoCRM.users.READ'));
    expect(await revoke(first.refresh_token)).toEqual({ status: 'success' });
    expect(await alive(first.access_token)).toBe(false);
    expect(await alive(second.access_token)).toBe(false);
    expect(await refresh(first.refresh_token)).toEqual({ error: 'invalid_code' });
    // Tokens of another grant are untouched.
    expect(await alive(unrelated.access_token)).toBe(true);
    expect((await refresh(unrelated.refresh_token)).access_token).toMatch(TOKEN);
  });

  it.each(MODES)('(%s) revoking an access token kills just it', async (mode) => {
    const first = await exchange(await grant('ZohoCRM.users.READ'));
    const second = await refresh(first.refresh_token);
    expect(await revoke(first.access_token, mode)).toEqual({ status: 'success' });
    expect(await alive(first.access_token)).toBe(false);
    expect(await alive(second.access_token)).toBe(true);
    const third = await refresh(first.refresh_token);
    expect(await alive(third.access_token)).toBe(true);
  });

  it('revoking a token made by the admin API works too', async () => {
    const user = await server.createUser({ scopes: 'ZohoCRM.users.READ' });
    expect(await alive(user.token)).toBe(true);
    expect(await revoke(user.token)).toEqual({ status: 'success' });
    expect(await alive(user.token)).toBe(false);
  });

  it('unknown or missing token → invalid_code', async () => {
    expect(await revoke('1000.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef')).toEqual({ error: 'invalid_code' });
    expect(await revoke('whatever')).toEqual({ error: 'invalid_code' });
    expect(await revoke(undefined)).toEqual({ error: 'invalid_code' });
  });
});

describe(`bad requests (${BACKEND})`, () => {
  it.each([
    ['GET', '/oauth/v2/token'],
    ['PUT', '/oauth/v2/token'],
    ['DELETE', '/oauth/v2/token'],
    ['GET', '/oauth/v2/token/revoke'],
  ])('%s %s → HTTP 200 {"error":"invalid_request"}', async (method, path) => {
    const qs = new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret });
    const res = await fetch(`${server.url}${path}?${qs.toString()}`, { method });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: 'invalid_request' });
  });

  it('an urlencoded body too large to read → invalid_request; the server still answers', async () => {
    const res = await fetch(`${server.url}/oauth/v2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=authorization_code&code=${'a'.repeat(70 * 1024)}`,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ error: 'invalid_request' });
    expect((await exchange(await grant('ZohoCRM.users.READ'))).access_token).toMatch(TOKEN);
  });

  it.each([
    ['cut short', '--xyz\r\nContent-Disposition: form-data; name="client_id"\r\n\r\nabc'],
    ['garbage', 'garbage'],
  ])('an unreadable multipart body (%s) → invalid_request; the server still answers', async (_name, body) => {
    const res = await fetch(`${server.url}/oauth/v2/token`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: 'invalid_request' });
    expect((await exchange(await grant('ZohoCRM.users.READ'))).access_token).toMatch(TOKEN);
  });
});

describe(`deleting a client (${BACKEND})`, () => {
  it('revokes its tokens (exchange and refresh ones) and grant codes; the client is then unknown', async () => {
    const doomed = await newClient();
    const first = await exchange(await grant('ZohoCRM.users.READ', { client: doomed.client_id }), doomed);
    const refreshed = await refresh(first.refresh_token, doomed);
    const unusedCode = await grant('ZohoCRM.users.READ', { client: doomed.client_id });
    const keeper = await exchange(await grant('ZohoCRM.users.READ'));
    for (const t of [first.access_token, refreshed.access_token]) expect(await alive(t)).toBe(true);

    expect(await server.admin('DELETE', `/orgs/${server.orgId}/oauth-clients/${doomed.client_id}`)).toEqual({ deleted: doomed.client_id });
    expect(await alive(first.access_token)).toBe(false);
    expect(await alive(refreshed.access_token)).toBe(false);
    expect(await refresh(first.refresh_token, doomed)).toEqual({ error: 'invalid_client' });
    expect(await exchange(unusedCode, doomed)).toEqual({ error: 'invalid_client' });
    // Other clients' tokens live on.
    expect(await alive(keeper.access_token)).toBe(true);
    const listed = await server.admin('GET', `/orgs/${server.orgId}/oauth-clients`);
    expect(listed.clients.map((c: { client_id: string }) => c.client_id)).not.toContain(doomed.client_id);
  });

  it("another org's admin path cannot delete the client or make grant codes for it", async () => {
    const other = await server.createOrg();
    await expect(server.admin('DELETE', `/orgs/${other.id}/oauth-clients/${client.client_id}`)).rejects.toThrow(/404/);
    await expect(
      server.admin('POST', `/orgs/${other.id}/oauth-clients/${client.client_id}/grant-codes`, { scopes: 'ZohoCRM.users.READ' }),
    ).rejects.toThrow(/404/);
    expect((await exchange(await grant('ZohoCRM.users.READ'))).access_token).toMatch(TOKEN);
  });

  it('revokes the access tokens it minted by client credentials', async () => {
    const doomed = await newClient();
    const t = await token({
      grant_type: 'client_credentials',
      client_id: doomed.client_id,
      client_secret: doomed.client_secret,
      scope: 'ZohoCRM.users.READ',
      soid: `ZohoCRM.${server.orgId}`,
    });
    expect(await alive(t.access_token)).toBe(true);
    await server.admin('DELETE', `/orgs/${server.orgId}/oauth-clients/${doomed.client_id}`);
    expect(await alive(t.access_token)).toBe(false);
  });
});

/** `node --import tsx src/cli.ts --data <dir> …` against the running server's data directory (bounded). */
const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = join(ROOT, 'src', 'cli.ts');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CRM_MEDIA_') && k !== 'DATABASE_URL') env[k] = v;
  }
  Object.assign(env, server.backend.env, { CRM_MEDIA_LOG_LEVEL: 'silent', NODE_NO_WARNINGS: '1' });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, CLI, '--data', server.dataDir, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cli ${args.join(' ')} did not finish: ${stdout}\n${stderr}`));
    }, 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe(`CLI equivalents (${BACKEND})`, () => {
  it('oauth client-create / grant / client-list work against the running server\'s data', async () => {
    const created = await cli(['oauth', 'client-create', '--user', ADMIN_EMAIL, '--name', 'CLI Client']);
    expect(created.code, created.stderr).toBe(0);
    const c = JSON.parse(created.stdout);
    expect(c.client_id).toMatch(CLIENT_ID);
    expect(c.client_secret).toMatch(CLIENT_SECRET);
    expect(c.user_id).toBe(server.adminUserId);

    const granted = await cli(['oauth', 'grant', '--client', c.client_id, '--scopes', 'ZohoCRM.modules.ALL,ZohoCRM.users.READ']);
    expect(granted.code, granted.stderr).toBe(0);
    const g = JSON.parse(granted.stdout);
    expect(g.code).toMatch(GRANT_CODE);
    expect(Number.isNaN(Date.parse(g.expires_at))).toBe(false);

    const t = await exchange(g.code, c);
    expect(t.scope).toBe('ZohoCRM.modules.ALL ZohoCRM.users.READ');
    const me = await currentUser(t.access_token);
    expect(me.status, me.text).toBe(200);
    expect(me.json.users[0].email).toBe(ADMIN_EMAIL);

    const listed = await cli(['oauth', 'client-list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(c.client_id);
    expect(listed.stdout).not.toContain(c.client_secret);

    // The server sees the CLI's client; the admin API lists it without the secret.
    const viaAdmin = await server.admin('GET', `/orgs/${server.orgId}/oauth-clients`);
    expect(viaAdmin.clients.map((x: { client_id: string }) => x.client_id)).toContain(c.client_id);
  }, 60_000);

  it('oauth grant with bad scopes fails without a stack trace', async () => {
    const r = await cli(['oauth', 'grant', '--client', client.client_id, '--scopes', 'not-a-scope']);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).not.toMatch(/\n\s+at .+:\d+:\d+|node_modules\//);
  }, 60_000);
});
