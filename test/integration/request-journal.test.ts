/**
 * Every answer carries a request id; every request to the Zoho surface leaves one journal entry (and, when asked
 * for, one access-log line) that says who asked what and what came of it, and never holds a token, secret or code.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer, http } from '../helpers/server.js';

let server: TestServer;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  server = await TestServer.start({ accessLog: true, journalSize: 500, logLevel: 'info' }, undefined, pino({ level: 'info', base: undefined }, sink));
});
afterAll(async () => {
  await server?.stop();
});

const REQUEST_ID = /^[0-9a-f]{16}$/;

function journal() {
  return server.server.journal;
}

describe('request ids', () => {
  it.each([
    ['a success', () => server.api('GET', '/crm/v8/org')],
    ['a Zoho error', () => server.api('GET', '/crm/v8/Leads/1/photo', { token: 'not-a-token' })],
    ['an unknown path', () => http('GET', `${server.url}/nowhere`)],
    ['the token endpoint', () => http('POST', `${server.url}/oauth/v2/token`)],
    ['the admin API', () => http('GET', `${server.url}/_admin/orgs`)],
    ['health', () => http('GET', `${server.url}/healthz`)],
  ])('%s carries X-Request-Id', async (_what, call) => {
    const res = await call();
    expect(res.headers['x-request-id']).toMatch(REQUEST_ID);
  });

  it('differ between requests, and name the journal entry of their request', async () => {
    const a = await server.api('GET', '/crm/v8/org');
    const b = await server.api('GET', '/crm/v8/org');
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    expect(journal().list({}, 500).some((e) => e.id === b.headers['x-request-id'])).toBe(true);
  });
});

describe('journal entries', () => {
  it('an upload: operation, org, user, record, status, bytes in and out', async () => {
    const record = await server.createRecord();
    const body = filePart(png(30, 20), 'p.png', 'image/png');
    const res = await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': body.contentType }, body: body.body });
    expect(res.status).toBe(200);
    const [entry] = journal().list({ recordId: record, operation: 'photo.upload' });
    expect(entry).toMatchObject({
      id: res.headers['x-request-id'],
      method: 'POST',
      path: `/crm/v8/Leads/${record}/photo`,
      operation: 'photo.upload',
      orgId: server.orgId,
      userId: server.adminUserId,
      recordId: record,
      status: 200,
      code: null,
      bytesIn: body.body.length,
    });
    expect(entry!.bytesOut).toBe(Buffer.byteLength(res.text));
    expect(entry!.latencyMs).toBeGreaterThan(0);
  });

  it('a refused request leaves its trace too: the Zoho code, and no token', async () => {
    const bad = '1000.ffffffffffffffffffffffffffffffff.eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee';
    const res = await server.api('GET', '/crm/v8/Leads/4150868000000225013/photo', { token: bad });
    expect(res.status).toBe(401);
    const entry = journal().list({}).find((e) => e.id === res.headers['x-request-id']);
    expect(entry).toMatchObject({ status: 401, code: 'INVALID_TOKEN', operation: 'photo.download', recordId: '4150868000000225013', orgId: null });
    expect(JSON.stringify(entry)).not.toContain(bad);
  });

  it('counts what a client did, WireMock-style', async () => {
    const record = await server.createRecord();
    for (let i = 0; i < 2; i++) {
      const body = filePart(png(10 + i, 10), 'p.png', 'image/png');
      await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': body.contentType }, body: body.body });
    }
    await server.api('GET', `/crm/v8/Leads/${record}/photo`);
    expect(journal().count({ operation: 'photo.upload', recordId: record })).toBe(2);
    expect(journal().count({ operation: 'photo.download', recordId: record, status: 200 })).toBe(1);
  });

  it('query strings keep harmless values only; the token endpoint records the client, never its secret or code', async () => {
    const record = await server.createRecord();
    await server.api('GET', `/crm/v8/Leads/${record}/Attachments?fields=File_Name&access_token=leaky-token-value`);
    const listed = journal().list({ operation: 'attachment.list', recordId: record })[0]!;
    expect(listed.query).toBe('fields=File_Name&access_token=REDACTED');
    const res = await http('POST', `${server.url}/oauth/v2/token?client_id=1000.NOPE&client_secret=very-secret-value&code=grant-code-value&grant_type=authorization_code`);
    expect(res.json).toEqual({ error: 'invalid_client' });
    const token = journal().list({ operation: 'token' })[0]!;
    expect(token).toMatchObject({ clientId: '1000.NOPE', code: 'invalid_client', status: 200 });
    expect(JSON.stringify(token)).not.toMatch(/very-secret-value|grant-code-value/);
  });

  it('the admin API, health and metrics are not journaled', async () => {
    const before = journal().count({});
    await http('GET', `${server.url}/healthz`);
    await http('GET', `${server.url}/metrics`);
    await server.admin('GET', '/orgs');
    expect(journal().count({})).toBe(before);
  });
});

describe('access log', () => {
  it('one structured line per journaled request, with its id, and no secret anywhere in the log', async () => {
    const res = await server.api('GET', '/crm/v8/org?code=some-grant-code');
    const lines = logLines.filter((l) => (l['request'] as { id?: string } | undefined)?.id === res.headers['x-request-id']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'request', request: { operation: 'org.get', status: 200, query: 'code=REDACTED' } });
    const all = JSON.stringify(logLines);
    expect(all).not.toContain(server.devToken);
    expect(all).not.toContain('some-grant-code');
    expect(all).not.toContain('leaky-token-value');
    expect(all).not.toContain('very-secret-value');
  });
});
