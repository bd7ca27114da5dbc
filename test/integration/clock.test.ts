/**
 * The movable clock (docs/compatibility.md, "A clock tests can move"): off unless the server starts with it; then the
 * admin API and the CLI move it for every service at once, so that token and grant-code expiry, credit windows and
 * webhook retry back-off are tested without waiting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { runCli } from '../helpers/run-cli.js';
import { TestServer, http } from '../helpers/server.js';
import { eventually } from '../helpers/uploads.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { expectZohoError } from '../helpers/zoho.js';

/** Each CLI command is a fresh Node process compiling TypeScript: seconds each, more on a loaded machine. */
const CLI_TIMEOUT_MS = 180_000;

const HOUR = 3_600_000;
let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start({ testClock: true, controlPollMs: 100, webhookPollMs: 50, webhookRetryBaseMs: 60_000, webhookRetryMaxMs: 60_000, webhookMaxAttempts: 5 });
});
afterAll(async () => {
  await server?.stop();
});

const advance = (by: string) => server.admin('POST', '/clock/advance', { by });

describe('moving the clock', () => {
  it('shows the clock, moves it by a duration or milliseconds, and resets it', async () => {
    const start = await server.admin('GET', '/clock');
    expect(start).toMatchObject({ enabled: true });
    const moved = await advance('1h30m');
    expect(moved.offset_ms - start.offset_ms).toBe(1.5 * HOUR);
    expect(Date.parse(moved.now) - Date.now()).toBeGreaterThan(1.5 * HOUR - 60_000);
    const more = await server.admin('POST', '/clock/advance', { ms: 1000 });
    expect(more.offset_ms - moved.offset_ms).toBe(1000);
    const reset = await server.admin('DELETE', '/clock');
    expect(reset.offset_ms).toBe(0);
  });

  it.each([[{ by: 'soon' }], [{ by: '-5m' }], [{ ms: 0 }], [{ by: '400d' }], [{}]])('refuses %j', async (doc) => {
    const res = await http('POST', `${server.url}/_admin/clock/advance`, {
      headers: { 'x-admin-key': 'test-admin-key-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify(doc),
    });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
  });
});

describe('what it moves', () => {
  it('an access token expires when the clock passes its lifetime', async () => {
    const user = await server.createUser({ expiresIn: 3600 });
    expect((await server.api('GET', '/crm/v8/org', { token: user.token })).status).toBe(200);
    await advance('59m');
    expect((await server.api('GET', '/crm/v8/org', { token: user.token })).status).toBe(200);
    await advance('2m');
    expectZohoError(await server.api('GET', '/crm/v8/org', { token: user.token }), { status: 401, code: 'INVALID_TOKEN' });
  });

  it('a grant code expires after its three minutes', async () => {
    const client = await server.admin('POST', `/orgs/${server.orgId}/oauth-clients`, { user: 'admin@crm-media.local' });
    const grant = await server.admin('POST', `/orgs/${server.orgId}/oauth-clients/${client.client_id}/grant-codes`, { scopes: 'ZohoCRM.modules.ALL' });
    await advance('4m');
    const res = await http('POST', `${server.url}/oauth/v2/token`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: client.client_id, client_secret: client.client_secret, code: grant.code }).toString(),
    });
    expect(res.json).toEqual({ error: 'invalid_code' });
  });

  it('spent credits come back 24 to 25 hours later, never sooner', async () => {
    const org = await server.createOrg();
    await server.admin('PUT', `/orgs/${org.id}/limits`, { credits: 2 });
    const call = () => server.api('GET', '/crm/v8/org', { token: org.adminToken });
    expect((await call()).status).toBe(200);
    expect((await call()).status).toBe(200);
    expect((await call()).status).toBe(429);
    await advance('23h');
    expect((await call()).status).toBe(429);
    await advance('2h');
    expect((await call()).status).toBe(200);
  });

  it('a webhook retry due in a minute is made as soon as the clock passes it', async () => {
    const receiver = await WebhookReceiver.start();
    try {
      receiver.respond = (_d, i) => (i === 0 ? 500 : 200);
      await server.admin('POST', `/orgs/${server.orgId}/workflows`, { name: 'r', module: 'Leads', event: 'photo_uploaded', url: receiver.url });
      const record = await server.createRecord();
      const body = filePart(png(8, 8), 'p.png', 'image/png');
      expect((await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': body.contentType }, body: body.body })).status).toBe(200);
      await receiver.waitFor((d) => d.length === 1);
      // The retry is a minute away (±10 %): nothing comes meanwhile, until the clock is moved past it.
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.deliveries).toHaveLength(1);
      await advance('2m');
      const ds = await receiver.waitFor((d) => d.length === 2, 5_000);
      expect(ds[1]!.headers['x-crm-media-attempt']).toBe('2');
      expect(ds[1]!.headers['x-crm-media-delivery']).toBe(ds[0]!.headers['x-crm-media-delivery']);
    } finally {
      await receiver.stop();
    }
  });

  it('the CLI moves the clock of a running server within a control poll', async () => {
    const before = (await server.admin('GET', '/clock')).offset_ms as number;
    const run = await runCli(server, ['clock', 'advance', '3h']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json.offset_ms).toBe(before + 3 * HOUR);
    const seen = await eventually(() => server.admin('GET', '/clock'), (c) => c.offset_ms === before + 3 * HOUR, 5_000);
    expect(seen.offset_ms).toBe(before + 3 * HOUR);
  }, CLI_TIMEOUT_MS);
});

describe('off unless enabled at start', () => {
  it('a server without CRM_MEDIA_TEST_CLOCK refuses to move its clock', async () => {
    const plain = await TestServer.start();
    try {
      expect(await plain.admin('GET', '/clock')).toMatchObject({ enabled: false, offset_ms: 0 });
      const res = await http('POST', `${plain.url}/_admin/clock/advance`, {
        headers: { 'x-admin-key': 'test-admin-key-0123456789', 'content-type': 'application/json' },
        body: JSON.stringify({ by: '1h' }),
      });
      expectZohoError(res, { status: 409, code: 'INVALID_REQUEST' });
      // A moved offset in the store (by the CLI) does not move a server that runs without the clock.
      expect((await runCli(plain, ['clock', 'advance', '1h'])).code).toBe(0);
      const user = await plain.createUser({ expiresIn: 60 });
      expect((await plain.api('GET', '/crm/v8/org', { token: user.token })).status).toBe(200);
    } finally {
      await plain.stop();
    }
  }, CLI_TIMEOUT_MS);
});
