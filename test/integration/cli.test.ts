/**
 * The `crm-media` CLI as a user runs it: `node --import tsx src/cli.ts …` in child processes, `serve` on a port
 * picked here, and the admin subcommands working on the same data directory while the server runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PreparedBackend, backendName, prepareBackend } from '../helpers/backend.js';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type HttpResponse, http } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = join(ROOT, 'src', 'cli.ts');
/** `node --import tsx src/cli.ts`, with tsx named by its file so that the children can run in any directory. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const TOKEN = /1000\.[0-9a-f]{32}\.[0-9a-f]{32}/;
const STACK = /\n\s+at .+:\d+:\d+|node_modules\/|\.ts:\d+/;
const BACKEND = backendName();

interface Workspace {
  dir: string;
  /** The children's working directory: whatever a command writes relative to it stays in the temp area. */
  cwd: string;
  backend: PreparedBackend;
  env: NodeJS.ProcessEnv;
}

const workspaces: Workspace[] = [];

/** A fresh data directory (and, on postgres-s3, a fresh database and bucket) with the child environment for it. */
async function workspace(): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'crm-media-cli-'));
  const cwd = await mkdtemp(join(tmpdir(), 'crm-media-cli-cwd-'));
  const backend = await prepareBackend(dir);
  const env: NodeJS.ProcessEnv = {};
  // Nothing of the parent's crm-media configuration leaks into the children.
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CRM_MEDIA_') && !['PORT', 'DATABASE_URL'].includes(k)) env[k] = v;
  }
  // The welcome text for a person (stdout is a pipe here, where the default would be JSON lines).
  Object.assign(env, backend.env, { CRM_MEDIA_LOG_LEVEL: 'silent', CRM_MEDIA_LOG_FORMAT: 'pretty', NODE_NO_WARNINGS: '1' });
  const ws = { dir, cwd, backend, env };
  workspaces.push(ws);
  return ws;
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one CLI command to completion (bounded). */
function cli(ws: Workspace, args: string[], opts: { env?: NodeJS.ProcessEnv; useDataFlag?: boolean; timeoutMs?: number } = {}): Promise<CliResult> {
  const fullArgs = ['--import', TSX, CLI, ...(opts.useDataFlag === false ? [] : ['--data', ws.dir]), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, fullArgs, { cwd: ws.cwd, env: { ...ws.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`crm-media ${args.join(' ')} did not finish: ${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function json(r: CliResult): any {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

class Serve {
  stdout = '';
  stderr = '';
  exit: Promise<number | null>;
  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /** `portFrom: 'PORT'` passes the port as hosting platforms do, in the PORT environment variable. */
  static async start(ws: Workspace, env: NodeJS.ProcessEnv = {}, portFrom: 'flag' | 'PORT' = 'flag'): Promise<Serve & { url: string }> {
    const port = await freePort();
    const portArgs = portFrom === 'flag' ? ['--port', String(port)] : [];
    const child = spawn(process.execPath, ['--import', TSX, CLI, '--data', ws.dir, 'serve', ...portArgs], {
      cwd: ws.cwd,
      env: { ...ws.env, ...env, ...(portFrom === 'PORT' ? { PORT: String(port) } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const serve = new Serve(child);
    running.add(serve);
    // Ready once the welcome text (which ends with the curl lines) is out.
    for (let i = 0; i < 300 && !/-F "file=@img1\.png"/.test(serve.stdout); i++) {
      if (child.exitCode !== null) break;
      await sleep(50);
    }
    if (!/-F "file=@img1\.png"/.test(serve.stdout)) {
      child.kill('SIGKILL');
      throw new Error(`serve did not start: ${serve.stdout}\n${serve.stderr}`);
    }
    const url = /listening on (http:\/\/\S+)/.exec(serve.stdout)?.[1];
    expect(url).toBe(`http://127.0.0.1:${port}`);
    return Object.assign(serve, { url: url! });
  }

  /** SIGTERM, then the exit code (null if it did not exit within `ms`, after which it is killed). */
  async terminate(ms = 10_000): Promise<number | null | 'timeout'> {
    this.child.kill('SIGTERM');
    const code = await Promise.race([this.exit, sleep(ms).then(() => 'timeout' as const)]);
    if (code === 'timeout') this.child.kill('SIGKILL');
    await this.exit;
    running.delete(this);
    return code;
  }
}

const running = new Set<Serve>();

afterAll(async () => {
  for (const s of running) {
    s.child.kill('SIGKILL');
    await s.exit;
  }
  for (const ws of workspaces) {
    await ws.backend.teardown().catch(() => {});
    await rm(ws.dir, { recursive: true, force: true });
    await rm(ws.cwd, { recursive: true, force: true });
  }
});

function api(url: string, token: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<HttpResponse> {
  return http(method, `${url}${path}`, { token, ...opts });
}

/** The first curl line of the welcome text, replayed with undici: the same method, URL, headers and body. */
async function replayCurlLine(stdout: string): Promise<HttpResponse> {
  const line = stdout.split('\n').find((l) => l.trim().startsWith('curl -s -X POST') && l.includes('-d '));
  expect(line).toBeDefined();
  const m = /curl -s -X POST (\S+) -H "Authorization: ([^"]+)" -H "Content-Type: ([^"]+)" -d '([^']+)'/.exec(line!);
  expect(m, line).not.toBeNull();
  return http('POST', m![1]!, { headers: { authorization: m![2]!, 'content-type': m![3]! }, body: m![4]! });
}

async function uploadPhoto(url: string, token: string, id: string, image: Buffer): Promise<HttpResponse> {
  const { body, contentType } = filePart(image, 'img1.png', 'image/png');
  return api(url, token, 'POST', `/crm/v8/Leads/${id}/photo`, { headers: { 'content-type': contentType }, body });
}

/** Polls (bounded) until `check` answers true. */
async function eventually(check: () => Promise<boolean>, ms = 3_000): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await sleep(100);
  }
}

describe(`crm-media CLI (${BACKEND})`, () => {
  // Argument parsing does not depend on the store: checked once, on the embedded default.
  describe.skipIf(BACKEND !== 'sqlite-disk')('usage', () => {
    let scratch: Workspace;
    beforeAll(async () => {
      scratch = await workspace();
      // Should a bad command line ever start a server, it must not take a fixed port.
      scratch.env['CRM_MEDIA_PORT'] = '0';
    });

    it('--help lists the subcommands', async () => {
      const r = await cli(scratch, ['--help'], { useDataFlag: false });
      expect(r.code).toBe(0);
      for (const sub of ['serve', 'org', 'profile', 'user', 'module', 'record', 'token', 'seed', 'reset', 'sweep']) {
        expect(r.stdout).toMatch(new RegExp(`^\\s+${sub}\\b`, 'm'));
      }
    });

    it.concurrent.for([
      ['an unknown subcommand', ['frobnicate']],
      ['an unknown option', ['--bogus', 'org', 'list']],
      ['reset without --yes', ['reset']],
      ['an unreadable seed file', ['seed', '/nonexistent/seed.json']],
      ['an invalid --port', ['serve', '--port', 'eighty']],
    ] as const)('%s → non-zero exit with a message, no stack trace', async ([, args], { expect }) => {
      const r = await cli(scratch, [...args]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().length).toBeGreaterThan(0);
      expect(r.stderr).not.toMatch(STACK);
      expect(r.stdout).not.toMatch(/listening on/);
    });
  });

  it('serve listens on PORT when neither --port nor CRM_MEDIA_PORT is given', async () => {
    const serve = await Serve.start(await workspace(), {}, 'PORT');
    try {
      expect((await http('GET', `${serve.url}/healthz`)).status).toBe(200);
    } finally {
      expect(await serve.terminate()).toBe(0);
    }
  });

  it('serve on a fresh data directory: the printed curl line works as pasted (on PostgreSQL with the token from its file); SIGTERM exits 0', async () => {
    const ws = await workspace();
    const serve = await Serve.start(ws);
    try {
      let token: string;
      let curl = serve.stdout;
      if (BACKEND === 'sqlite-disk') {
        const tokens = serve.stdout.match(new RegExp(TOKEN.source, 'g')) ?? [];
        expect(tokens.length).toBeGreaterThanOrEqual(3); // shown once on its own, and in both curl lines
        expect(new Set(tokens).size).toBe(1);
        token = tokens[0]!;
        expect(serve.stdout).toMatch(/curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/crm\/v8\/Leads -H "Authorization: Zoho-oauthtoken 1000\./);
      } else {
        // A production console: the minted token is never printed, only kept in a file its owner alone may read.
        expect(serve.stdout).not.toMatch(TOKEN);
        const file = join(ws.dir, 'bootstrap-tokens');
        expect(serve.stdout).toContain(`access token (all scopes): written to ${file}`);
        expect((await stat(file)).mode & 0o777).toBe(0o600);
        token = TOKEN.exec(await readFile(file, 'utf8'))![0];
        expect(serve.stdout).toContain('Zoho-oauthtoken <token>');
        curl = serve.stdout.replaceAll('<token>', token);
      }

      const inserted = await replayCurlLine(curl);
      expect(inserted.status, inserted.text).toBe(201);
      const id = inserted.json.data[0].details.id as string;
      const image = png(24, 24);
      expect((await uploadPhoto(serve.url, token, id, image)).status).toBe(200);
      const photo = await api(serve.url, token, 'GET', `/crm/v8/Leads/${id}/photo`);
      expect(photo.status, photo.text).toBe(200);
      expect(photo.headers['content-type']).toBe('image/png');
      expect(photo.body.length).toBe(image.length);
      expect(photo.body.equals(image)).toBe(true);

      // The generated admin key is kept in the data directory and works.
      expect(serve.stdout).toContain(`admin key: in ${join(ws.dir, 'admin.key')} (new)`);
      const key = (await readFile(join(ws.dir, 'admin.key'), 'utf8')).trim();
      const orgs = await http('GET', `${serve.url}/_admin/orgs`, { headers: { 'x-admin-key': key } });
      expect(orgs.status).toBe(200);
      expect(orgs.json.orgs).toHaveLength(1);
      // A final JSON request, so that nothing is in flight at the signal.
      expect((await api(serve.url, token, 'GET', `/crm/v8/Leads/${id}`)).status).toBe(200);
    } finally {
      const code = await serve.terminate();
      expect(code).toBe(0);
    }
    expect(serve.stdout).toContain('SIGTERM');
    expect(serve.stderr).not.toMatch(STACK);
  });

  describe('a running server and the admin subcommands on the same data', () => {
    let ws: Workspace;
    let serve: Serve & { url: string };
    const devToken = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
    let recordId = '';

    beforeAll(async () => {
      ws = await workspace();
    });
    afterAll(async () => {
      if (serve && running.has(serve)) await serve.terminate();
    });

    it('CRM_MEDIA_DEV_TOKEN fixes the token; on the second start it still works and is not printed as new', async () => {
      // On PostgreSQL the first start prints it only when asked to (CRM_MEDIA_PRINT_BOOTSTRAP_TOKEN).
      const first = await Serve.start(ws, { CRM_MEDIA_DEV_TOKEN: devToken, ...(BACKEND === 'postgres-s3' ? { CRM_MEDIA_PRINT_BOOTSTRAP_TOKEN: 'true' } : {}) });
      try {
        expect(first.stdout).toContain(devToken);
        expect(first.stdout).toContain(`Zoho-oauthtoken ${devToken}`);
        expect((await replayCurlLine(first.stdout)).status).toBe(201);
      } finally {
        expect(await first.terminate()).toBe(0);
      }

      serve = await Serve.start(ws, { CRM_MEDIA_DEV_TOKEN: devToken });
      expect(serve.stdout).not.toContain(devToken);
      expect(serve.stdout).not.toMatch(TOKEN);
      expect(serve.stdout).toMatch(/access token: issue one with/);
      expect(serve.stdout).not.toMatch(/admin key: .*\(new\)/);
      const res = await api(serve.url, devToken, 'POST', '/crm/v8/Leads', {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: [{ Last_Name: 'Second start' }] }),
      });
      expect(res.status).toBe(201);
    });

    it('org list, with --data or CRM_MEDIA_DATA', async () => {
      // How the data directory is named does not depend on the store: the env variant runs once.
      const [withFlag, withEnv] = await Promise.all([
        cli(ws, ['org', 'list']),
        BACKEND === 'sqlite-disk' ? cli(ws, ['org', 'list'], { useDataFlag: false, env: { CRM_MEDIA_DATA: ws.dir } }) : undefined,
      ]);
      const orgs = json(withFlag);
      expect(orgs).toHaveLength(1);
      expect(orgs[0]).toMatchObject({ name: 'crm-media default org', time_zone: 'UTC' });
      if (withEnv) expect(json(withEnv)).toEqual(orgs);
    });

    it('user create + token issue: the token works against the running server; token revoke stops it within the cache TTL', async () => {
      const user = json(await cli(ws, ['user', 'create', '--name', 'Cli User', '--email', 'cli@example.test', '--profile', 'Standard']));
      expect(user).toMatchObject({ name: 'Cli User', email: 'cli@example.test', status: 'active' });
      if (BACKEND === 'sqlite-disk') {
        // An admin error is printed as its Zoho body, exit 1 (rendering does not depend on the store).
        const dup = await cli(ws, ['user', 'create', '--name', 'Again', '--email', 'CLI@example.test']);
        expect(dup.code).toBe(1);
        expect(JSON.parse(dup.stderr.trim())).toMatchObject({ code: 'DUPLICATE_DATA', status: 'error' });
        expect(dup.stderr).not.toMatch(STACK);
      }

      const issued = json(await cli(ws, ['token', 'issue', '--user', 'cli@example.test', '--scopes', 'ZohoCRM.modules.ALL']));
      expect(issued.access_token).toMatch(new RegExp(`^${TOKEN.source}$`));
      expect(issued).toMatchObject({ user_id: user.id, scopes: 'ZohoCRM.modules.ALL', revoked_at: null });

      const created = await api(serve.url, issued.access_token, 'POST', '/crm/v8/Leads', {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: [{ Last_Name: 'By CLI token' }] }),
      });
      expect(created.status).toBe(201);
      const id = created.json.data[0].details.id as string;
      expect(created.json.data[0].details.Created_By).toEqual({ name: 'Cli User', id: user.id });
      // Used, so the server has it cached.
      expect((await api(serve.url, issued.access_token, 'GET', `/crm/v8/Leads/${id}`)).status).toBe(200);

      expect(json(await cli(ws, ['token', 'revoke', '--id', issued.id]))).toEqual({ revoked: issued.id });
      let last: HttpResponse | undefined;
      const revoked = await eventually(async () => {
        last = await api(serve.url, issued.access_token, 'GET', `/crm/v8/Leads/${id}`);
        return last.status === 401;
      });
      expect(revoked, last?.text).toBe(true);
      expectZohoError(last!, { status: 401, code: 'INVALID_TOKEN', message: 'invalid oauth token' });
      // The dev token is unaffected.
      expect((await api(serve.url, devToken, 'GET', `/crm/v8/Leads/${id}`)).status).toBe(200);
    });

    it('record create --fields <json> (as its help describes) makes a record with those fields', async () => {
      const r = await cli(ws, ['record', 'create', '--module', 'Leads', '--fields', '{"Last_Name":"From CLI","Tags":["x"]}']);
      // Field values must never be taken for the global --data <dir> (nothing is created in the working directory).
      expect(await readdir(ws.cwd)).toEqual([]);
      const record = json(r);
      expect(record).toMatchObject({ module: 'Leads', state: 'normal', data: { Last_Name: 'From CLI', Tags: ['x'] } });
      const got = await api(serve.url, devToken, 'GET', `/crm/v8/Leads/${record.id}`);
      expect(got.status).toBe(200);
      expect(got.json.data[0]).toMatchObject({ Last_Name: 'From CLI', Tags: ['x'], id: record.id });
    });

    it('record create + record state: the running server answers NOT_APPROVED for the photo', async () => {
      const record = json(await cli(ws, ['record', 'create', '--module', 'Leads', '--owner', 'admin@crm-media.local']));
      expect(record).toMatchObject({ module: 'Leads', state: 'normal', data: {} });
      recordId = record.id;
      const got = await api(serve.url, devToken, 'GET', `/crm/v8/Leads/${recordId}`);
      expect(got.status).toBe(200);
      expect(got.json.data[0]).toMatchObject({ id: recordId, $approved: true });
      const image = png(12, 12);
      expect((await uploadPhoto(serve.url, devToken, recordId, image)).status).toBe(200);
      expect((await api(serve.url, devToken, 'GET', `/crm/v8/Leads/${recordId}/photo`)).body.equals(image)).toBe(true);

      const state = json(await cli(ws, ['record', 'state', '--id', recordId, '--state', 'awaiting_approval']));
      expect(state).toMatchObject({ id: recordId, state: 'awaiting_approval' });
      expectZohoError(await api(serve.url, devToken, 'GET', `/crm/v8/Leads/${recordId}/photo`), {
        status: 400,
        code: 'NOT_APPROVED',
        message: 'cannot get the record image that is not approved yet',
        details: { id: recordId },
      });
      expect((await api(serve.url, devToken, 'GET', `/crm/v8/Leads/${recordId}`)).json.data[0].$approved).toBe(false);
    });

    it('seed FILE: twice, idempotent; the seeded token works against the running server', async () => {
      const value = `1000.${'a'.repeat(32)}.${'b'.repeat(32)}`;
      const file = join(ws.dir, 'seed.json');
      await writeFile(
        file,
        JSON.stringify({
          orgs: [
            {
              name: 'Acme',
              time_zone: 'Asia/Kolkata',
              users: [{ name: 'Patricia Boyle', email: 'patricia@acme.test', profile: 'Administrator' }],
              modules: [{ api_name: 'Pets', sharing: 'private' }],
              records: [{ id: '4150868000000225013', module: 'Leads', owner: 'patricia@acme.test', data: { Last_Name: 'Boyle' }, state: 'awaiting_approval' }],
              tokens: [{ user: 'patricia@acme.test', value, scopes: 'ZohoCRM.modules.ALL' }],
            },
          ],
        }),
      );
      const first = json(await cli(ws, ['seed', file]));
      expect(first.orgs[0].name).toBe('Acme');
      expect(first.created).toBe(5); // org, user, module, record, token
      const second = json(await cli(ws, ['seed', file]));
      expect(second).toEqual({ orgs: first.orgs, tokens: [], client_secrets: [], created: 0 });
      const got = await api(serve.url, value, 'GET', '/crm/v8/Leads/4150868000000225013');
      expect(got.status).toBe(200);
      expect(got.json.data[0]).toMatchObject({ Last_Name: 'Boyle', $approved: false });
      const key = (await readFile(join(ws.dir, 'admin.key'), 'utf8')).trim();
      const orgs = await http('GET', `${serve.url}/_admin/orgs`, { headers: { 'x-admin-key': key } });
      expect(orgs.json.orgs.map((o: any) => o.name).sort()).toEqual(['Acme', 'crm-media default org']);
    });

    it('reset --yes: the running server then refuses the old tokens (within the cache TTL); SIGTERM exits 0', async () => {
      // Used just before, so cached.
      expect((await api(serve.url, devToken, 'GET', `/crm/v8/Leads/${recordId}`)).status).toBe(200);
      expect(json(await cli(ws, ['reset', '--yes']))).toEqual({ reset: true });
      let last: HttpResponse | undefined;
      const refused = await eventually(async () => {
        last = await api(serve.url, devToken, 'GET', `/crm/v8/Leads/${recordId}`);
        return last.status === 401;
      });
      expect(refused, last?.text).toBe(true);
      expectZohoError(last!, { status: 401, code: 'INVALID_TOKEN' });
      if (BACKEND === 'sqlite-disk') {
        const files: string[] = [];
        // The disk store keeps blobs one level down: blobs/<ab>/<key>.
        for (const a of await readdir(join(ws.dir, 'blobs'))) files.push(...(await readdir(join(ws.dir, 'blobs', a))));
        expect(files).toEqual([]);
      }
      const code = await serve.terminate();
      expect(code).toBe(0);
      expect(serve.stderr).not.toMatch(STACK);
    });
  });
});
