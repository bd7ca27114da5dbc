/**
 * `crm-media serve` as a separate process (through tsx, from the source tree), for tests that need several
 * instances, restarts of a real process, or signals.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export const CLI = ['--import', 'tsx', 'src/cli.ts'];

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `crm-media …` to completion with exactly `env` (bounded: killed after `timeoutMs`). */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface SpawnedServer {
  url: string;
  process: ChildProcess;
  output(): string;
  /** SIGTERM, then wait for the exit code (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
}

export async function spawnServer(
  opts: { args?: string[]; env?: Record<string, string>; readyTimeoutMs?: number; onOutput?: (text: string) => void } = {},
): Promise<SpawnedServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [...CLI, ...(opts.args ?? []), 'serve', '--port', String(port), '--host', '127.0.0.1'], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      CRM_MEDIA_LOG_LEVEL: 'warn',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...(opts.env ?? {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const seen = (d: Buffer) => {
    out += d.toString();
    opts.onOutput?.(out);
  };
  child.stdout!.on('data', seen);
  child.stderr!.on('data', seen);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), opts.readyTimeoutMs ?? 30_000);
    const check = () => {
      if (out.includes('is listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    output: () => out,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Two servers started together on their own data directories; if either fails, the other is stopped, not leaked. */
export async function spawnPair(dataDirs: [string, string], env: Record<string, string>): Promise<[SpawnedServer, SpawnedServer]> {
  const started = await Promise.allSettled(dataDirs.map((d) => spawnServer({ args: ['--data', d], env })));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  return started.map((r) => (r as PromiseFulfilledResult<SpawnedServer>).value) as [SpawnedServer, SpawnedServer];
}
