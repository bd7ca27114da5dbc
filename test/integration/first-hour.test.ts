/**
 * A new user's first hour with the CLI (`node --import tsx src/cli.ts`, in child processes, from empty folders):
 * every place that stopped or misled someone following the README gets its answer checked here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { backendName } from '../helpers/backend.js';
import { jpegFrameHeader } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { ROOT } from '../helpers/packed.js';
import { http } from '../helpers/server.js';
import { freePort } from '../helpers/spawned-server.js';

const TSX = join(ROOT, 'node_modules/tsx/dist/esm/index.mjs');
const CLI = join(ROOT, 'src/cli.ts');
const STACK = /\n\s+at .+:\d+:\d+/;
const DEV_TOKEN = '1000.devcrmmedia0000000000000000000000.devcrmmedia0000000000000000000000';
const folders: string[] = [];
const children = new Set<ChildProcess>();

async function emptyFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'crm-media-first-hour-'));
  folders.push(dir);
  return dir;
}

function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CRM_MEDIA_') && k !== 'PORT' && k !== 'DATABASE_URL') env[k] = v;
  return { ...env, NODE_NO_WARNINGS: '1', ...extra };
}

function cli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd, env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`crm-media ${args.join(' ')} did not finish:\n${stdout}\n${stderr}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function serve(cwd: string, args: string[]): Promise<{ url: string; out: () => string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args, '--port', String(port)], { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 600 && !out.includes('is listening on') && child.exitCode === null; i++) await sleep(50);
  if (!out.includes('is listening on')) throw new Error(`serve did not start:\n${out}`);
  return {
    url: `http://127.0.0.1:${port}`,
    out: () => out,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      children.delete(child);
    },
  };
}

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(backendName() !== 'sqlite-disk')("a new user's first hour with the CLI", () => {
  it('an admin command in a folder with no data names the folder it looked in, and creates nothing there', async () => {
    const cwd = await emptyFolder();
    const r = await cli(cwd, ['org', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`crm-media: no data in ${join(cwd, 'data')}: start the server there once (crm-media serve), or name the data directory with --data DIR (or CRM_MEDIA_DATA)\n`);
    expect(await readdir(cwd)).toEqual([]);
  });

  it.each([
    [['serve', '--port', 'abc'], {}, 'port "abc" (from the command line): a port number (0 for any free port)'],
    [['serve'], { CRM_MEDIA_PORT: 'abc' }, 'port "abc" (from CRM_MEDIA_PORT): a port number (0 for any free port)'],
    [['serve', '--memory-max', 'lots', '--in-memory'], {}, 'memoryMaxBytes "lots" (from the command line): a size in bytes, or with a unit: 512MiB, 2GiB'],
    [['serve', '--in-memory', '--host', '0.0.0.0'], {}, 'confirm with --expose-dev-credentials'],
    [['serve', '--tls-cert', 'cert.pem'], {}, 'HTTPS needs both a certificate and its key'],
  ] as const)('%j %j: one line that names where the value came from', async (args, env, message) => {
    const r = await cli(await emptyFolder(), [...args], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stdout).not.toContain('listening');
  });

  it('a port already in use: one line with what to do, no stack trace', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await cli(await emptyFolder(), ['serve', '--in-memory', '--port', String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `crm-media: 127.0.0.1:${port} is already in use (another crm-media-server?): stop it, or choose another port with --port (--port 0 takes any free one)\n`,
      );
    } finally {
      blocker.close();
    }
  });

  it('help: every leaf command has a description, required options say so, `start` is `serve`', async () => {
    const cwd = await emptyFolder();
    const org = await cli(cwd, ['org', '--help']);
    expect(org.stdout).toMatch(/^\s+create \[options\]\s+create an org$/m);
    expect(org.stdout).toMatch(/^\s+list\s+list the orgs$/m);
    const issue = await cli(cwd, ['token', 'issue', '--help']);
    expect(issue.stdout).toMatch(/--user <user id or email>\s+\(required\)/);
    expect(issue.stdout).toMatch(/--org <id or name>\s+org id or name/);
    const start = await cli(cwd, ['start', '--help']);
    expect(start.stdout).toContain('Usage: crm-media serve|start [options]');
    for (const group of ['org', 'profile', 'user', 'module', 'record', 'token', 'oauth', 'workflow']) {
      const help = (await cli(cwd, [group, '--help'])).stdout;
      const commands = help.slice(help.indexOf('Commands:')).split('\n').slice(1).filter((l) => /^\s{2}\S/.test(l) && !l.includes('help [command]'));
      for (const line of commands) expect(line.trim(), `${group}: ${line}`).toMatch(/\S\s{2,}\S/);
    }
  });

  it('first start with --seed: the welcome names the seed org\'s administrator; --org takes a name; "no such" names the entity', async () => {
    const cwd = await emptyFolder();
    await writeFile(
      join(cwd, 'seed.json'),
      JSON.stringify({ orgs: [{ name: 'Acme', users: [{ name: 'Patricia Boyle', email: 'patricia@acme.test', profile: 'Administrator' }] }] }),
    );
    const srv = await serve(cwd, ['serve', '--seed', 'seed.json', '--log-format', 'pretty']);
    try {
      expect(srv.out()).toContain(`data:  SQLite in ${join(cwd, 'data')}, files in ${join(cwd, 'data')}`);
      expect(srv.out()).toMatch(/access token: issue one with `crm-media token issue --org \d+ --user patricia@acme\.test`/);
      expect(srv.out()).not.toContain('admin@crm-media.local');
      const issued = await cli(cwd, ['token', 'issue', '--org', 'acme', '--user', 'patricia@acme.test']);
      expect(issued.code, issued.stderr).toBe(0);
      const token = JSON.parse(issued.stdout).access_token as string;
      expect((await http('POST', `${srv.url}/crm/v8/Leads`, { token, headers: { 'content-type': 'application/json' }, body: '{"data":[{"Last_Name":"B"}]}' })).status).toBe(201);
      const noOrg = await cli(cwd, ['token', 'list', '--org', 'Globex']);
      expect(noOrg.stderr).toMatch(/^crm-media: no org with id or name "Globex" \(orgs: Acme \(\d+\)\)\n$/);
      const noToken = await cli(cwd, ['token', 'revoke', '--id', '123']);
      expect(noToken.code).toBe(1);
      expect(JSON.parse(noToken.stderr)).toEqual({ code: 'INVALID_DATA', details: { entity: 'token', key: '123' }, message: 'no such token: 123', status: 'error' });
    } finally {
      await srv.stop();
    }
  });

  it('the access log (on in dev mode) has a line for each refused request, with the id its answer carried, and no token', async () => {
    const cwd = await emptyFolder();
    const srv = await serve(cwd, ['serve', '--in-memory', '--log-format', 'json']);
    try {
      const lead = await http('POST', `${srv.url}/crm/v8/Leads`, { token: DEV_TOKEN, headers: { 'content-type': 'application/json' }, body: '{"data":[{"Last_Name":"B"}]}' });
      const id = lead.json.data[0].details.id as string;
      const wrong = await http('GET', `${srv.url}/crm/v8/Leads/${id}/photo`, { headers: { authorization: 'Zoho-oauthtoken 1000.aaaa.bbbb' } });
      const noPrefix = await http('GET', `${srv.url}/crm/v8/Leads/${id}/photo?access_token=${DEV_TOKEN}`, { headers: { authorization: DEV_TOKEN } });
      const { body, contentType } = filePart(jpegFrameHeader(4000, 3000), 'big.jpg', 'image/jpeg');
      const big = await http('POST', `${srv.url}/crm/v8/Leads/${id}/photo`, { token: DEV_TOKEN, headers: { 'content-type': contentType }, body });
      expect([wrong.status, noPrefix.status, big.status]).toEqual([401, 401, 400]);
      for (let i = 0; i < 100 && (srv.out().match(/"request":/g) ?? []).length < 4; i++) await sleep(50);
      const lines = srv.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
      for (const line of lines) expect(line['time']).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
      const byId = new Map(lines.filter((l) => l['request']).map((l) => [l['request'].id as string, l['request']]));
      for (const [res, code] of [[wrong, 'INVALID_TOKEN'], [noPrefix, 'AUTHENTICATION_FAILURE'], [big, 'INVALID_DATA']] as const) {
        const entry = byId.get(res.headers['x-request-id'] as string);
        expect(entry, `no access-log line for ${res.headers['x-request-id']}`).toBeDefined();
        expect(entry).toMatchObject({ status: res.status, code });
      }
      expect(byId.get(noPrefix.headers['x-request-id'] as string).query).toBe('access_token=REDACTED');
      // The dev token appears once, in the start-up record; a refused token never.
      const text = srv.out();
      expect(text.split(DEV_TOKEN).length - 1).toBe(1);
      expect(text).not.toContain('1000.aaaa.bbbb');
    } finally {
      await srv.stop();
    }
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });
});
