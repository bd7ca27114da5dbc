/**
 * Starting and stopping a whole server: stores, services, first-start bootstrap, seeding, HTTP, the sweeper.
 * Used by `crm-media serve` and by the tests (which start real servers on loopback).
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type DestinationStream, type Logger, type LogFn, pino } from 'pino';
import { type BootstrapResult, adminKey, bootstrap } from '../admin/bootstrap.js';
import { lockDataDir } from '../storage/data-dir-lock.js';
import { SERVER_SETTINGS, prepareDataDir } from '../startup-check.js';
import type { Config } from '../config.js';
import { type Runtime, openRuntime } from '../runtime.js';
import { type SeedDocument, type SeedReport, applySeed, parseSeed, readSeedFile } from '../admin/seed.js';
import { buildServer } from './app.js';
import { redactDeep, redactSecrets } from '../logging/redact.js';
import { LOG_RECORD_OPTIONS, prettyDestination, resolveLogFormat } from './log-format.js';
import { type RequestJournal, redactedQuery } from './request-journal.js';

export interface RunningServer {
  url: string;
  port: number;
  /** Where /_admin and /_console are served: `url`, or the admin listener's own (`--admin-port`). */
  adminUrl: string;
  runtime: Runtime;
  app: FastifyInstance;
  /** The newest requests to the Zoho surface of this server. */
  journal: RequestJournal;
  adminKey: string;
  adminKeyPath: string | undefined;
  adminKeyGenerated: boolean;
  bootstrap: BootstrapResult | undefined;
  seed: SeedReport | undefined;
  stop(): Promise<void>;
}

export function createLogger(config: Pick<Config, 'logLevel'> & Partial<Pick<Config, 'logFormat'>>, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: undefined,
    ...LOG_RECORD_OPTIONS,
    // Should anything log a request object, its query values are redacted and its headers left out (tokens).
    // Errors and messages (Fastify's own name URLs; drivers name hosts and, at times, credentials) are scrubbed.
    serializers: {
      req: (req: { method?: string; url?: string }) => ({ method: req.method, path: req.url?.split('?', 1)[0], query: redactedQuery(req.url ?? '') }),
      err: (err: Error) => redactDeep(pino.stdSerializers.err(err)),
    },
    hooks: { logMethod: redactingLogMethod },
  };
  const out = destination ?? (resolveLogFormat(config.logFormat ?? 'json') === 'pretty' ? prettyDestination(process.stdout) : undefined);
  return out ? pino(options, out) : pino(options);
}

/** Messages are scrubbed of secrets; objects other than errors are the caller's (the access log's are redacted). */
function redactingLogMethod(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') (args as unknown[])[i] = redactSecrets(args[i] as string);
  (method as (...a: unknown[]) => void).apply(this, args);
}

/** The server could not listen: said in one line with what to do, instead of Node's stack trace. */
export class ListenError extends Error {}

function listenError(err: unknown, config: Config): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${config.host}:${config.port}`;
  if (code === 'EADDRINUSE') {
    return new ListenError(`${where} is already in use (another crm-media-server?): stop it, or choose another port with --port (--port 0 takes any free one)`);
  }
  if (code === 'EACCES') return new ListenError(`not allowed to listen on ${where}: ports below 1024 need privileges; choose another with --port`);
  if (code === 'EADDRNOTAVAIL') return new ListenError(`${config.host} is not an address of this machine (--host)`);
  return err;
}

async function readTls(config: Config): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (!config.tlsCert || !config.tlsKey) return undefined;
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new ListenError(`cannot read the TLS ${what} ${path}: ${(err as Error).message}`);
    }
  };
  return { cert: await read(config.tlsCert, 'certificate'), key: await read(config.tlsKey, 'key') };
}

export interface StartOptions {
  /** A seed document applied before the first-start bootstrap, like `config.seedFile` (which it replaces). */
  seed?: SeedDocument | undefined;
}

export async function startServer(config: Config, logger: Logger = createLogger(config), opts: StartOptions = {}): Promise<RunningServer> {
  const tls = await readTls(config);
  const seedDocument = opts.seed ? parseSeed(opts.seed) : config.seedFile ? await readSeedFile(config.seedFile) : undefined;
  // The embedded store has one writer; PostgreSQL takes any number of instances (the data directory then holds only
  // the admin key, or blobs that several writers may share). In memory there is no data directory at all.
  let lock: { release(): void } | undefined;
  if (!config.inMemory) {
    await prepareDataDir(config.dataDir, SERVER_SETTINGS);
    lock = config.database ? undefined : await lockDataDir(config.dataDir, 'server', SECOND_SERVER_ADVICE);
  }
  let runtime: Runtime;
  try {
    runtime = await openRuntime(config, logger);
  } catch (err) {
    lock?.release();
    throw err;
  }
  try {
    const seed = seedDocument ? await applySeed(runtime, seedDocument) : undefined;
    const boot = await bootstrap(runtime);
    await runtime.store.durable();
    const key = await adminKey(runtime);
    const apart = config.adminPort !== undefined;
    const { app, journal, beginClosing } = buildServer(runtime, { logger, adminKey: key.key, tls, surface: apart ? 'api' : 'all' });
    const admin = apart ? buildServer(runtime, { logger, adminKey: key.key, tls, surface: 'admin', journal }) : undefined;
    try {
      await app.listen({ port: config.port, host: config.host });
      await admin?.app.listen({ port: config.adminPort!, host: config.adminHost ?? config.host });
    } catch (err) {
      await app.close().catch(() => {});
      await admin?.app.close().catch(() => {});
      throw listenError(err, config);
    }
    const port = (app.server.address() as AddressInfo).port;
    const url = baseUrl(config.host, port, tls !== undefined);
    runtime.sweeper.start(config.sweepIntervalMs);
    runtime.webhooks.start();
    runtime.control.start();
    let stopping: Promise<void> | undefined;
    return {
      url,
      port,
      adminUrl: admin ? baseUrl(config.adminHost ?? config.host, (admin.app.server.address() as AddressInfo).port, tls !== undefined) : url,
      runtime,
      app,
      journal,
      adminKey: key.key,
      adminKeyPath: key.path,
      adminKeyGenerated: key.generated,
      bootstrap: boot,
      seed,
      stop() {
        stopping ??= (async () => {
          // New requests get 503 and the listener closes; requests in flight (uploads) may finish within the
          // shutdown bound, after which their connections are cut.
          beginClosing();
          admin?.beginClosing();
          const servers = admin ? [app, admin.app] : [app];
          const force = setTimeout(() => servers.forEach((s) => s.server.closeAllConnections()), config.shutdownTimeoutMs);
          // A response that was already on its way when closing began went out without `Connection: close`; its
          // connection turns idle a moment later and must not then keep the server open until keep-alive ends.
          const sweepIdle = setInterval(() => servers.forEach((s) => s.server.closeIdleConnections()), 50);
          try {
            await Promise.all(servers.map((s) => s.close()));
          } finally {
            clearTimeout(force);
            clearInterval(sweepIdle);
          }
          try {
            await runtime.close();
          } finally {
            lock?.release();
          }
        })();
        return stopping;
      },
    };
  } catch (err) {
    await runtime.close();
    lock?.release();
    throw err;
  }
}

const SECOND_SERVER_ADVICE =
  'stop it first, or give this server a data directory of its own (--data / CRM_MEDIA_DATA); crm-media commands such as `org list` may run beside it';

/** The URL a client on this machine reaches a listener at (a wildcard address is reached on loopback). */
function baseUrl(listenHost: string, port: number, tls: boolean): string {
  const host = listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  return `${tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${port}`;
}
