/**
 * The admin surface's gate over HTTP: the console's login and session cookie, CSRF-safe changes (token header and
 * Origin), logout, throttled wrong keys logged without the key; the admin listener apart (`--admin-port`); a record's
 * media changed from the admin side as a chosen user, through the API's own rules; orgs, profiles and users changed.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer, http } from '../helpers/server.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { expectZohoError } from '../helpers/zoho.js';

const KEY = 'test-admin-key-0123456789';

async function login(base: string, key = KEY, origin: string | null = base) {
  return http('POST', `${base}/_console/login`, {
    headers: { 'content-type': 'application/json', ...(origin !== null ? { origin } : {}) },
    body: JSON.stringify({ key }),
  });
}

function cookieOf(res: { headers: Record<string, string | string[] | undefined> }): string {
  const set = res.headers['set-cookie'];
  const line = (Array.isArray(set) ? set[0] : set) ?? '';
  return line.split(';', 1)[0]!;
}

describe('console sessions', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a login sets an HttpOnly, SameSite=Strict cookie and returns the CSRF token; the session reads the admin API', async () => {
    const res = await login(server.adminUrl);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const set = String(res.headers['set-cookie']);
    expect(set).toMatch(/^crm_media_console=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect(set).not.toContain('Secure');
    expect(res.json.csrf_token).toMatch(/^[\w-]{43}$/);
    const orgs = await http('GET', `${server.adminUrl}/_admin/orgs`, { headers: { cookie: cookieOf(res) } });
    expect(orgs.status).toBe(200);
    const session = await http('GET', `${server.adminUrl}/_console/session`, { headers: { cookie: cookieOf(res) } });
    expect(session.json.csrf_token).toBe(res.json.csrf_token);
  });

  it('a form-encoded login works too; the key is never taken from the URL', async () => {
    const form = await http('POST', `${server.adminUrl}/_console/login`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.adminUrl },
      body: `key=${encodeURIComponent(KEY)}`,
    });
    expect(form.status).toBe(200);
    const inUrl = await http('POST', `${server.adminUrl}/_console/login?key=${KEY}`, { headers: { origin: server.adminUrl } });
    expectZohoError(inUrl, { status: 400, code: 'REQUIRED_PARAM_MISSING' });
    expectZohoError(await http('GET', `${server.adminUrl}/_admin/orgs?key=${KEY}`), { status: 401, code: 'AUTHENTICATION_FAILURE' });
  });

  it.each([
    ['a wrong key', () => login(server.adminUrl, 'wrong-key-wrong-key-wrong'), 401],
    ['a login from another origin', () => login(server.adminUrl, KEY, 'http://127.0.0.1:1'), 403],
    ['a login without Origin', () => login(server.adminUrl, KEY, null), 403],
  ])('%s starts no session', async (_what, attempt, status) => {
    const res = await attempt();
    expect(res.status).toBe(status);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  describe('changes made with a session', () => {
    let cookie: string;
    let csrf: string;
    beforeAll(async () => {
      const res = await login(server.adminUrl);
      cookie = cookieOf(res);
      csrf = res.json.csrf_token;
    });
    const post = (headers: Record<string, string>) =>
      http('POST', `${server.adminUrl}/_admin/orgs`, { headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: 'Made by session' }) });

    it.each([
      ['without the CSRF token', () => ({ origin: server.adminUrl })],
      ['with a wrong CSRF token', () => ({ origin: server.adminUrl, 'x-csrf-token': 'x'.repeat(43) })],
      ['from another origin (another port of the same host)', () => ({ origin: 'http://127.0.0.1:1', 'x-csrf-token': csrf })],
      ['without an Origin header', () => ({ 'x-csrf-token': csrf })],
      ['from a forged form (text/plain, no token, foreign origin)', () => ({ origin: 'http://evil.test', 'content-type': 'text/plain' })],
    ])('are refused %s, and change nothing', async (_what, headers) => {
      const res = await post(headers());
      expectZohoError(res, { status: 403, code: 'AUTHENTICATION_FAILURE' });
      expect((await server.admin('GET', '/orgs')).orgs.some((o: any) => o.name === 'Made by session')).toBe(false);
    });

    it('go through with the token from the same origin', async () => {
      const res = await post({ origin: server.adminUrl, 'x-csrf-token': csrf });
      expect(res.status).toBe(201);
    });

    it('end with a logout (which needs the token too)', async () => {
      const refused = await http('POST', `${server.adminUrl}/_console/logout`, { headers: { cookie, origin: server.adminUrl } });
      expect(refused.status).toBe(403);
      const out = await http('POST', `${server.adminUrl}/_console/logout`, { headers: { cookie, origin: server.adminUrl, 'x-csrf-token': csrf } });
      expect(out.status).toBe(200);
      expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
      const after = await http('GET', `${server.adminUrl}/_admin/orgs`, { headers: { cookie } });
      expectZohoError(after, { status: 401, code: 'AUTHENTICATION_FAILURE', message: 'the console session has ended; log in again' });
    });
  });
});

describe('sessions that end', () => {
  it('after the idle time, the session is refused and its cookie cleared', async () => {
    const s = await TestServer.start({ consoleSessionIdleMs: 1_000 });
    try {
      const cookie = cookieOf(await login(s.adminUrl));
      expect((await http('GET', `${s.adminUrl}/_admin/orgs`, { headers: { cookie } })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1_200)); // the idle time passes: this test is about time
      const res = await http('GET', `${s.adminUrl}/_admin/orgs`, { headers: { cookie } });
      expectZohoError(res, { status: 401, code: 'AUTHENTICATION_FAILURE', message: 'the console session has ended; log in again' });
      expect(String(res.headers['set-cookie'])).toContain('Max-Age=0');
      expect((await http('GET', `${s.adminUrl}/_console/session`, { headers: { cookie } })).status).toBe(401);
    } finally {
      await s.stop();
    }
  });
});

describe('wrong admin keys', () => {
  it('are throttled per address after the limit (even the right key waits), and logged without the key', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const s = await TestServer.start({ adminAuthMaxFailures: 3, adminAuthWindowMs: 60_000, logLevel: 'warn' }, undefined, pino({ level: 'warn', base: undefined }, sink));
    try {
      const wrong = ['wrong-key-number-one-0001', 'wrong-key-number-two-0002'];
      expectZohoError(await http('GET', `${s.adminUrl}/_admin/orgs`, { headers: { 'x-admin-key': wrong[0]! } }), { status: 401, code: 'AUTHENTICATION_FAILURE' });
      expectZohoError(await login(s.adminUrl, wrong[1]), { status: 401, code: 'AUTHENTICATION_FAILURE' });
      // The right key in between starts the count again.
      expect((await http('GET', `${s.adminUrl}/_admin/orgs`, { headers: { 'x-admin-key': KEY } })).status).toBe(200);
      for (let i = 0; i < 3; i++) {
        expectZohoError(await http('GET', `${s.adminUrl}/_admin/orgs`, { headers: { authorization: `Bearer ${wrong[0]}` } }), { status: 401, code: 'AUTHENTICATION_FAILURE' });
      }
      const blocked = await http('GET', `${s.adminUrl}/_admin/orgs`, { headers: { 'x-admin-key': KEY } });
      expectZohoError(blocked, { status: 429, code: 'TOO_MANY_REQUESTS' });
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expectZohoError(await login(s.adminUrl), { status: 429, code: 'TOO_MANY_REQUESTS' });
      // Requests without any key are not attempts: they are refused as usual.
      expectZohoError(await http('GET', `${s.adminUrl}/_admin/orgs`), { status: 401, code: 'AUTHENTICATION_FAILURE' });

      const refusals = lines.filter((l) => l['msg'] === 'wrong admin key');
      expect(refusals).toHaveLength(5);
      expect(refusals[0]).toMatchObject({ address: '127.0.0.1', method: 'GET', path: '/_admin/orgs', failures: 1 });
      expect(lines.some((l) => String(l['msg']).includes('too many wrong keys'))).toBe(true);
      const log = JSON.stringify(lines);
      for (const k of [KEY, ...wrong]) expect(log).not.toContain(k);
    } finally {
      await s.stop();
    }
  });
});

describe('the admin listener apart (--admin-port)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await TestServer.start({ adminPort: 0, adminHost: '127.0.0.1' });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('serves /_admin and /_console on its own port; the main listener answers them with Zoho 404', async () => {
    expect(s.adminUrl).not.toBe(s.url);
    for (const path of ['/_admin/orgs', '/_console/', '/_console/session', '/_admin/journal']) {
      expectZohoError(await http('GET', `${s.url}${path}`, { headers: { 'x-admin-key': KEY } }), { status: 404, code: 'INVALID_URL_PATTERN' });
    }
    expectZohoError(await http('POST', `${s.url}/_console/login`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: KEY }) }), {
      status: 404,
      code: 'INVALID_URL_PATTERN',
    });
    expect((await http('GET', `${s.adminUrl}/_admin/orgs`, { headers: { 'x-admin-key': KEY } })).status).toBe(200);
    // The Zoho API is not on the admin listener.
    expectZohoError(await s.api('GET', '/crm/v8/org').then(() => http('GET', `${s.adminUrl}/crm/v8/org`, { token: s.devToken })), { status: 404, code: 'INVALID_URL_PATTERN' });
  });

  it('shows the journal of the main listener', async () => {
    const res = await s.api('GET', '/crm/v8/org');
    const listed = await s.admin('GET', '/journal?operation=org.get');
    expect(listed.entries.map((e: any) => e.id)).toContain(res.headers['x-request-id']);
  });
});

describe('media changed as a chosen user, through the API rules', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    server = await TestServer.start({ webhookPollMs: 50 });
    receiver = await WebhookReceiver.start();
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
  });

  const adminUpload = (org: string, record: string, what: 'photo' | 'attachments', bytes: Buffer | string, as?: string) => {
    const { body, contentType } = filePart(bytes, what === 'photo' ? 'p.png' : 'a.txt', what === 'photo' ? 'image/png' : 'text/plain');
    return http('POST', `${server.adminUrl}/_admin/orgs/${org}/records/${record}/${what}${as ? `?as=${encodeURIComponent(as)}` : ''}`, {
      headers: { 'x-admin-key': KEY, 'content-type': contentType },
      body,
    });
  };

  it('uploads, serves and deletes a photo as the owner; fires the workflow rule; the API sees it', async () => {
    await server.admin('POST', `/orgs/${server.orgId}/workflows`, { name: 'up', module: 'Leads', event: 'photo_uploaded', url: receiver.url });
    const record = await server.createRecord();
    const image = png(30, 20);
    const up = await adminUpload(server.orgId, record, 'photo', image);
    expect(up.status).toBe(201);
    expect(up.json.photo).toMatchObject({ content_type: 'image/png', width: 30, height: 20, size: image.length });
    const got = await http('GET', `${server.adminUrl}/_admin/orgs/${server.orgId}/records/${record}/photo`, { headers: { 'x-admin-key': KEY } });
    expect(got.body.equals(image)).toBe(true);
    expect(got.headers['content-type']).toBe('image/png');
    expect((await server.api('GET', `/crm/v8/Leads/${record}/photo`)).body.equals(image)).toBe(true);
    await server.admin('GET', '/workflow-deliveries/wait?timeout_ms=30000');
    expect(receiver.byEvent('photo_uploaded').map((d) => d.json.record_id)).toContain(record);
    const del = await http('DELETE', `${server.adminUrl}/_admin/orgs/${server.orgId}/records/${record}/photo`, { headers: { 'x-admin-key': KEY } });
    expect(del.status).toBe(200);
    expect((await server.api('GET', `/crm/v8/Leads/${record}/photo`)).status).toBe(204);
  });

  it('meets the same refusals as the API: a locked record, a user without the permission, an inactive user, a bad image', async () => {
    const record = await server.createRecord();
    await server.setState(record, 'merge_in_progress');
    expectZohoError(await adminUpload(server.orgId, record, 'photo', png(3, 3)), { status: 400, code: 'RECORD_LOCKED' });
    // Attachments are not held by the lock, on the API neither.
    expect((await adminUpload(server.orgId, record, 'attachments', 'x')).status).toBe(201);
    await server.setState(record, 'normal');
    const reader = await server.createUser({ permissions: { '*': { view: true } } });
    expectZohoError(await adminUpload(server.orgId, record, 'photo', png(3, 3), reader.email), { status: 403, code: 'NO_PERMISSION' });
    await server.admin('PUT', `/orgs/${server.orgId}/users/${reader.id}`, { status: 'inactive' });
    expectZohoError(await adminUpload(server.orgId, record, 'photo', png(3, 3), reader.id), { status: 400, code: 'INVALID_DATA' });
    expectZohoError(await adminUpload(server.orgId, record, 'photo', Buffer.from('<svg/>')), { status: 400, code: 'INVALID_DATA' });
    expect((await server.admin('GET', `/orgs/${server.orgId}/records/${record}`)).photo).toBeNull();
  });

  it('adds, lists, downloads and deletes attachments, files and links', async () => {
    const record = await server.createRecord();
    const file = await adminUpload(server.orgId, record, 'attachments', 'file body');
    expect(file.json).toMatchObject({ kind: 'file', file_name: 'a.txt', size: 9 });
    const link = await http('POST', `${server.adminUrl}/_admin/orgs/${server.orgId}/records/${record}/attachments?attachmentUrl=${encodeURIComponent('https://example.test/x')}&title=X`, {
      headers: { 'x-admin-key': KEY },
    });
    expect(link.json).toMatchObject({ kind: 'link', link_url: 'https://example.test/x', title: 'X' });
    const detail = await server.admin('GET', `/orgs/${server.orgId}/records/${record}`);
    expect(detail.attachments.map((a: any) => a.kind).sort()).toEqual(['file', 'link']);
    const dl = await http('GET', `${server.adminUrl}/_admin/orgs/${server.orgId}/records/${record}/attachments/${file.json.id}`, { headers: { 'x-admin-key': KEY } });
    expect(dl.text).toBe('file body');
    expect(dl.headers['content-disposition']).toBe('attachment; filename="a.txt"');
    await server.admin('DELETE', `/orgs/${server.orgId}/records/${record}/attachments/${file.json.id}`);
    expect((await server.admin('GET', `/orgs/${server.orgId}/records/${record}`)).attachments).toHaveLength(1);
    expectZohoError(await http('GET', `${server.adminUrl}/_admin/orgs/${server.orgId}/records/999/photo`, { headers: { 'x-admin-key': KEY } }), {
      status: 404,
      code: 'INVALID_DATA',
    });
  });
});

describe('orgs, profiles and users changed in place', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('an org gets a new name and time zone; API times follow', async () => {
    const org = await server.admin('PUT', `/orgs/${server.orgId}`, { name: 'Renamed', time_zone: 'Asia/Kolkata' });
    expect(org).toMatchObject({ name: 'Renamed', time_zone: 'Asia/Kolkata' });
    const record = await server.createRecord();
    expect((await server.api('GET', `/crm/v8/Leads/${record}`)).json.data[0].Created_Time).toMatch(/\+05:30$/);
    expectZohoError(
      await http('PUT', `${server.adminUrl}/_admin/orgs/${server.orgId}`, { headers: { 'x-admin-key': KEY, 'content-type': 'application/json' }, body: '{"time_zone":"Mars/Base"}' }),
      { status: 400, code: 'INVALID_DATA' },
    );
  });

  it("a profile's permissions and a user's status apply to the next request", async () => {
    const user = await server.createUser({ permissions: { '*': { view: true, create: true, edit: true, delete: true } } });
    const record = await server.createRecord();
    expect((await server.api('GET', `/crm/v8/Leads/${record}`, { token: user.token })).status).toBe(200);
    const profiles = (await server.admin('GET', `/orgs/${server.orgId}/profiles`)).profiles;
    const users = (await server.admin('GET', `/orgs/${server.orgId}/users`)).users;
    const profileId = users.find((u: any) => u.id === user.id).profile_id;
    expect(profiles.some((p: any) => p.id === profileId)).toBe(true);
    await server.admin('PUT', `/orgs/${server.orgId}/profiles/${profileId}`, { permissions: { '*': { view: false } } });
    expectZohoError(await server.api('GET', `/crm/v8/Leads/${record}`, { token: user.token }), { status: 403, code: 'NO_PERMISSION' });
    await server.admin('PUT', `/orgs/${server.orgId}/users/${user.id}`, { status: 'inactive' });
    expectZohoError(await server.api('GET', `/crm/v8/Leads/${record}`, { token: user.token }), { status: 401, code: 'INVALID_TOKEN' });
    const renamed = await server.admin('PUT', `/orgs/${server.orgId}/users/${user.id}`, { name: 'New Name', profile: 'Administrator', status: 'active' });
    expect(renamed).toMatchObject({ name: 'New Name', status: 'active' });
    expect((await server.api('GET', `/crm/v8/Leads/${record}`, { token: user.token })).status).toBe(200);
  });

  it('refuses a taken email or profile name', async () => {
    const a = await server.createUser();
    const b = await server.createUser();
    const put = (path: string, body: unknown) =>
      http('PUT', `${server.adminUrl}/_admin/orgs/${server.orgId}${path}`, { headers: { 'x-admin-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expectZohoError(await put(`/users/${a.id}`, { email: b.email.toUpperCase() }), { status: 400, code: 'DUPLICATE_DATA' });
    const profiles = (await server.admin('GET', `/orgs/${server.orgId}/profiles`)).profiles;
    const standard = profiles.find((p: any) => p.name === 'Standard');
    expectZohoError(await put(`/profiles/${standard.id}`, { name: 'administrator' }), { status: 400, code: 'DUPLICATE_DATA' });
    expectZohoError(await put('/users/123', { name: 'x' }), { status: 404, code: 'INVALID_DATA' });
  });
});
