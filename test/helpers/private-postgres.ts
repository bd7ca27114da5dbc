/**
 * A PostgreSQL server of a test's own (initdb into a temporary directory, a free loopback port), for tests that stop
 * and start the database under a running crm-media. The machine's PostgreSQL serves every other test file running at
 * the same time, so it is never the one stopped. Same binaries as the machine's server (Debian's postgresql package).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from './spawned-server.js';

/** The newest installed server's bin directory, or undefined when there is none. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

export interface PrivatePostgres {
  url: string;
  /** A fast shutdown, as an operator's `pg_ctl stop` or a package upgrade does it: every session is terminated. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server (if running) and removes its directory; safe to call more than once. */
  destroy(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const dir = await mkdtemp(join(tmpdir(), 'crm-media-pg-'));
  const data = join(dir, 'data');
  // initdb and postgres refuse to run as root: as root, they run as the `postgres` user.
  let user: { uid: number; gid: number } | Record<string, never> = {};
  if (isRoot) {
    user = {
      uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
      gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
    };
    await chown(dir, user.uid, user.gid);
    await chmod(dir, 0o700);
  }
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { stdio: 'ignore', cwd: dir, ...user });
  const port = await freePort();
  let child: ChildProcess | undefined;
  let destroyed = false;

  const exitOf = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));

  const start = async () => {
    const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'shared_buffers=16MB', '-c', 'max_connections=50'];
    const c = spawn(join(bin, 'postgres'), args, { stdio: 'ignore', cwd: dir, ...user });
    child = c;
    // Ready when it accepts a query; bounded.
    for (let i = 0; i < 300; i++) {
      if (c.exitCode !== null) throw new Error(`private PostgreSQL exited with ${c.exitCode}`);
      const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        await client.query('select 1');
        await client.end();
        return;
      } catch {
        await client.end().catch(() => {});
        await sleep(50);
      }
    }
    throw new Error('private PostgreSQL did not become ready');
  };

  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    // SIGINT is PostgreSQL's fast shutdown.
    c.kill('SIGINT');
    const killer = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await exitOf(c);
    clearTimeout(killer);
  };

  // Whatever ends the test process, the server must not outlive it.
  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);

  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await stop();
      process.removeListener('exit', onExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
