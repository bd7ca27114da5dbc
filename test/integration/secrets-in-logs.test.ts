/**
 * No secret reaches a log line or a console: secrets are planted on every path by which a URL, a header or a
 * configured secret could reach one (query strings of answered, refused and failing requests, malformed requests,
 * an error whose message embeds a URL with credentials as S3 and PostgreSQL drivers' messages do, webhook delivery
 * errors, the CLI's error lines, a bad DATABASE_URL), and the whole output is searched for them. Each path is also
 * shown to have logged or printed something, so that the search is not over nothing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactSecrets } from '../../src/logging/redact.js';
import { createLogger } from '../../src/server/start.js';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { rawExchange, write } from '../helpers/robustness.js';
import { TestServer, http } from '../helpers/server.js';
import { freePort, runCli } from '../helpers/spawned-server.js';

/** Every planted secret, each unique, so that any occurrence anywhere is a leak. */
const planted: string[] = [];
function secret(name: string): string {
  const s = `${name}${randomBytes(8).toString('hex')}`;
  planted.push(s);
  return s;
}

let logText = '';
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    logText += chunk.toString('utf8');
    done();
  },
});

let server: TestServer;
let record = '';

beforeAll(async () => {
  const logger = createLogger({ logLevel: 'trace' }, sink);
  server = await TestServer.start({ accessLog: true, webhookPollMs: 20, webhookMaxAttempts: 1, webhookTimeoutMs: 1_000 }, undefined, logger);
  record = await server.createRecord('Leads');
});
afterAll(() => server?.stop());

function expectNoSecretIn(text: string): void {
  for (const s of planted) expect(text.includes(s), `secret ${s} leaked into:\n${text.slice(Math.max(0, text.indexOf(s) - 300), text.indexOf(s) + 100)}`).toBe(false);
}

describe('the server log', () => {
  it('query values of answered requests (access log), of unknown paths and of refused tokens are redacted', async () => {
    const q = `?access_token=${secret('qa')}&client_secret=${secret('qb')}&code=${secret('qc')}&fields=File_Name`;
    expect((await server.api('GET', `/crm/v8/Leads/${record}/Attachments${q}`)).status).toBe(204);
    expect((await server.api('GET', `/crm/v8/Nowhere/${record}/photo${q}`)).status).toBe(400);
    expect((await server.api('GET', `/crm/v8/Leads/${record}/photo${q}`, { token: `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}` })).status).toBe(401);
    expect((await http('GET', `${server.url}/nowhere${q}`)).status).toBe(404);
    await sleep(50);
    expect(logText).toContain('"msg":"request"');
    expect(logText).toContain('fields=File_Name');
  });

  it('a request the parser refuses (secrets in its line and headers) logs nothing of it', async () => {
    const r = await rawExchange(server.url, (s) =>
      write(s, `GET /crm/v8/Leads/1/photo?access_token=${secret('raw')} HTTP/1.1\r\nHost: x\r\nAuthorization: Zoho-oauthtoken ${secret('rawauth')}\r\nBad Header: y\r\n\r\n`),
    );
    expect(r.response?.status).toBe(400);
  });

  it('an unexpected failure whose message embeds a URL with credentials and a signed query (as S3 and pg errors do)', async () => {
    const blobs = server.runtime.blobs;
    const put = blobs.put.bind(blobs);
    const url = `https://AKIAEXAMPLE:${secret('s3pw')}@bucket.s3.example/key?X-Amz-Signature=${secret('sig')}&X-Amz-Credential=${secret('cred')}`;
    blobs.put = async (source) => {
      source.resume();
      throw Object.assign(new Error(`connect ECONNREFUSED ${url} (Authorization: Bearer ${secret('bearer')})`), { url, endpoint: { href: url } });
    };
    try {
      const { body, contentType } = filePart(png(4, 4), 'p.png', 'image/png');
      const res = await server.api('POST', `/crm/v8/Leads/${record}/photo?code=${secret('upq')}`, { headers: { 'content-type': contentType }, body });
      expect(res.status).toBe(500);
      expect(res.text).not.toMatch(/ECONNREFUSED|AKIA/);
    } finally {
      blobs.put = put;
    }
    await sleep(50);
    expect(logText).toMatch(/"msg":"unhandled error"/);
    expect(logText).toContain('AKIAEXAMPLE:REDACTED@bucket.s3.example');
  });

  it('a webhook whose URL carries credentials and a token: the delivery error is stored and logged without them', async () => {
    const port = await freePort();
    const hookUrl = `http://hookuser:${secret('hookpw')}@127.0.0.1:${port}/hook?token=${secret('hooktoken')}`;
    await server.admin('POST', `/orgs/${server.orgId}/workflows`, { name: 'leaky', module: 'Leads', event: 'attachment_added', url: hookUrl });
    const { body, contentType } = filePart('x', 'a.txt', 'text/plain');
    expect((await server.api('POST', `/crm/v8/Leads/${record}/Attachments`, { headers: { 'content-type': contentType }, body })).status).toBe(200);
    let failed: { last_error: string } | undefined;
    for (let i = 0; i < 100 && !failed; i++) {
      failed = (await server.admin('GET', `/orgs/${server.orgId}/workflow-deliveries?status=failed`)).deliveries[0];
      if (!failed) await sleep(50);
    }
    expect(failed?.last_error).toBeTruthy();
    expectNoSecretIn(JSON.stringify(failed));
    await sleep(50);
    expect(logText).toContain('webhook delivery failed for good');
  });

  it('after all of it, no planted secret is anywhere in the log', () => {
    expect(logText.length).toBeGreaterThan(0);
    expectNoSecretIn(logText);
  });
});

describe('redactSecrets', () => {
  it.each([
    ['postgres://crm:hunter2-long@db.internal:5432/crm', 'postgres://crm:REDACTED@db.internal:5432/crm'],
    ['GET /crm/v8/Leads?access_token=abc&fields=x failed', 'GET /crm/v8/Leads?access_token=REDACTED&fields=x failed'],
    ['header Authorization: Zoho-oauthtoken 1000.abc.def was refused', 'header Authorization: Zoho-oauthtoken REDACTED was refused'],
    [`token 1000.${'a'.repeat(32)}.${'b'.repeat(32)} leaked`, 'token REDACTED leaked'],
    ['Basic usage of the Bearer model', 'Basic usage of the Bearer model'],
    ['nothing to see here?', 'nothing to see here?'],
  ])('%s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });
});

/** Runs the CLI with only the environment given; its whole output, both streams. */
async function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const r = await runCli(args, { PATH: process.env['PATH'] ?? '', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', ...env });
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

describe('the CLI’s error lines', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crm-media-secrets-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['a DATABASE_URL that is not postgres://', () => ['--data', dir, '--database', `mysql://crm:${secret('cfg')}@db/crm`, 'org', 'list']],
    ['a database that refuses the connection', async () => ['--data', dir, '--database', `postgres://crm:${secret('pgpw')}@127.0.0.1:${await freePort()}/crm`, 'org', 'list']],
    ['an S3 endpoint with credentials in its URL that refuses the connection', async () => ['--data', dir, '--blob-store', 's3', '--s3-bucket', 'b', '--s3-endpoint', `http://key:${secret('eppw')}@127.0.0.1:${await freePort()}`, 'org', 'list']],
    ['a serve whose database refuses, with an admin key and a dev token configured', async () => ['--data', dir, '--database', `postgres://crm:${secret('srvpw')}@127.0.0.1:${await freePort()}/crm`, 'serve', '--port', '0', '--admin-key', secret('adminkey')]],
  ])('%s: one line, no secret', async (_name, args) => {
    const r = await cli(await args(), { CRM_MEDIA_STARTUP_WAIT_MS: '0', CRM_MEDIA_DEV_TOKEN: secret('devtoken'), AWS_SECRET_ACCESS_KEY: secret('awssecret') });
    expect(r.code).toBe(1);
    const lines = r.out.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('crm-media: ')), r.out).toHaveLength(1);
    expect(r.out).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expectNoSecretIn(r.out);
  });
});
