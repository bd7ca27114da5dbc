/**
 * `crm-media journal …` and `crm-media webhooks wait` as a user runs them (`node --import tsx src/cli.ts`) against a
 * running server: they talk to its admin API, with the key from `--admin-key` or from the data directory's admin.key.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer } from '../helpers/server.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = join(ROOT, 'src', 'cli.ts');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const KEY = 'test-admin-key-0123456789';

let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(async () => {
  await server?.stop();
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CRM_MEDIA_')) env[k] = v;
  env['NODE_NO_WARNINGS'] = '1';
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('crm-media journal', () => {
  it('counts, lists, waits for and clears what a client sent', async () => {
    const record = await server.createRecord();
    for (let i = 0; i < 2; i++) {
      const { body, contentType } = filePart(png(4 + i, 4), 'p.png', 'image/png');
      expect((await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': contentType }, body })).status).toBe(200);
    }
    const url = ['--url', server.adminUrl, '--admin-key', KEY];
    const count = await cli(['journal', 'count', ...url, '--operation', 'photo.upload', '--record', record]);
    expect(count).toMatchObject({ code: 0, stdout: '2\n' });

    const list = await cli(['journal', 'list', ...url, '--record', record, '--limit', '1']);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout);
    expect(listed.entries).toHaveLength(1);
    expect(listed.entries[0]).toMatchObject({ operation: 'photo.upload', record_id: record, status: 200 });

    const reached = await cli(['journal', 'wait', ...url, '--count', '2', '--operation', 'photo.upload', '--record', record, '--timeout-ms', '100']);
    expect(reached.code).toBe(0);
    const short = await cli(['journal', 'wait', ...url, '--count', '3', '--operation', 'photo.upload', '--record', record, '--timeout-ms', '100']);
    expect(short.code).toBe(1);
    expect(JSON.parse(short.stdout)).toEqual({ count: 2, wanted: 3, reached: false });

    expect((await cli(['journal', 'clear', ...url])).code).toBe(0);
    expect((await cli(['journal', 'count', ...url, '--record', record])).stdout).toBe('0\n');
  });

  it("takes the admin key from the data directory's admin.key", async () => {
    await writeFile(join(server.dataDir, 'admin.key'), `${KEY}\n`);
    const res = await cli(['--data', server.dataDir, 'journal', 'count', '--url', server.adminUrl]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^\d+\n$/);
  });

  it('says clearly what is wrong: no key, a wrong key, no server', async () => {
    const noKey = await cli(['--data', join(server.dataDir, 'nowhere'), 'journal', 'count', '--url', server.adminUrl]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('no admin key');
    const wrong = await cli(['journal', 'count', '--url', server.adminUrl, '--admin-key', 'wrong-key-wrong-key-0000']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('HTTP 401');
    expect(wrong.stderr).not.toContain('wrong-key-wrong-key-0000');
    const down = await cli(['journal', 'count', '--url', 'http://127.0.0.1:1', '--admin-key', KEY]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach the server');
  });
});

describe('crm-media webhooks wait', () => {
  it('returns 0 once nothing is pending', async () => {
    const res = await cli(['webhooks', 'wait', '--url', server.adminUrl, '--admin-key', KEY, '--timeout-ms', '5000']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ pending: 0, settled: true });
  });
});
