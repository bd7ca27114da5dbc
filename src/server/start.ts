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
    const seed = config.seedFile ? await applySeed(runtime, await readSeedFile(config.seedFile)) : undefined;
    const boot = await bootstrap(runtime);
    await runtime.store.durable();
    const key = await adminKey(runtime);
    const apart = config.adminPort !== undefined;
    const { app, journal, beginClosing } = buildServer(runtime, { logger, adminKey: key.key, surface: apart ? 'api' : 'all' });
    const admin = apart ? buildServer(runtime, { logger, adminKey: key.key, surface: 'admin', journal }) : undefined;
    await app.listen({ port: config.port, host: config.host });
    try {
      await admin?.app.listen({ port: config.adminPort!, host: config.adminHost ?? config.host });
    } catch (err) {
      await app.close();
      throw err;
    }
    const port = (app.server.address() as AddressInfo).port;
    const url = baseUrl(config.host, port);
    runtime.sweeper.start(config.sweepIntervalMs);
    runtime.webhooks.start();
    let stopping: Promise<void> | undefined;
    return {
      url,
      port,
      adminUrl: admin ? baseUrl(config.adminHost ?? config.host, (admin.app.server.address() as AddressInfo).port) : url,
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

/** The URL a client on this machine reaches a listener at (a wildcard address is reached on loopback). */
function baseUrl(listenHost: string, port: number): string {
  const host = listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
}
