/**
 * Starting and stopping a whole server: stores, services, first-start bootstrap, seeding, HTTP, the sweeper.
 * Used by `crm-media serve` and by the tests (which start real servers on loopback).
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type DestinationStream, type Logger, type LogFn, pino } from 'pino';
import { type BootstrapResult, adminKey, bootstrap } from '../admin/bootstrap.js';
import { lockDataDir } from '../storage/data-dir-lock.js';
import { SERVER_SETTINGS, prepareDataDir } from '../storage/startup-check.js';
import type { Config } from '../config.js';
import { type Runtime, openRuntime } from '../runtime.js';
import { type SeedReport, applySeed, readSeedFile } from '../admin/seed.js';
import { buildServer } from './app.js';
import { redactDeep, redactSecrets } from '../logging/redact.js';
import { type RequestJournal, redactedQuery } from './request-journal.js';

export interface RunningServer {
  url: string;
  port: number;
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

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: undefined,
      // Should anything log a request object, its query values are redacted and its headers left out (tokens).
      // Errors and messages (Fastify's own name URLs; drivers name hosts and, at times, credentials) are scrubbed.
      serializers: {
        req: (req: { method?: string; url?: string }) => ({ method: req.method, path: req.url?.split('?', 1)[0], query: redactedQuery(req.url ?? '') }),
        err: (err: Error) => redactDeep(pino.stdSerializers.err(err)),
      },
      hooks: { logMethod: redactingLogMethod },
    },
    destination,
  );
}

/** Messages are scrubbed of secrets; objects other than errors are the caller's (the access log's are redacted). */
function redactingLogMethod(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') (args as unknown[])[i] = redactSecrets(args[i] as string);
  (method as (...a: unknown[]) => void).apply(this, args);
}

export async function startServer(config: Config, logger: Logger = createLogger(config)): Promise<RunningServer> {
  // The embedded store has one writer; PostgreSQL takes any number of instances (the data directory then holds only
  // the admin key, or blobs that several writers may share).
  await prepareDataDir(config.dataDir, SERVER_SETTINGS);
  const lock = config.database ? undefined : await lockDataDir(config.dataDir, 'server', SECOND_SERVER_ADVICE);
  let runtime: Runtime;
  try {
    runtime = await openRuntime(config, logger);
  } catch (err) {
    lock?.release();
    throw err;
  }
  try {
    const seed = config.seedFile ? await applySeed(runtime.admin, await readSeedFile(config.seedFile)) : undefined;
    const boot = await bootstrap(runtime);
    await runtime.store.durable();
    const key = await adminKey(runtime);
    const { app, journal, beginClosing } = buildServer(runtime, { logger, adminKey: key.key });
    await app.listen({ port: config.port, host: config.host });
    const port = (app.server.address() as AddressInfo).port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    runtime.sweeper.start(config.sweepIntervalMs);
    runtime.webhooks.start();
    let stopping: Promise<void> | undefined;
    return {
      url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
      port,
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
          const force = setTimeout(() => app.server.closeAllConnections(), config.shutdownTimeoutMs);
          // A response that was already on its way when closing began went out without `Connection: close`; its
          // connection turns idle a moment later and must not then keep the server open until keep-alive ends.
          const sweepIdle = setInterval(() => app.server.closeIdleConnections(), 50);
          try {
            await app.close();
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
