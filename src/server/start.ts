/**
 * Starting and stopping a whole server: stores, services, first-start bootstrap, seeding, HTTP, the sweeper.
 * Used by `crm-media serve` and by the tests (which start real servers on loopback).
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { type BootstrapResult, adminKey, bootstrap } from '../admin/bootstrap.js';
import type { Config } from '../config.js';
import { type Runtime, openRuntime } from '../runtime.js';
import { type SeedReport, applySeed, readSeedFile } from '../admin/seed.js';
import { buildServer } from './app.js';
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

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    base: undefined,
    // Should anything log a request object, its query values are redacted and its headers left out (tokens).
    serializers: { req: (req: { method?: string; url?: string }) => ({ method: req.method, path: req.url?.split('?', 1)[0], query: redactedQuery(req.url ?? '') }) },
  });
}

export async function startServer(config: Config, logger: Logger = createLogger(config)): Promise<RunningServer> {
  const runtime = await openRuntime(config, logger);
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
    runtime.control.start();
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
          await runtime.close();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await runtime.close();
    throw err;
  }
}
