/**
 * Fault rules as a client meets them (docs/compatibility.md, "Faults on demand"): a delay (fixed or a range), a
 * catalog error, a connection reset before or after the headers, a truncated body, a throttled body; matched on
 * operation, method, module, org, user, token or client; fired always, with a probability, for the next N matches or
 * until a time; listed, removed, and written in the journal entry and the log line of each request they touched.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { rawRequest } from '../helpers/raw-http.js';
import { runCli } from '../helpers/run-cli.js';
import { TestServer, http } from '../helpers/server.js';
import { eventually } from '../helpers/uploads.js';
import { expectZohoError } from '../helpers/zoho.js';

/** Each CLI command is a fresh Node process compiling TypeScript: seconds each, more on a loaded machine. */
const CLI_TIMEOUT_MS = 180_000;

let server: TestServer;
let record: string;
const image = Buffer.concat([png(40, 30), randomBytes(20_000)]);
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  server = await TestServer.start({ journalSize: 2000, logLevel: 'info', controlPollMs: 100 }, undefined, pino({ level: 'info', base: undefined }, sink));
  record = await server.createRecord();
  const body = filePart(image, 'p.png', 'image/png');
  expect((await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': body.contentType }, body: body.body })).status).toBe(200);
});
afterAll(async () => {
  await server?.stop();
});
afterEach(async () => {
  await server.admin('DELETE', '/faults');
});

const addFault = (rule: Record<string, unknown>) => server.admin('POST', '/faults', rule);
const getPhoto = (token = server.devToken) => server.api('GET', `/crm/v8/Leads/${record}/photo`, { token });


function marksOf(res: { headers: Record<string, unknown> }): string[] {
  const id = res.headers['x-request-id'];
  return server.server.journal.list({}, 2000).find((e) => e.id === id)?.marks ?? [];
}

describe('actions', () => {
  it('a fixed delay: the answer comes no sooner, and is the usual one', async () => {
    await addFault({ match: { operation: 'photo.download' }, action: { delay_ms: 300 } });
    const started = Date.now();
    const res = await getPhoto();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(res.status).toBe(200);
    expect(res.body.equals(image)).toBe(true);
    expect(marksOf(res)).toEqual(['fault:delay(300ms)']);
  });

  it('a delay within a range', async () => {
    await addFault({ match: { operation: 'photo.download' }, action: { delay_ms: [100, 200] } });
    const started = Date.now();
    const res = await getPhoto();
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    const [mark] = marksOf(res);
    const ms = Number(/^fault:delay\((\d+)ms\)$/.exec(mark ?? '')?.[1]);
    expect(ms).toBeGreaterThanOrEqual(100);
    expect(ms).toBeLessThanOrEqual(200);
  });

  it.each([
    ['INTERNAL_ERROR', undefined, { status: 500, code: 'INTERNAL_ERROR', message: 'Internal Server Error', details: {} }],
    ['NO_PERMISSION', { permissions: ['Leads.view'] }, { status: 403, code: 'NO_PERMISSION', message: 'Permission denied to download images', details: { permissions: ['Leads.view'] } }],
    ['CREDITS_EXHAUSTED', undefined, { status: 429, code: 'TOO_MANY_REQUESTS', message: 'the API credits of the 24-hour period are exceeded', details: {} }],
    ['RECORD_LOCKED', { id: '1', action: 'zia_vision_processing' }, { status: 400, code: 'RECORD_LOCKED', message: 'cannot get the record image that is not approved yet', details: { id: '1', action: 'zia_vision_processing' } }],
  ])('an error of the catalog: %s', async (error, details, expected) => {
    await addFault({ match: { operation: 'photo.download' }, action: { error, ...(details ? { details } : {}) } });
    const res = await getPhoto();
    expectZohoError(res, expected);
    expect(marksOf(res)).toEqual([`fault:error(${error})`]);
  });

  it('an error on an upload: the body is discarded and nothing is stored', async () => {
    await addFault({ match: { operation: 'photo.upload' }, action: { error: 'INTERNAL_ERROR' } });
    const before = await server.blobFiles();
    const body = filePart(png(50, 50), 'q.png', 'image/png');
    const res = await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': body.contentType }, body: body.body });
    expectZohoError(res, { status: 500, code: 'INTERNAL_ERROR' });
    expect(await server.blobFiles()).toEqual(before);
    expect((await getPhoto()).body.equals(image)).toBe(true);
  });

  it('a connection reset before the headers: the client gets no answer at all', async () => {
    await addFault({ match: { operation: 'photo.download' }, action: { reset: 'before_headers' } });
    const seen = await rawRequest(server.url, 'GET', `/crm/v8/Leads/${record}/photo`, { authorization: `Zoho-oauthtoken ${server.devToken}` });
    expect(seen.bytes.length).toBe(0);
    expect(seen.error).toBe('ECONNRESET');
    const journal = await eventually(async () => server.server.journal.list({ operation: 'photo.download' }, 1)[0], (e) => e?.marks[0] === 'fault:reset(before_headers)');
    expect(journal?.marks).toEqual(['fault:reset(before_headers)']);
  });

  it('a connection reset after the headers: status and headers arrive, then the connection is reset', async () => {
    await addFault({ match: { operation: 'photo.download' }, action: { reset: 'after_headers' } });
    const seen = await rawRequest(server.url, 'GET', `/crm/v8/Leads/${record}/photo`, { authorization: `Zoho-oauthtoken ${server.devToken}` });
    expect(seen.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(seen.head).toMatch(new RegExp(`\r\ncontent-length: ${image.length}\r\n`, 'i'));
    expect(seen.body.length).toBe(0);
    expect(seen.error).toBe('ECONNRESET');
  });

  it('a truncated body: the promised length, fewer bytes, then the connection closes', async () => {
    await addFault({ match: { operation: 'photo.download' }, action: { truncate_after_bytes: 1000 } });
    const seen = await rawRequest(server.url, 'GET', `/crm/v8/Leads/${record}/photo`, { authorization: `Zoho-oauthtoken ${server.devToken}` });
    expect(seen.head).toMatch(new RegExp(`\r\ncontent-length: ${image.length}\r\n`, 'i'));
    expect(seen.body.equals(image.subarray(0, 1000))).toBe(true);
    // A client library sees the body end early.
    await addFault({ match: { operation: 'photo.download' }, action: { truncate_after_bytes: 1000 } });
    await expect(getPhoto()).rejects.toThrow();
  });

  it('a truncated JSON answer', async () => {
    await addFault({ match: { operation: 'org.get' }, action: { truncate_after_bytes: 5 } });
    const seen = await rawRequest(server.url, 'GET', '/crm/v8/org', { authorization: `Zoho-oauthtoken ${server.devToken}` });
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(seen.head ?? '')?.[1]);
    expect(length).toBeGreaterThan(5);
    expect(seen.body.toString()).toBe('{"org');
  });

  it("a truncated error answer: the error handler's JSON is cut as the route's would be", async () => {
    await addFault({ match: { operation: 'photo.download' }, action: { truncate_after_bytes: 8 } });
    const seen = await rawRequest(server.url, 'GET', '/crm/v8/Leads/1/photo', { authorization: `Zoho-oauthtoken ${server.devToken}` });
    expect(seen.head).toMatch(/^HTTP\/1\.1 [45]\d\d /);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(seen.head ?? '')?.[1]);
    expect(length).toBeGreaterThan(8);
    expect(seen.body.toString()).toBe('{"code":');
  });

  it('a throttled body: every byte, at the rate given', async () => {
    await addFault({ match: { operation: 'photo.download' }, action: { throttle_bytes_per_second: 20_000 } });
    const seen = await rawRequest(server.url, 'GET', `/crm/v8/Leads/${record}/photo`, { authorization: `Zoho-oauthtoken ${server.devToken}` });
    expect(seen.body.equals(image)).toBe(true);
    // 20 KB and more at 20 KB/s: about a second; the first slice goes at once.
    expect(seen.closeMs - (seen.firstByteMs ?? 0)).toBeGreaterThanOrEqual(900);
  });
});

describe('matching and firing', () => {
  it('for the next N matches only, counted in the store', async () => {
    const rule = await addFault({ match: { operation: 'photo.download' }, action: { error: 'INTERNAL_ERROR' }, times: 2 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await getPhoto()).status);
    expect(statuses).toEqual([500, 500, 200, 200]);
    const listed = (await server.admin('GET', '/faults')).faults.find((f: { id: string }) => f.id === rule.id);
    expect(listed).toMatchObject({ fired: 2, times_left: 0 });
  });

  it('with a probability: never at 0, always at 1', async () => {
    await addFault({ match: { operation: 'photo.download' }, action: { error: 'INTERNAL_ERROR' }, probability: 0 });
    for (let i = 0; i < 5; i++) expect((await getPhoto()).status).toBe(200);
    await server.admin('DELETE', '/faults');
    await addFault({ match: { operation: 'photo.download' }, action: { error: 'INTERNAL_ERROR' }, probability: 1 });
    for (let i = 0; i < 5; i++) expect((await getPhoto()).status).toBe(500);
  });

  it('until a time', async () => {
    await addFault({ match: { operation: 'photo.download' }, action: { error: 'INTERNAL_ERROR' }, until: new Date(Date.now() - 1000).toISOString() });
    expect((await getPhoto()).status).toBe(200);
    await addFault({ match: { operation: 'photo.download' }, action: { error: 'INTERNAL_ERROR' }, until: new Date(Date.now() + 60_000).toISOString() });
    expect((await getPhoto()).status).toBe(500);
  });

  it('on method, module, an operation family, org, user and token', async () => {
    const other = await server.createUser();
    const contact = await server.createRecord('Contacts');
    const cases: [Record<string, unknown>, () => Promise<{ status: number }>, () => Promise<{ status: number }>][] = [
      [{ operation: 'photo.*', method: 'GET' }, () => getPhoto(), () => server.api('GET', `/crm/v8/Leads/${record}`)],
      [{ module: 'leads' }, () => getPhoto(), () => server.api('GET', `/crm/v8/Contacts/${contact}/photo`)],
      [{ org: server.orgId }, () => getPhoto(), async () => server.api('GET', '/crm/v8/org', { token: (await server.createOrg()).adminToken })],
      [{ user: other.id }, () => getPhoto(other.token), () => getPhoto()],
      [{ token: other.token }, () => getPhoto(other.token), () => getPhoto()],
    ];
    for (const [match, hit, miss] of cases) {
      await addFault({ match, action: { error: 'INTERNAL_ERROR' } });
      expect((await hit()).status, JSON.stringify(match)).toBe(500);
      expect((await miss()).status, JSON.stringify(match)).not.toBe(500);
      await server.admin('DELETE', '/faults');
    }
    // The token is kept as its id, never as its value.
    const rule = await addFault({ match: { token: other.token }, action: { delay_ms: 1 } });
    expect(JSON.stringify(rule)).not.toContain(other.token);
    expect(rule.match.token_id).toMatch(/^\d+$/);
  });

  it('delays add up; the first outcome wins', async () => {
    await addFault({ match: { operation: 'org.get' }, action: { delay_ms: 50 } });
    await addFault({ match: { operation: 'org.get' }, action: { error: 'INTERNAL_ERROR' } });
    await addFault({ match: { operation: 'org.get' }, action: { delay_ms: 60 } });
    await addFault({ match: { operation: 'org.get' }, action: { reset: 'before_headers' } });
    const res = await server.api('GET', '/crm/v8/org');
    expect(res.status).toBe(500);
    expect(marksOf(res)).toEqual(['fault:delay(50ms)', 'fault:error(INTERNAL_ERROR)', 'fault:delay(60ms)']);
  });

  it('listed and removed', async () => {
    const a = await addFault({ id: 'slow-uploads', match: { operation: 'photo.upload', module: 'Leads' }, action: { delay_ms: [10, 20] }, probability: 0.5, times: 3 });
    expect(a).toMatchObject({ id: 'slow-uploads', match: { operation: 'photo.upload', module: 'Leads' }, action: { delay_ms: [10, 20] }, probability: 0.5, times_left: 3, fired: 0 });
    const b = await addFault({ match: { operation: 'photo.download' }, action: { error: 'INTERNAL_ERROR' } });
    expect((await server.admin('GET', '/faults')).faults.map((f: { id: string }) => f.id)).toEqual(['slow-uploads', b.id]);
    await server.admin('DELETE', `/faults/${b.id}`);
    expect((await getPhoto()).status).toBe(200);
    expect((await server.admin('GET', '/faults')).faults.map((f: { id: string }) => f.id)).toEqual(['slow-uploads']);
    const gone = await http('DELETE', `${server.url}/_admin/faults/${b.id}`, { headers: { 'x-admin-key': 'test-admin-key-0123456789' } });
    expectZohoError(gone, { status: 404, code: 'INVALID_DATA' });
  });

  it.each([
    [{ match: { operation: 'photo.uplaod' }, action: { delay_ms: 1 } }, 'match.operation'],
    [{ action: {} }, 'action'],
    [{ action: { delay_ms: 1, error: 'INTERNAL_ERROR' } }, 'action'],
    [{ action: { error: 'NOT_AN_ERROR' } }, 'action.error'],
    [{ action: { error: 'ADMIN_NOT_FOUND' } }, 'action.error'],
    [{ action: { delay_ms: [500, 100] } }, 'action.delay_ms'],
    [{ match: { operation: 'photo.download' }, action: { token_error: 'Access Denied' } }, 'action.token_error'],
    [{ action: { delay_ms: 1 }, until: 'tomorrow' }, 'until'],
  ])('refuses a rule that cannot work: %j', async (rule, field) => {
    const res = await http('POST', `${server.url}/_admin/faults`, {
      headers: { 'x-admin-key': 'test-admin-key-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify(rule),
    });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
    expect(res.json.details.field).toBe(field);
  });
});

describe('the token endpoint', () => {
  async function clientCredentials() {
    const client = await server.admin('POST', `/orgs/${server.orgId}/oauth-clients`, { user: 'admin@crm-media.local' });
    const call = () =>
      http('POST', `${server.url}/oauth/v2/token`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: client.client_id,
          client_secret: client.client_secret,
          scope: 'ZohoCRM.modules.ALL',
          soid: `ZohoCRM.${server.orgId}`,
        }).toString(),
      });
    return { client, call };
  }

  it('answers its own throttling error, HTTP 200, for one client only', async () => {
    const { client, call } = await clientCredentials();
    const other = await clientCredentials();
    await addFault({ match: { operation: 'token', client: client.client_id }, action: { token_error: 'Access Denied' }, times: 1 });
    const res = await call();
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ error: 'Access Denied', error_description: 'You have made too many requests continuously. Please try again after some time.', status: 'failure' });
    expect((await other.call()).json.access_token).toBeDefined();
    expect((await call()).json.access_token).toBeDefined();
  });

  it('matches by the client\'s user, and fails with a catalog error', async () => {
    const { call } = await clientCredentials();
    await addFault({ match: { operation: 'token', user: server.adminUserId }, action: { error: 'INTERNAL_ERROR' } });
    expectZohoError(await call(), { status: 500, code: 'INTERNAL_ERROR' });
  });
});

describe('visible on each request they touched', () => {
  it('one log line per faulted request, naming the rule; never the token', async () => {
    const rule = await addFault({ match: { operation: 'photo.download' }, action: { delay_ms: 5 } });
    const res = await getPhoto();
    const line = await eventually(
      async () => logLines.find((l) => l['msg'] === 'fault injected' && (l['rules'] as string[] | undefined)?.includes(rule.id)),
      (l) => l !== undefined,
    );
    expect(line).toMatchObject({ faults: ['fault:delay(5ms)'], operation: 'photo.download', level: 30 });
    expect(JSON.stringify(logLines)).not.toContain(server.devToken);
    expect(marksOf(res)).toEqual(['fault:delay(5ms)']);
  });
});

describe('set from the CLI while the server runs', () => {
  it('a rule added with `crm-media fault add` fires within a control poll; `fault remove` ends it', async () => {
    const added = await runCli(server, ['fault', 'add', '--operation', 'photo.download', '--error', 'INTERNAL_ERROR', '--id', 'from-cli']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.json).toMatchObject({ id: 'from-cli', action: { error: 'INTERNAL_ERROR' } });
    expect((await eventually(() => getPhoto(), (r) => r.status === 500, 5_000)).status).toBe(500);
    const listed = await runCli(server, ['fault', 'list']);
    expect(listed.json.map((f: { id: string }) => f.id)).toEqual(['from-cli']);
    expect((await runCli(server, ['fault', 'remove', 'from-cli'])).code).toBe(0);
    expect((await eventually(() => getPhoto(), (r) => r.status === 200, 5_000)).status).toBe(200);
  }, CLI_TIMEOUT_MS);

  it('the CLI refuses a malformed rule with one line', async () => {
    const bad = await runCli(server, ['fault', 'add', '--operation', 'photo.download', '--delay', 'soon']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^crm-media: --delay/);
  }, CLI_TIMEOUT_MS);
});


