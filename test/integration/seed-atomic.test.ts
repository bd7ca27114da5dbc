/**
 * A seed document is all or nothing: one that fails half-way (a bad profile name, a duplicate, a bad record, a token
 * for nobody) leaves the store exactly as it was, whichever way it is applied — `POST /_admin/seed`, `crm-media seed
 * FILE` beside the running server, or `serve --seed FILE` at start (which then does not start).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { MetadataStore } from '../../src/domain/ports/metadata.js';
import { startServer } from '../../src/server/start.js';
import { TestServer, http } from '../helpers/server.js';
import { CLI } from '../helpers/spawned-server.js';

let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start();
  // Something to keep: an org of its own with a user, a token and a record.
  await server.admin('POST', '/seed', {
    orgs: [{ name: 'Kept', users: [{ name: 'K', email: 'k@kept.test', profile: 'Administrator' }], records: [{ module: 'Leads', owner: 'k@kept.test', data: { Last_Name: 'Kept' } }], tokens: [{ user: 'k@kept.test', value: `1000.${'c'.repeat(32)}.${'d'.repeat(32)}` }] }],
  });
});
afterAll(() => server?.stop());

/** Every row of every org the seed could touch, in a stable order. */
async function snapshot(store: MetadataStore): Promise<unknown> {
  const orgs = (await store.directory.listOrgs()).sort((a, b) => a.id.localeCompare(b.id));
  const out = [];
  for (const org of orgs) {
    out.push({
      org,
      profiles: (await store.directory.listProfiles(org.id)).sort((a, b) => a.id.localeCompare(b.id)),
      users: (await store.directory.listUsers(org.id)).sort((a, b) => a.id.localeCompare(b.id)),
      modules: (await store.directory.listModuleSettings(org.id)).sort((a, b) => a.apiName.localeCompare(b.apiName)),
      tokens: (await store.tokens.list(org.id)).sort((a, b) => a.id.localeCompare(b.id)),
      records: await store.records.listOfOrg(org.id, { limit: 10_000, offset: 0 }),
    });
  }
  return out;
}

/** A first org that would be made whole, then a second that fails at `failure`. */
function failingSeed(failure: Record<string, unknown>): unknown {
  const tag = randomBytes(3).toString('hex');
  return {
    orgs: [
      {
        name: `Made first ${tag}`,
        profiles: [{ name: 'Sales', permissions: { '*': { view: true } } }],
        users: [{ name: 'A', email: `a-${tag}@first.test`, profile: 'Sales' }],
        modules: [{ api_name: 'Pets', sharing: 'private' }],
        records: [{ module: 'Leads', owner: `a-${tag}@first.test`, data: { Last_Name: 'First' } }],
        tokens: [{ user: `a-${tag}@first.test` }],
      },
      { name: `Fails ${tag}`, users: [{ name: 'B', email: 'b@second.test', profile: 'Administrator' }], ...failure },
    ],
  };
}

const FAILURES: [string, Record<string, unknown>][] = [
  ['a user with a profile the org does not have', { users: [{ name: 'B', email: 'b@second.test', profile: 'No Such Profile' }] }],
  ['the same user twice', { users: [{ name: 'B', email: 'dup@second.test', profile: 'Administrator' }, { name: 'B2', email: 'DUP@second.test', profile: 'Standard' }] }],
  ['a record of a module that does not exist', { records: [{ module: 'NoSuchModule', data: { Name: 'x' } }] }],
  ['a record whose owner is nobody', { records: [{ module: 'Leads', owner: 'nobody@second.test' }] }],
  ['a custom module whose API name Zoho would refuse', { modules: [{ api_name: '9 bad name' }] }],
  ['a token for a user who does not exist', { tokens: [{ user: 'ghost@second.test' }] }],
  ['a token with scopes that are not Zoho scopes', { tokens: [{ user: 'b@second.test', scopes: 'everything please' }] }],
];

describe('a seed that fails half-way changes nothing', () => {
  it.each(FAILURES)('POST /_admin/seed: %s', async (_name, failure) => {
    const before = await snapshot(server.runtime.store);
    const res = await http('POST', `${server.url}/_admin/seed`, {
      headers: { 'x-admin-key': 'test-admin-key-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify(failingSeed(failure)),
    });
    expect(res.status, res.text).toBeGreaterThanOrEqual(400);
    expect(res.json.status).toBe('error');
    expect(await snapshot(server.runtime.store)).toEqual(before);
  });

  it.each(FAILURES.slice(0, 3))('crm-media seed FILE beside the running server: %s', async (_name, failure) => {
    const before = await snapshot(server.runtime.store);
    const file = join(server.dataDir, `seed-${randomBytes(3).toString('hex')}.json`);
    await writeFile(file, JSON.stringify(failingSeed(failure)));
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, [...CLI, '--data', server.dataDir, 'seed', file], {
        env: { ...process.env, ...server.backend.env, CRM_MEDIA_LOG_LEVEL: 'silent', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, err });
      });
    });
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(await snapshot(server.runtime.store)).toEqual(before);
  });

  it('serve --seed FILE at start: the server does not start, and the store is as it was', async () => {
    const before = await snapshot(server.runtime.store);
    const file = join(server.dataDir, 'start-seed.json');
    await writeFile(file, JSON.stringify(failingSeed(FAILURES[0]![1])));
    await server.server.stop();
    const config = (over: Record<string, unknown>) =>
      loadConfig({ dataDir: server.dataDir, port: 0, host: '127.0.0.1', logLevel: 'silent', devToken: server.devToken, adminKey: 'test-admin-key-0123456789', sweepIntervalMs: 0, ...server.backend.overrides, ...over }, {});
    await expect(startServer(config({ seedFile: file }))).rejects.toMatchObject({ code: 'INVALID_DATA' });
    // Started again without the seed (the data directory was released by the failed start).
    server.server = await startServer(config({}));
    expect(await snapshot(server.runtime.store)).toEqual(before);
  });

  it('the same documents without the failure apply whole (the failures above were the only reason)', async () => {
    const doc = failingSeed({}) as { orgs: { name: string }[] };
    const report = await server.admin('POST', '/seed', doc);
    expect(report.orgs.map((o: { name: string }) => o.name)).toEqual(doc.orgs.map((o) => o.name));
    // org + profile + user + module + record + token, then org + user
    expect(report.created).toBe(8);
    expect(report.tokens).toHaveLength(1);
  });
});
