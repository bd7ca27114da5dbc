/**
 * Starting `crm-media serve` as an operator does, in child processes: one server per data directory on the embedded
 * store (a second one refused in one line; a crash leaves no stale lock; the CLI keeps working beside a server), and
 * backends that cannot be used reported at start in one line that names the setting, never a stack trace, after a
 * bounded wait for a backend that is still coming up and at once for a misconfiguration.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { PG_ADMIN_URL, backendName, createTestDatabase, prepareBackend, startS3 } from '../helpers/backend.js';
import { http } from '../helpers/server.js';
import { CLI, type SpawnedServer, freePort, runCli, spawnServer } from '../helpers/spawned-server.js';

const BACKEND = backendName();
const STACK = /\n\s+at .+:\d+:\d+|node_modules\/|\.ts:\d+/;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'crm-media-startup-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The environment of a child: nothing of this process's crm-media, database or AWS settings. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CRM_MEDIA_') && !k.startsWith('AWS_') && !['PORT', 'DATABASE_URL'].includes(k)) env[k] = v;
  }
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', CRM_MEDIA_LOG_LEVEL: 'warn', ...extra };
}

interface Exit {
  code: number | null;
  out: string;
  err: string;
  ms: number;
}

/** Runs `crm-media … serve` expecting it to end by itself (bounded); a server that starts is killed and reported. */
function serveUntilExit(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Exit> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args, 'serve', '--port', '0', '--host', '127.0.0.1'], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('is listening on')) child.kill('SIGKILL');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not end: ${out}\n${err}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, ms: Date.now() - started });
    });
  });
}

/** The last line of stderr is the one line a failed start prints; nothing else of it is a stack. */
function expectOneLineFailure(r: Exit, pattern: RegExp): string {
  expect(r.code, `${r.out}\n${r.err}`).toBe(1);
  expect(r.out).not.toContain('is listening on');
  const lines = r.err.trim().split('\n').filter((l) => !l.startsWith('{'));
  expect(lines, r.err).toHaveLength(1);
  expect(lines[0]).toMatch(/^crm-media: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.err).not.toMatch(STACK);
  return lines[0]!;
}

async function adminKeyOf(dir: string): Promise<string> {
  return (await readFile(join(dir, 'admin.key'), 'utf8')).trim();
}

const cliOn = (dir: string, args: string[]) => runCli(['--data', dir, ...args], childEnv({}));

describe.runIf(BACKEND === 'sqlite-disk')('one server per data directory (SQLite)', () => {
  it('a second server on the same --data is refused in one line naming the first; the CLI works beside it; after SIGKILL of the first a new one starts', async () => {
    const dir = await tempDir();
    const first = await spawnServer({ args: ['--data', dir], env: childEnv({}) as Record<string, string>, readyTimeoutMs: 60_000 });
    let next: SpawnedServer | undefined;
    try {
      const refused = await serveUntilExit(['--data', dir], {});
      const line = expectOneLineFailure(refused, /another crm-media server \(pid \d+, since .+\) is using the data directory/);
      expect(line).toContain(`pid ${first.process.pid}`);
      expect(line).toContain(dir);
      expect(line).toContain('--data / CRM_MEDIA_DATA');
      // The first is untouched by the attempt.
      expect((await http('GET', `${first.url}/healthz`)).status).toBe(200);

      // The CLI's documented use beside a running server: reads and writes.
      const created = await cliOn(dir, ['org', 'create', '--name', 'Beside the server']);
      expect(created.code, created.stderr).toBe(0);
      const orgId = JSON.parse(created.stdout).id as string;
      const listed = await cliOn(dir, ['org', 'list']);
      expect(listed.code, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout).map((o: { id: string }) => o.id)).toContain(orgId);
      const seen = await http('GET', `${first.url}/_admin/orgs`, { headers: { 'x-admin-key': await adminKeyOf(dir) } });
      expect(seen.json.orgs.map((o: { id: string }) => o.id)).toContain(orgId);

      // A crash leaves no stale lock: the kernel drops it with the process.
      first.process.kill('SIGKILL');
      await new Promise((r) => first.process.once('exit', r));
      next = await spawnServer({ args: ['--data', dir], env: childEnv({}) as Record<string, string>, readyTimeoutMs: 60_000 });
      const after = await http('GET', `${next.url}/_admin/orgs`, { headers: { 'x-admin-key': await adminKeyOf(dir) } });
      expect(after.json.orgs.map((o: { id: string }) => o.id)).toContain(orgId);
    } finally {
      if (first.process.exitCode === null && first.process.signalCode === null) first.process.kill('SIGKILL');
      await next?.stop(30_000);
    }
  });

  it('a stopped server (SIGTERM) releases the directory at once', async () => {
    const dir = await tempDir();
    // Generous bounds: the machine may be busy, and the point is the lock, not the speed.
    const first = await spawnServer({ args: ['--data', dir], env: childEnv({}) as Record<string, string>, readyTimeoutMs: 60_000 });
    expect(await first.stop(30_000), first.output()).toBe(0);
    const second = await spawnServer({ args: ['--data', dir], env: childEnv({}) as Record<string, string>, readyTimeoutMs: 60_000 });
    expect(await second.stop(30_000), second.output()).toBe(0);
  });

  it('a damaged SQLite file: one line saying so, naming the data directory', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'crm-media.sqlite'), randomBytes(8192));
    const r = await serveUntilExit(['--data', dir], { CRM_MEDIA_STARTUP_WAIT_MS: '30000' });
    expectOneLineFailure(r, /crm-media\.sqlite is not a SQLite database or is damaged \(CRM_MEDIA_DATA\)/);
    expect(r.ms).toBeLessThan(20_000);
  });

  it('a data directory that cannot be made: one line naming it', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'file'), 'x');
    const r = await serveUntilExit(['--data', join(dir, 'file', 'data')], {});
    expectOneLineFailure(r, /cannot use the data directory .*file\/data \(CRM_MEDIA_DATA\): a path component is not a directory/);
  });
});

/** A TCP port that refuses connections until `open` forwards it to `target` (a backend coming up late). */
async function lateProxy(target: { host: string; port: number }): Promise<{ port: number; open(): Promise<void>; close(): Promise<void> }> {
  const port = await freePort();
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  return {
    port,
    open: () =>
      new Promise((resolve, reject) => {
        server = createServer((client) => {
          const upstream = connect(target.port, target.host);
          for (const s of [client, upstream]) {
            sockets.add(s);
            s.on('error', () => {});
            s.on('close', () => sockets.delete(s));
          }
          client.pipe(upstream).pipe(client);
        });
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => (server ? server.close(() => r(undefined)) : r(undefined)));
    },
  };
}

describe.runIf(BACKEND === 'postgres-s3')('backends that cannot be used are reported at start (PostgreSQL, S3)', () => {
  const secret = `PLANTED-${randomBytes(6).toString('hex')}`;

  it('PostgreSQL refusing connections: one line naming DATABASE_URL, its password nowhere', async () => {
    const port = await freePort();
    const r = await serveUntilExit(['--data', await tempDir()], { DATABASE_URL: `postgres://crm:${secret}@127.0.0.1:${port}/crm`, CRM_MEDIA_STARTUP_WAIT_MS: '0' });
    expectOneLineFailure(r, new RegExp(`cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} \\(DATABASE_URL\\): connection refused$`));
    expect(`${r.out}${r.err}`).not.toContain(secret);
  });

  it('PostgreSQL still refusing after the wait: waited (saying so), then one line', async () => {
    const port = await freePort();
    const r = await serveUntilExit(['--data', await tempDir()], { DATABASE_URL: `postgres://crm:${secret}@127.0.0.1:${port}/crm`, CRM_MEDIA_STARTUP_WAIT_MS: '2000' });
    expectOneLineFailure(r, /connection refused$/);
    expect(r.ms).toBeGreaterThanOrEqual(2_000);
    // pino's lines, on stdout: one per retry.
    expect(r.out).toMatch(/"msg":"cannot reach PostgreSQL at .* \(DATABASE_URL\): connection refused; waiting up to \d+ s more"/);
    expect(`${r.out}${r.err}`).not.toContain(secret);
  });

  it('PostgreSQL that comes up within the wait (compose, Kubernetes): the server starts', async () => {
    const backend = await prepareBackend(await tempDir(), 'postgres-s3');
    cleanups.push(() => backend.teardown());
    const pgUrl = new URL(backend.env['DATABASE_URL']!);
    const proxy = await lateProxy({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
    cleanups.push(() => proxy.close());
    pgUrl.port = String(proxy.port);
    let opened = false;
    const server = await spawnServer({
      // The database "comes up" once the server has found it down and said it waits.
      onOutput: (text) => {
        if (!opened && /connection refused; waiting up to/.test(text)) {
          opened = true;
          void proxy.open();
        }
      },
      args: ['--data', await tempDir()],
      env: childEnv({ ...backend.env, DATABASE_URL: pgUrl.toString(), CRM_MEDIA_STARTUP_WAIT_MS: '30000' }) as Record<string, string>,
      readyTimeoutMs: 40_000,
    });
    try {
      expect(server.output()).toMatch(/cannot reach PostgreSQL .* connection refused; waiting up to/);
      expect((await http('GET', `${server.url}/readyz`)).status).toBe(200);
    } finally {
      expect(await server.stop(), server.output()).toBe(0);
    }
  });

  it('a role PostgreSQL does not know: at once (waiting cannot cure it), one line', async () => {
    const url = new URL(PG_ADMIN_URL);
    url.username = `nobody_${randomBytes(3).toString('hex')}`;
    url.password = secret;
    const r = await serveUntilExit(['--data', await tempDir()], { DATABASE_URL: url.toString(), CRM_MEDIA_STARTUP_WAIT_MS: '60000' });
    expectOneLineFailure(r, /PostgreSQL at .* refused (user|the password of user) "nobody_[0-9a-f]+" \(DATABASE_URL\)/);
    expect(r.ms).toBeLessThan(30_000);
    expect(`${r.out}${r.err}`).not.toContain(secret);
  });

  it('a database that does not exist: at once, one line', async () => {
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/missing_${randomBytes(3).toString('hex')}`;
    const r = await serveUntilExit(['--data', await tempDir()], { DATABASE_URL: url.toString(), CRM_MEDIA_STARTUP_WAIT_MS: '60000' });
    expectOneLineFailure(r, /the database "missing_[0-9a-f]+" does not exist on PostgreSQL at .* \(DATABASE_URL\)$/);
    expect(r.ms).toBeLessThan(30_000);
  });

  describe('S3', () => {
    /** A working database, so that the blob store is what fails. */
    /** Any credentials where the store is not reached; those of the test bucket where it is (`over`). */
    const ANY_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    async function s3Env(over: Record<string, string>): Promise<Record<string, string>> {
      const db = await createTestDatabase();
      cleanups.push(() => db.drop());
      return {
        DATABASE_URL: db.url,
        CRM_MEDIA_BLOB_STORE: 's3',
        CRM_MEDIA_S3_FORCE_PATH_STYLE: 'true',
        AWS_ACCESS_KEY_ID: ANY_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ANY_CREDENTIALS.secretAccessKey,
        CRM_MEDIA_STARTUP_WAIT_MS: '0',
        ...over,
      };
    }

    it('no endpoint (AWS S3 itself, unreachable or refusing these credentials): one line naming the setting', async () => {
      const r = await serveUntilExit(['--data', await tempDir()], await s3Env({ CRM_MEDIA_S3_BUCKET: `crm-media-test-${randomBytes(4).toString('hex')}` }));
      expectOneLineFailure(r, /CRM_MEDIA_S3_ENDPOINT is not set, so AWS S3 itself is used|AWS_ACCESS_KEY_ID|CRM_MEDIA_S3_BUCKET/);
    });

    it('an endpoint nobody listens on: one line naming CRM_MEDIA_S3_ENDPOINT', async () => {
      const port = await freePort();
      const r = await serveUntilExit(['--data', await tempDir()], await s3Env({ CRM_MEDIA_S3_BUCKET: 'media', CRM_MEDIA_S3_ENDPOINT: `http://127.0.0.1:${port}` }));
      expectOneLineFailure(r, new RegExp(`cannot reach the S3 endpoint http://127\\.0\\.0\\.1:${port} \\(CRM_MEDIA_S3_ENDPOINT\\): connection refused$`));
    });

    it('a bucket that does not exist: one line naming CRM_MEDIA_S3_BUCKET', async () => {
      const s3 = await startS3(join(await tempDir(), 's3'));
      cleanups.push(() => s3.stop());
      const r = await serveUntilExit(['--data', await tempDir()], await s3Env({
          CRM_MEDIA_S3_BUCKET: 'no-such-bucket',
          CRM_MEDIA_S3_ENDPOINT: s3.endpoint,
          AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        }));
      expectOneLineFailure(r, /the bucket "no-such-bucket" does not exist at the S3 endpoint http:\/\/127\.0\.0\.1:\d+ \(CRM_MEDIA_S3_BUCKET\)$/);
    });

    it('credentials the store does not know: at once whatever the wait, one line naming them, the secret nowhere', async () => {
      const s3 = await startS3(join(await tempDir(), 's3'));
      cleanups.push(() => s3.stop());
      const r = await serveUntilExit(
        ['--data', await tempDir()],
        await s3Env({ CRM_MEDIA_S3_BUCKET: s3.bucket, CRM_MEDIA_S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: 'UNKNOWNKEY', AWS_SECRET_ACCESS_KEY: secret, CRM_MEDIA_STARTUP_WAIT_MS: '60000' }),
      );
      expectOneLineFailure(r, /denied access to the bucket "media-[0-9a-f]+" \((InvalidAccessKeyId|HTTP 403|Forbidden|Unknown)\): check the credentials \(AWS_ACCESS_KEY_ID/);
      expect(r.ms).toBeLessThan(30_000);
      expect(`${r.out}${r.err}`).not.toContain(secret);
    });
  });
});

describe.runIf(BACKEND === 'postgres-s3')('several instances share a data directory on PostgreSQL', () => {
  it('two servers on one --data both start (nothing there is written by two)', async () => {
    const dir = await tempDir();
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const env = childEnv({ DATABASE_URL: db.url, CRM_MEDIA_ADMIN_KEY: 'shared-dir-admin-key-0123' }) as Record<string, string>;
    const a = await spawnServer({ args: ['--data', dir], env });
    try {
      const b = await spawnServer({ args: ['--data', dir], env });
      expect((await http('GET', `${b.url}/readyz`)).status).toBe(200);
      expect(await b.stop()).toBe(0);
    } finally {
      expect(await a.stop()).toBe(0);
    }
    await sleep(0);
  });
});
