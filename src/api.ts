/**
 * The programmatic API, for test runners and scripts: start a server in-process, get its URL and credentials, reset
 * or seed it between tests, stop it. The package's main export.
 *
 *   const srv = await startCrmMedia({ inMemory: true, seed });
 *   // srv.url, srv.token (Zoho-oauthtoken), srv.adminKey (X-Admin-Key)
 *   await srv.reset();
 *   await srv.stop();
 *
 * Options are the settings of the CLI and the environment (src/config.ts), by their config names. Unlike the CLI,
 * the environment is not read unless passed as `env`, so a test suite gets the same server on every machine.
 */
import { randomBytes } from 'node:crypto';
import { bootstrap } from './admin/bootstrap.js';
import { type SeedDocument, type SeedReport, applySeed, parseSeed, readSeedFile } from './admin/seed.js';
import { type Config, loadConfig } from './config.js';
import { DEV_ACCESS_TOKEN, DEV_ADMIN_KEY } from './dev-credentials.js';
import { type RunningServer, createLogger, startServer } from './server/start.js';

export { DEV_ACCESS_TOKEN, DEV_ADMIN_KEY };
export type { SeedDocument, SeedReport };

/** Every setting of the CLI and environment (src/config.ts), plus what only an embedding needs. */
export type CrmMediaOptions = Partial<Omit<Config, 'seedFile' | 'devToken'>> & {
  /**
   * A seed document, or the path of a seed file, applied at start and again after each `reset()`. Its first org's
   * first administrator becomes the owner of `token`.
   */
  seed?: SeedDocument | string;
  /** The access token's value (default: the well-known development token in memory and with `dev`, else a fresh one). */
  token?: string;
  /** Environment variables to read settings from, as the CLI does (default: none). */
  env?: NodeJS.ProcessEnv;
};

export interface CrmMedia {
  /** Base URL, e.g. `http://127.0.0.1:43121` (`https://…` with `tlsCert`/`tlsKey`). */
  readonly url: string;
  readonly port: number;
  /** An access token with every scope (`Authorization: Zoho-oauthtoken <token>`), valid after `reset()` too. */
  readonly token: string;
  /** The admin API key (`X-Admin-Key`). */
  readonly adminKey: string;
  /** The org `token` belongs to (a new id after `reset()` unless the seed fixes it). */
  readonly orgId: string;
  /** The user `token` acts as. */
  readonly userId: string;
  /** Deletes everything, then applies the start seed again and re-creates the default org and `token`. */
  reset(): Promise<void>;
  /** Applies a seed document (idempotent: what exists is left alone); tokens it minted are in the report. */
  seed(doc: SeedDocument): Promise<SeedReport>;
  /** Finishes requests in flight, then closes the stores. In memory, everything is gone. */
  stop(): Promise<void>;
}

/** Starts a server. Defaults differ from the CLI's where a test wants them to: any free port, in memory, quiet. */
export async function startCrmMedia(options: CrmMediaOptions = {}): Promise<CrmMedia> {
  const { seed, token, env = {}, ...settings } = options;
  const persistent = settings.dataDir !== undefined || settings.database !== undefined;
  const config = loadConfig(
    {
      port: 0,
      logLevel: 'warn',
      logFormat: 'json',
      accessLog: false,
      inMemory: !persistent,
      ...settings,
      seedFile: typeof seed === 'string' ? seed : undefined,
      devToken: token,
    },
    env,
  );
  // The token must exist whatever the store holds: a fixed value is (re)created on every start if missing.
  const tokenValue = config.devToken ?? `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
  const finalConfig: Config = { ...config, devToken: tokenValue };
  const startSeed = typeof seed === 'object' ? parseSeed(seed) : undefined;
  const server = await startServer(finalConfig, createLogger(finalConfig), { seed: startSeed });
  const owner = { orgId: '', userId: '' };
  try {
    setOwner(owner, server);
  } catch (err) {
    await server.stop();
    throw err;
  }
  const rt = server.runtime;
  return {
    url: server.url,
    port: server.port,
    token: tokenValue,
    adminKey: server.adminKey,
    get orgId() {
      return owner.orgId;
    },
    get userId() {
      return owner.userId;
    },
    async reset() {
      await rt.admin.reset();
      server.journal.clear();
      const again = startSeed ?? (typeof seed === 'string' ? await readSeedFile(seed) : undefined);
      if (again) await applySeed(rt, again);
      server.bootstrap = await bootstrap(rt);
      await rt.store.durable();
      setOwner(owner, server);
    },
    async seed(doc) {
      const report = await applySeed(rt, parseSeed(doc));
      await rt.store.durable();
      return report;
    },
    stop: () => server.stop(),
  };
}

function setOwner(owner: { orgId: string; userId: string }, server: RunningServer): void {
  const boot = server.bootstrap;
  if (!boot) {
    throw new Error(
      "the first org has no user with an administrator profile, so there is no one to own the access token: give the seed's first org a user with the profile \"Administrator\"",
    );
  }
  owner.orgId = boot.org.id;
  owner.userId = boot.admin.id;
}
