/**
 * Zoho's limits on demand, over real HTTP (docs/zoho-api.md §6, §10; docs/compatibility.md "Limits"): API credits per
 * rolling 24 hours with `X-API-CREDITS-REMAINING`, concurrency and sub-concurrency per user and OAuth client (the slot
 * held while a body streams, back when the response ends or the client goes away), the org's storage quota and the
 * per-record attachment total (refused while the upload streams, nothing stored, usage reported, space freed by
 * deleting). All of it is off unless an org is given limits.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer, http } from '../helpers/server.js';
import { runCli } from '../helpers/run-cli.js';
import { heldUpload } from '../helpers/slow-upload.js';
import { eventually, expectBlobs, expectNoTempFiles } from '../helpers/uploads.js';
import { expectZohoError } from '../helpers/zoho.js';

/** Each CLI command is a fresh Node process compiling TypeScript: seconds each, more on a loaded machine. */
const CLI_TIMEOUT_MS = 180_000;

let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start({ journalSize: 2000 });
});
afterAll(async () => {
  await server?.stop();
});

interface Org {
  id: string;
  token: string;
}

async function newOrg(limits?: Record<string, unknown>): Promise<Org> {
  const org = await server.createOrg();
  if (limits) await server.admin('PUT', `/orgs/${org.id}/limits`, limits);
  return { id: org.id, token: org.adminToken };
}

const report = (org: Org) => server.admin('GET', `/orgs/${org.id}/limits`);

function upload(org: Org, path: string, data: Buffer, name = 'f.bin') {
  const body = filePart(data, name, 'application/octet-stream');
  return server.api('POST', path, { token: org.token, headers: { 'content-type': body.contentType }, body: body.body });
}

function marksOf(res: { headers: Record<string, unknown> }): string[] {
  const id = res.headers['x-request-id'];
  return server.server.journal.list({}, 2000).find((e) => e.id === id)?.marks ?? [];
}

describe('off unless configured', () => {
  it('an org without limits meets none, and its report says so', async () => {
    const org = await newOrg();
    const res = await server.api('GET', '/crm/v8/org', { token: org.token });
    expect(res.status).toBe(200);
    expect(res.headers['x-api-credits-remaining']).toBeUndefined();
    const r = await report(org);
    expect(r).toMatchObject({ source: 'none', settings: null, effective: { credits: null, concurrency: null, storage_bytes: null, token_limits: false } });
    expect(r.usage.credits_used).toBe(0);
  });

  it('refuses a limits document that names no limit, or an unknown edition', async () => {
    const org = await newOrg();
    for (const doc of [{}, { edition: 'platinum' }, { users: 3 }, { credits: -1 }, { concurency: 3 }]) {
      const res = await http('PUT', `${server.url}/_admin/orgs/${org.id}/limits`, {
        headers: { 'x-admin-key': 'test-admin-key-0123456789', 'content-type': 'application/json' },
        body: JSON.stringify(doc),
      });
      expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
    }
    expect((await report(org)).settings).toBeNull();
  });
});

describe('edition presets', () => {
  it.each([
    ['free', 1, { credits: 5_000, concurrency: 5, sub_concurrency: 10, storage_bytes: 1024 ** 3 }],
    ['standard', 400, { credits: 100_000, concurrency: 10, sub_concurrency: 10, storage_bytes: 1024 ** 3 + 400 * 512 * 1024 ** 2 }],
    ['enterprise', 10, { credits: 60_000, concurrency: 20, sub_concurrency: 10, storage_bytes: 11 * 1024 ** 3 }],
    ['ultimate', 3, { credits: 56_000, concurrency: 25, sub_concurrency: 10, storage_bytes: 4 * 1024 ** 3 }],
  ])('%s for %i users', async (edition, users, expected) => {
    const org = await newOrg({ edition, users });
    const r = await report(org);
    expect(r.source).toBe('org');
    expect(r.settings).toMatchObject({ edition, users, credits: null });
    expect(r.effective).toEqual({ ...expected, record_attachment_bytes: 100 * 1024 ** 2, token_limits: true });
  });

  it('explicit figures replace the edition\'s', async () => {
    const org = await newOrg({ edition: 'enterprise', users: 10, credits: 7, token_limits: false });
    expect((await report(org)).effective).toMatchObject({ credits: 7, concurrency: 20, token_limits: false });
    await server.admin('DELETE', `/orgs/${org.id}/limits`);
    expect((await report(org)).source).toBe('none');
  });
});

describe('API credits', () => {
  it('each call costs a credit; X-API-CREDITS-REMAINING once half are used; then TOO_MANY_REQUESTS 429', async () => {
    const org = await newOrg({ credits: 6 });
    const remaining: (string | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await server.api('GET', '/crm/v8/org', { token: org.token });
      expect(res.status).toBe(200);
      remaining.push(res.headers['x-api-credits-remaining'] as string | undefined);
    }
    expect(remaining).toEqual([undefined, undefined, '3', '2', '1', '0']);
    const refused = await server.api('GET', '/crm/v8/org', { token: org.token });
    expectZohoError(refused, {
      status: 429,
      code: 'TOO_MANY_REQUESTS',
      message: 'the API credits of the 24-hour period are exceeded',
      details: { limit: 'credits', maximum: 6 },
    });
    expect(refused.headers['x-api-credits-remaining']).toBe('0');
    expect(refused.headers['retry-after']).toBeUndefined();
    expect(marksOf(refused)).toEqual(['limit:credits']);
    const r = await report(org);
    expect(r.usage).toMatchObject({ credits_used: 6, credits_remaining: 0 });
    // A refused call costs nothing; a fresh day of credits lets calls in again.
    await server.admin('POST', `/orgs/${org.id}/limits/reset-credits`);
    expect((await server.api('GET', '/crm/v8/org', { token: org.token })).status).toBe(200);
  });

  it('every operation costs, an upload and a failed call alike; another org is not affected', async () => {
    const org = await newOrg({ credits: 100 });
    const other = await newOrg({ credits: 100 });
    const record = await server.createRecord('Leads', org.token);
    expect((await upload(org, `/crm/v8/Leads/${record}/photo`, png(10, 10))).status).toBe(200);
    expect((await server.api('GET', `/crm/v8/Leads/${record}/photo`, { token: org.token })).status).toBe(200);
    expect((await server.api('GET', '/crm/v8/Leads/1/photo', { token: org.token })).status).toBe(400);
    expect((await report(org)).usage.credits_used).toBe(4);
    expect((await report(other)).usage.credits_used).toBe(0);
  });

  it('a request without a valid token costs nothing and is not limited', async () => {
    const org = await newOrg({ credits: 1 });
    expectZohoError(await server.api('GET', '/crm/v8/org', { token: 'not-a-token' }), { status: 401, code: 'INVALID_TOKEN' });
    expect((await report(org)).usage.credits_used).toBe(0);
  });
});

describe('concurrency', () => {
  const image = png(16, 16);

  it('N+1 slow uploads against a limit of N: exactly one 429; a slot comes back when a client goes away mid-upload', async () => {
    const org = await newOrg({ concurrency: 3 });
    const records: string[] = [];
    for (let i = 0; i < 5; i++) records.push(await server.createRecord('Leads', org.token));
    const held = records.slice(0, 3).map((r) => heldUpload(`${server.url}/crm/v8/Leads/${r}/photo`, org.token, image.subarray(0, 8), image.subarray(8)));
    await Promise.all(held.map((h) => h.waiting));
    await eventually(() => report(org), (r) => r.usage.in_flight.reduce((n: number, f: { count: number }) => n + f.count, 0) === 3);

    const extra = heldUpload(`${server.url}/crm/v8/Leads/${records[3]}/photo`, org.token, image.subarray(0, 8), image.subarray(8));
    const refused = await extra.response;
    extra.abort();
    if (refused instanceof Error) throw refused;
    expectZohoError(refused, {
      status: 429,
      code: 'TOO_MANY_REQUESTS',
      message: 'the concurrency limit of the user for the app is exceeded',
      details: { limit: 'concurrency', maximum: 3 },
    });
    expect(marksOf(refused)).toEqual(['limit:concurrency']);
    expect((await server.api('GET', '/crm/v8/org', { token: org.token })).status).toBe(429);

    // One client goes away mid-upload: its slot comes back.
    held[0]!.abort();
    expect(await held[0]!.response).toBeInstanceOf(Error);
    const after = await eventually(() => report(org), (r) => r.usage.in_flight[0]?.count === 2, 5_000);
    expect(after.usage.in_flight).toEqual([{ user_id: expect.any(String), client_id: null, kind: 'all', count: 2 }]);
    expect((await upload(org, `/crm/v8/Leads/${records[4]}/photo`, image)).status).toBe(200);

    for (const h of held.slice(1)) h.finish();
    for (const h of held.slice(1)) expect(((await h.response) as { status: number }).status).toBe(200);
    expect((await eventually(() => report(org), (r) => r.usage.in_flight.length === 0)).usage.in_flight).toEqual([]);
    await expectNoTempFiles(server);
  });

  it('a slot is held while a download streams, and comes back when the client goes away mid-download', async () => {
    const org = await newOrg({ concurrency: 1 });
    const record = await server.createRecord('Leads', org.token);
    const big = Buffer.concat([png(30, 30), randomBytes(200_000)]);
    expect((await upload(org, `/crm/v8/Leads/${record}/photo`, big, 'big.png')).status).toBe(200);
    // The download trickles out (a fault rule), so it is still streaming while the test looks.
    const rule = await server.admin('POST', '/faults', { match: { operation: 'photo.download', org: org.id }, action: { throttle_bytes_per_second: 20_000 } });
    try {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
      const firstBytes = new Promise<void>((resolve) => socket.once('data', () => resolve()));
      socket.on('error', () => {});
      socket.write(`GET /crm/v8/Leads/${record}/photo HTTP/1.1\r\nHost: x\r\nAuthorization: Zoho-oauthtoken ${org.token}\r\n\r\n`);
      await firstBytes;
      expect((await report(org)).usage.in_flight).toEqual([expect.objectContaining({ kind: 'all', count: 1 })]);
      expectZohoError(await server.api('GET', '/crm/v8/org', { token: org.token }), { status: 429, code: 'TOO_MANY_REQUESTS' });
      socket.destroy();
      expect((await eventually(() => report(org), (r) => r.usage.in_flight.length === 0, 5_000)).usage.in_flight).toEqual([]);
      expect((await server.api('GET', '/crm/v8/org', { token: org.token })).status).toBe(200);
    } finally {
      await server.admin('DELETE', `/faults/${rule.id}`);
    }
  });

  it('the sub-concurrency limit applies to heavy calls only', async () => {
    const org = await newOrg({ sub_concurrency: 1 });
    const a = await server.createRecord('Leads', org.token);
    const b = await server.createRecord('Leads', org.token);
    const held = heldUpload(`${server.url}/crm/v8/Leads/${a}/photo`, org.token, image.subarray(0, 8), image.subarray(8));
    await held.waiting;
    await eventually(() => report(org), (r) => r.usage.in_flight.length === 1);
    expect((await server.api('GET', `/crm/v8/Leads/${b}/photo`, { token: org.token })).status).toBe(204);
    const refused = await upload(org, `/crm/v8/Leads/${b}/photo`, image);
    expectZohoError(refused, {
      status: 429,
      code: 'TOO_MANY_REQUESTS',
      message: 'the sub-concurrency limit of the user for the app is exceeded',
      details: { limit: 'sub_concurrency', maximum: 1 },
    });
    expect(marksOf(refused)).toEqual(['limit:sub-concurrency']);
    held.finish();
    expect(((await held.response) as { status: number }).status).toBe(200);
    // The slot comes back when the server's side of the response closes, a moment after the client has read it.
    await eventually(() => report(org), (r) => r.usage.in_flight.length === 0, 5_000);
    expect((await upload(org, `/crm/v8/Leads/${b}/photo`, image)).status).toBe(200);
  });

  it('counts per user and OAuth client: another client of the same user has its own slots', async () => {
    const org = await newOrg({ concurrency: 1 });
    const users = await server.admin('GET', `/orgs/${org.id}/users`);
    const user = users.users[0].id as string;
    const client = await server.admin('POST', `/orgs/${org.id}/oauth-clients`, { user });
    const minted = await http('POST', `${server.url}/oauth/v2/token`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: client.client_id,
        client_secret: client.client_secret,
        scope: 'ZohoCRM.modules.ALL,ZohoCRM.org.ALL',
        soid: `ZohoCRM.${org.id}`,
      }).toString(),
    });
    const clientToken = minted.json.access_token as string;
    const record = await server.createRecord('Leads', org.token);
    const held = heldUpload(`${server.url}/crm/v8/Leads/${record}/photo`, org.token, image.subarray(0, 8), image.subarray(8));
    await held.waiting;
    await eventually(() => report(org), (r) => r.usage.in_flight.length === 1);
    expect((await server.api('GET', '/crm/v8/org', { token: clientToken })).status).toBe(200);
    // Another token of the same user without a client is the same app.
    const second = await server.admin('POST', `/orgs/${org.id}/tokens`, { user });
    expect((await server.api('GET', '/crm/v8/org', { token: second.access_token })).status).toBe(429);
    held.finish();
    expect(((await held.response) as { status: number }).status).toBe(200);
  });
});

describe('storage quota', () => {
  it('an upload that would cross the quota is refused while it streams, and leaves no bytes behind', async () => {
    const org = await newOrg({ storage_bytes: 200_000 });
    const [a, b] = await Promise.all([server.createRecord('Leads', org.token), server.createRecord('Leads', org.token)]);
    expect((await upload(org, `/crm/v8/Leads/${a}/Attachments`, randomBytes(150_000))).status).toBe(200);
    expect((await report(org)).usage).toMatchObject({ storage_used_bytes: 150_000, storage_remaining_bytes: 50_000 });
    const before = await server.blobFiles();
    // 300 KB go out and the body then waits: the answer comes while the client is still sending.
    const held = heldUpload(`${server.url}/crm/v8/Leads/${b}/Attachments`, org.token, Buffer.from('x'), Buffer.from('end'), 300_000);
    const refused = await held.response;
    held.abort();
    if (refused instanceof Error) throw refused;
    expectZohoError(refused, {
      status: 400,
      code: 'STORAGE_SPACE_EXCEEDED',
      message: 'the storage space of the organization is exceeded',
      details: { maximum_bytes: 200_000 },
    });
    expect(marksOf(refused)).toEqual(['limit:storage']);
    await expectBlobs(server, before);
    await expectNoTempFiles(server);
    expect((await report(org)).usage.storage_used_bytes).toBe(150_000);
  });

  it('a photo that replaces another counts only the difference; deleting frees the space', async () => {
    const org = await newOrg({ storage_bytes: 120_000 });
    const [a, b] = await Promise.all([server.createRecord('Leads', org.token), server.createRecord('Leads', org.token)]);
    const pad = (size: number) => Buffer.concat([png(20, 20), Buffer.alloc(size - png(20, 20).length)]);
    expect((await upload(org, `/crm/v8/Leads/${a}/photo`, pad(60_000), 'a.png')).status).toBe(200);
    expectZohoError(await upload(org, `/crm/v8/Leads/${b}/photo`, pad(70_000), 'b.png'), { status: 400, code: 'STORAGE_SPACE_EXCEEDED' });
    // Replacing a's 60 KB photo with 110 KB needs 50 KB more: there is room.
    expect((await upload(org, `/crm/v8/Leads/${a}/photo`, pad(110_000), 'a2.png')).status).toBe(200);
    expect((await report(org)).usage.storage_used_bytes).toBe(110_000);
    expect((await server.api('DELETE', `/crm/v8/Leads/${a}/photo`, { token: org.token })).status).toBe(200);
    expect((await report(org)).usage.storage_used_bytes).toBe(0);
    expect((await upload(org, `/crm/v8/Leads/${b}/photo`, pad(70_000), 'b.png')).status).toBe(200);
    // Deleting the record frees its media too.
    expect((await server.api('DELETE', `/crm/v8/Leads/${b}`, { token: org.token })).status).toBe(200);
    expect((await report(org)).usage.storage_used_bytes).toBe(0);
  });

  it('concurrent uploads never take the org past its quota', async () => {
    const org = await newOrg({ storage_bytes: 100_000 });
    const records = await Promise.all(Array.from({ length: 6 }, () => server.createRecord('Leads', org.token)));
    const results = await Promise.all(records.map((r) => upload(org, `/crm/v8/Leads/${r}/Attachments`, randomBytes(30_000))));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    for (const r of results.filter((x) => x.status !== 200)) expectZohoError(r, { status: 400, code: 'STORAGE_SPACE_EXCEEDED' });
    expect((await report(org)).usage.storage_used_bytes).toBe(90_000);
  });

  it('the per-record attachment total: FILE_SIZE_MORE_THAN_ALLOWED_SIZE on that record, other records unaffected', async () => {
    const org = await newOrg({ record_attachment_bytes: 50_000 });
    const [a, b] = await Promise.all([server.createRecord('Leads', org.token), server.createRecord('Leads', org.token)]);
    expect((await upload(org, `/crm/v8/Leads/${a}/Attachments`, randomBytes(30_000))).status).toBe(200);
    const before = await server.blobFiles();
    const refused = await upload(org, `/crm/v8/Leads/${a}/Attachments`, randomBytes(30_000));
    expectZohoError(refused, {
      status: 415,
      code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
      details: { limit: 'record_attachments', maximum_bytes: 50_000 },
    });
    expect(marksOf(refused)).toEqual(['limit:record-attachments']);
    await expectBlobs(server, before);
    expect((await upload(org, `/crm/v8/Leads/${b}/Attachments`, randomBytes(30_000))).status).toBe(200);
    // A link has no bytes: it always fits.
    const link = await server.api('POST', `/crm/v8/Leads/${a}/Attachments`, { token: org.token, query: { attachmentUrl: 'https://example.test/x' } });
    expect(link.status).toBe(200);
  });

  it('usage is counted for every org, with or without a quota', async () => {
    const org = await newOrg();
    const record = await server.createRecord('Leads', org.token);
    expect((await upload(org, `/crm/v8/Leads/${record}/Attachments`, randomBytes(12_345))).status).toBe(200);
    expect((await report(org)).usage).toMatchObject({ storage_used_bytes: 12_345, storage_remaining_bytes: null });
  });
});

describe('limits from a seed file and the server default', () => {
  it('a seed document sets an org\'s limits, edition or explicit', async () => {
    const seed = await server.admin('POST', '/seed', {
      orgs: [
        { name: `seeded-${randomBytes(3).toString('hex')}`, limits: { edition: 'enterprise', users: 10 } },
        { name: `seeded-${randomBytes(3).toString('hex')}`, limits: { credits: 5000, concurrency: 10, storage_bytes: 1073741824 } },
      ],
    });
    const [first, second] = seed.orgs as { id: string }[];
    expect((await server.admin('GET', `/orgs/${first!.id}/limits`)).effective).toMatchObject({ credits: 60_000, concurrency: 20 });
    expect((await server.admin('GET', `/orgs/${second!.id}/limits`)).effective).toMatchObject({ credits: 5000, concurrency: 10, storage_bytes: 1073741824, token_limits: false });
  });

  it('CRM_MEDIA_DEFAULT_LIMITS applies to orgs without limits of their own', async () => {
    const other = await TestServer.start({ defaultLimits: '{"credits":2}' });
    try {
      expect((await other.api('GET', '/crm/v8/org')).status).toBe(200);
      expect((await other.api('GET', '/crm/v8/org')).status).toBe(200);
      expectZohoError(await other.api('GET', '/crm/v8/org'), { status: 429, code: 'TOO_MANY_REQUESTS' });
      expect((await other.admin('GET', `/orgs/${other.orgId}/limits`)).source).toBe('default');
    } finally {
      await other.stop();
    }
  });
});

describe('set from the CLI while the server runs', () => {
  it('`crm-media limits set` applies within the cache bound; show, reset-credits and clear', async () => {
    const org = await newOrg();
    const set = await runCli(server, ['limits', 'set', '--org', org.id, '--credits', '2', '--concurrency', '4']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.json).toMatchObject({ source: 'org', effective: { credits: 2, concurrency: 4 } });
    // This server caches an org's limits for CRM_MEDIA_TOKEN_CACHE_TTL_MS (2 s by default).
    const refused = await eventually(() => server.api('GET', '/crm/v8/org', { token: org.token }), (r) => r.status === 429, 6_000);
    expectZohoError(refused, { status: 429, code: 'TOO_MANY_REQUESTS' });
    const shown = await runCli(server, ['limits', 'show', '--org', org.id]);
    expect(shown.json.usage).toMatchObject({ credits_used: 2, credits_remaining: 0 });
    expect((await runCli(server, ['limits', 'reset-credits', '--org', org.id])).json.usage.credits_used).toBe(0);
    expect((await runCli(server, ['limits', 'set', '--org', org.id, '--edition', 'free'])).json.effective).toMatchObject({ credits: 5000, concurrency: 5 });
    expect((await runCli(server, ['limits', 'clear', '--org', org.id])).json.source).toBe('none');
    const bad = await runCli(server, ['limits', 'set', '--org', org.id, '--edition', 'gold']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^crm-media: invalid limits: edition/);
  }, CLI_TIMEOUT_MS);
});
