/**
 * One validated configuration from command-line flags and environment variables (flags win). Every setting has a
 * default that makes `crm-media serve` work on a fresh machine with nothing else installed.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { registerConfigSecrets } from './logging/redact.js';
import { DEV_ACCESS_TOKEN, DEV_ADMIN_KEY, isLoopbackHost } from './dev-credentials.js';
import { limitsSchema } from './admin/schemas.js';

const MiB = 1024 * 1024;

export const DEFAULTS = {
  port: 8787,
  host: '127.0.0.1',
  dataDir: './data',
  timeZone: 'UTC',
  photoMaxBytes: 10 * MiB,
  photoMaxPixels: 10_000_000,
  attachmentMaxBytes: 100 * MiB,
  tokenCacheTtlMs: 2_000,
  sweepIntervalMs: 10 * 60_000,
  sweepGraceMs: 15 * 60_000,
  logLevel: 'info',
  sqliteSynchronous: 'full',
  pgPoolSize: 10,
  blobStore: 'disk',
  s3Region: 'us-east-1',
  s3ForcePathStyle: false,
  s3Prefix: '',
  s3MaxConcurrentUploads: 16,
  shutdownTimeoutMs: 30_000,
  requestTimeoutMs: 10 * 60_000,
  idleTimeoutMs: 120_000,
  accessTokenLifetimeS: 3600,
  contentHash: 'none',
  webhookPollMs: 1_000,
  webhookTimeoutMs: 10_000,
  webhookMaxAttempts: 8,
  webhookRetryBaseMs: 1_000,
  webhookRetryMaxMs: 5 * 60_000,
  accelCacheSeconds: 0,
  journalSize: 1000,
  accessLog: false,
  // Start-up and first-start secrets (startup-check.ts, admin/bootstrap.ts).
  startupWaitMs: 30_000,
  printBootstrapToken: false,
  // Packaging, embedding and development: in-memory stores, the well-known credentials, TLS, log format.
  inMemory: false,
  memoryMaxBytes: 512 * MiB,
  dev: false,
  exposeDevCredentials: false,
  logFormat: 'auto',
  apiDomainFromHost: false,
  // The admin surface (/_admin, /_console): sessions of the web console, and throttling of wrong admin keys.
  consoleSessionIdleMs: 30 * 60_000,
  consoleSessionMaxMs: 12 * 60 * 60_000,
  adminAuthMaxFailures: 10,
  adminAuthWindowMs: 60_000,
  // Limits, faults and the movable clock.
  testClock: false,
  controlPollMs: 1_000,
} as const;

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: MiB, mb: MiB, mib: MiB, g: 1024 * MiB, gb: 1024 * MiB, gib: 1024 * MiB };

/** `536870912`, `512MiB`, `512m`, `2 GiB` → bytes (binary units, whatever the spelling); anything else unchanged. */
export function parseSize(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Math.round(Number(m[1]) * unit) : v;
}

const bool = z.preprocess((v) => (typeof v === 'string' ? !['', '0', 'false', 'no', 'off'].includes(v.toLowerCase()) : v), z.boolean());

/** `enterprise`, `enterprise:10` (an edition for 10 users), or a JSON limits document. */
const limitsSetting = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const text = v.trim();
  if (text.startsWith('{')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  const [edition, users] = text.split(':');
  return users === undefined ? { edition } : { edition, users: Number(users) };
}, limitsSchema);

const configSchema = z.object({
  port: z.coerce.number({ error: 'a port number (0 for any free port)' }).int().min(0).max(65535),
  host: z.string().min(1),
  dataDir: z.string().min(1),
  adminKey: z.string().min(16, 'an admin key needs at least 16 characters').optional(),
  devToken: z.string().min(1).optional(),
  timeZone: z.string().min(1),
  photoMaxBytes: z.coerce.number().int().positive(),
  photoMaxPixels: z.coerce.number().int().positive(),
  attachmentMaxBytes: z.coerce.number().int().positive(),
  tokenCacheTtlMs: z.coerce.number().int().min(0),
  sweepIntervalMs: z.coerce.number().int().min(0),
  sweepGraceMs: z.coerce.number().int().min(0),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  sqliteSynchronous: z.enum(['full', 'normal']),
  seedFile: z.string().optional(),
  /** `postgres://…` selects PostgreSQL; otherwise SQLite in the data directory. */
  database: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL (leave unset for the embedded SQLite store)')
    .optional(),
  pgPoolSize: z.coerce.number().int().min(1).max(1000),
  blobStore: z.enum(['disk', 's3']),
  s3Bucket: z.string().min(3).optional(),
  s3Endpoint: z.string().url().optional(),
  s3Region: z.string().min(1),
  s3ForcePathStyle: bool,
  s3Prefix: z.string(),
  s3MaxConcurrentUploads: z.coerce.number().int().min(1).max(1024),
  /** How long a graceful shutdown waits for in-flight requests (uploads) before closing them. */
  shutdownTimeoutMs: z.coerce.number().int().min(0),
  /**
   * An upload's whole body must arrive within this bound (one that outlasts it is cut with a 408). The sweeper never
   * aborts an unfinished write younger than this.
   */
  requestTimeoutMs: z.coerce.number().int().min(1000),
  /** A connection with no traffic either way for this long is closed (a stalled upload frees its resources). */
  idleTimeoutMs: z.coerce.number().int().min(1000),
  /**
   * Disk store behind nginx: downloads are authorized here and answered with `X-Accel-Redirect: <prefix><ab>/<key>`
   * for nginx to serve from its internal location mapped to `<data>/blobs/`.
   */
  accelRedirect: z.string().regex(/^\/(.*\/)?$/, 'an absolute path ending in /, e.g. /_protected/').optional(),
  /**
   * With X-Accel-Redirect: how long nginx may reuse one authorization (`X-Accel-Expires`) for the same URL and
   * Authorization header, when its config caches them (docs/deployment.md). 0: every download is authorized here.
   * Bounded by a minute because every revocation, deletion and permission change waits this long to apply.
   */
  accelCacheSeconds: z.coerce.number().int().min(0).max(60),
  /** This server's public base URL (the token endpoint's `api_domain`); default: from the request's Host. */
  publicUrl: z.string().url().optional(),
  /** `sha256` records a hash of every uploaded file (costs CPU on every upload); `none` does not. */
  contentHash: z.enum(['none', 'sha256']),
  /** Lifetime of access tokens minted by the token server (Zoho: one hour). */
  accessTokenLifetimeS: z.coerce.number().int().min(1),
  webhookPollMs: z.coerce.number().int().min(10),
  webhookTimeoutMs: z.coerce.number().int().min(100),
  webhookMaxAttempts: z.coerce.number().int().min(1).max(100),
  webhookRetryBaseMs: z.coerce.number().int().min(1),
  webhookRetryMaxMs: z.coerce.number().int().min(1),
  /** Requests to the Zoho surface this instance keeps in its journal (0: none). */
  journalSize: z.coerce.number().int().min(0).max(1_000_000),
  /** One structured log line per request to the Zoho surface (never a token; query values redacted). */
  accessLog: bool,
  /** The movable clock (admin API and CLI `clock advance`): for tests only, off by default. */
  testClock: bool,
  /** How often a server rereads fault rules and the clock, and renews its concurrency lease (0: never). */
  controlPollMs: z.coerce.number().int().min(0).max(60_000),
  /** Limits of every org that has none of its own (an edition, `edition:users`, or a JSON limits document). */
  defaultLimits: limitsSetting.optional(),
  /**
   * How long a start waits for a database or blob store that is not up yet (connection refused, not yet in DNS, a
   * bucket not made yet) before it gives up; a misconfiguration (a refused password or credentials) ends it at once.
   */
  startupWaitMs: z.coerce.number().int().min(0).max(3_600_000),
  /** On PostgreSQL, print the tokens a first start mints instead of keeping them in `<data>/bootstrap-tokens` only. */
  printBootstrapToken: bool,
  /** Metadata (SQLite `:memory:`) and bytes in this process's memory; nothing is written to disk. Implies `dev`. */
  inMemory: bool,
  /** In memory: what all stored bytes together may take (uploads beyond it get STORAGE_SPACE_EXCEEDED). */
  memoryMaxBytes: z.preprocess(parseSize, z.number({ error: 'a size in bytes, or with a unit: 512MiB, 2GiB' }).int().min(1)),
  /** The well-known development token and admin key (dev-credentials.ts), and the access log on by default. */
  dev: bool,
  /** Dev credentials on a non-loopback address: allowed only when this confirms it. */
  exposeDevCredentials: bool,
  /** `pretty` for people, `json` for machines; `auto`: pretty on a terminal, JSON otherwise. */
  logFormat: z.enum(['auto', 'pretty', 'json']),
  /** HTTPS with this certificate (PEM file; with `tlsKey`). */
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  /**
   * The token endpoint's `api_domain` from the request's Host even when a public URL is set, a Zoho accounts host
   * (`accounts.zoho.eu`) answering with its data centre's API host (`https://www.zohoapis.eu`).
   */
  apiDomainFromHost: bool,
  /**
   * The admin surface (/_admin and /_console) on a listener of its own, e.g. loopback only: then the main listener
   * answers those paths with Zoho's 404, so a server whose Zoho API is public never exposes them.
   */
  adminHost: z.string().min(1).optional(),
  adminPort: z.coerce.number().int().min(0).max(65535).optional(),
  /** A console session ends after this long without a request, and after `consoleSessionMaxMs` in any case. */
  consoleSessionIdleMs: z.coerce.number().int().min(1000),
  consoleSessionMaxMs: z.coerce.number().int().min(1000),
  /** Wrong admin keys from one client address: this many within the window, and that address waits out the window. */
  adminAuthMaxFailures: z.coerce.number().int().min(1),
  adminAuthWindowMs: z.coerce.number().int().min(1000),
}).refine((c) => !c.inMemory || (c.database === undefined && c.blobStore !== 's3'), {
  message: 'the in-memory store keeps metadata and bytes in memory: leave out --database and --blob-store s3',
  path: ['inMemory'],
}).refine((c) => (c.tlsCert === undefined) === (c.tlsKey === undefined), {
  message: 'HTTPS needs both a certificate and its key (--tls-cert and --tls-key)',
  path: ['tlsCert'],
}).refine((c) => !(c.dev || c.inMemory) || isLoopbackHost(c.host) || c.exposeDevCredentials, {
  message:
    'the development credentials are published: on a non-loopback address they let anyone in. Listen on 127.0.0.1, ' +
    'or confirm with --expose-dev-credentials (CRM_MEDIA_EXPOSE_DEV_CREDENTIALS=1)',
  path: ['host'],
}).refine((c) => c.adminHost === undefined || c.adminPort !== undefined, {
  message: 'an admin host needs an admin port (--admin-port / CRM_MEDIA_ADMIN_PORT)',
  path: ['adminHost'],
}).refine((c) => c.blobStore !== 's3' || c.s3Bucket !== undefined, {
  message: 'the s3 blob store needs a bucket (--s3-bucket / CRM_MEDIA_S3_BUCKET)',
  path: ['s3Bucket'],
}).refine((c) => c.accelCacheSeconds === 0 || (c.accelRedirect !== undefined && c.blobStore === 'disk'), {
  message: 'caching authorizations in nginx needs X-Accel-Redirect on the disk store (CRM_MEDIA_ACCEL_REDIRECT)',
  path: ['accelCacheSeconds'],
});

export type Config = z.infer<typeof configSchema>;

/** Environment variable for each setting. */
export const ENV_NAMES: Record<keyof Config, string> = {
  port: 'CRM_MEDIA_PORT',
  host: 'CRM_MEDIA_HOST',
  dataDir: 'CRM_MEDIA_DATA',
  adminKey: 'CRM_MEDIA_ADMIN_KEY',
  devToken: 'CRM_MEDIA_DEV_TOKEN',
  timeZone: 'CRM_MEDIA_TIME_ZONE',
  photoMaxBytes: 'CRM_MEDIA_PHOTO_MAX_BYTES',
  photoMaxPixels: 'CRM_MEDIA_PHOTO_MAX_PIXELS',
  attachmentMaxBytes: 'CRM_MEDIA_ATTACHMENT_MAX_BYTES',
  tokenCacheTtlMs: 'CRM_MEDIA_TOKEN_CACHE_TTL_MS',
  sweepIntervalMs: 'CRM_MEDIA_SWEEP_INTERVAL_MS',
  sweepGraceMs: 'CRM_MEDIA_SWEEP_GRACE_MS',
  logLevel: 'CRM_MEDIA_LOG_LEVEL',
  sqliteSynchronous: 'CRM_MEDIA_SQLITE_SYNCHRONOUS',
  seedFile: 'CRM_MEDIA_SEED',
  database: 'DATABASE_URL',
  pgPoolSize: 'CRM_MEDIA_PG_POOL_SIZE',
  blobStore: 'CRM_MEDIA_BLOB_STORE',
  s3Bucket: 'CRM_MEDIA_S3_BUCKET',
  s3Endpoint: 'CRM_MEDIA_S3_ENDPOINT',
  s3Region: 'CRM_MEDIA_S3_REGION',
  s3ForcePathStyle: 'CRM_MEDIA_S3_FORCE_PATH_STYLE',
  s3Prefix: 'CRM_MEDIA_S3_PREFIX',
  s3MaxConcurrentUploads: 'CRM_MEDIA_S3_MAX_CONCURRENT_UPLOADS',
  shutdownTimeoutMs: 'CRM_MEDIA_SHUTDOWN_TIMEOUT_MS',
  requestTimeoutMs: 'CRM_MEDIA_REQUEST_TIMEOUT_MS',
  idleTimeoutMs: 'CRM_MEDIA_IDLE_TIMEOUT_MS',
  publicUrl: 'CRM_MEDIA_PUBLIC_URL',
  accelRedirect: 'CRM_MEDIA_ACCEL_REDIRECT',
  accelCacheSeconds: 'CRM_MEDIA_ACCEL_CACHE_SECONDS',
  accessTokenLifetimeS: 'CRM_MEDIA_ACCESS_TOKEN_LIFETIME_S',
  contentHash: 'CRM_MEDIA_CONTENT_HASH',
  webhookPollMs: 'CRM_MEDIA_WEBHOOK_POLL_MS',
  webhookTimeoutMs: 'CRM_MEDIA_WEBHOOK_TIMEOUT_MS',
  webhookMaxAttempts: 'CRM_MEDIA_WEBHOOK_MAX_ATTEMPTS',
  webhookRetryBaseMs: 'CRM_MEDIA_WEBHOOK_RETRY_BASE_MS',
  webhookRetryMaxMs: 'CRM_MEDIA_WEBHOOK_RETRY_MAX_MS',
  journalSize: 'CRM_MEDIA_JOURNAL_SIZE',
  accessLog: 'CRM_MEDIA_ACCESS_LOG',
  startupWaitMs: 'CRM_MEDIA_STARTUP_WAIT_MS',
  printBootstrapToken: 'CRM_MEDIA_PRINT_BOOTSTRAP_TOKEN',
  inMemory: 'CRM_MEDIA_IN_MEMORY',
  memoryMaxBytes: 'CRM_MEDIA_MEMORY_MAX_BYTES',
  dev: 'CRM_MEDIA_DEV',
  exposeDevCredentials: 'CRM_MEDIA_EXPOSE_DEV_CREDENTIALS',
  logFormat: 'CRM_MEDIA_LOG_FORMAT',
  tlsCert: 'CRM_MEDIA_TLS_CERT',
  tlsKey: 'CRM_MEDIA_TLS_KEY',
  apiDomainFromHost: 'CRM_MEDIA_API_DOMAIN_FROM_HOST',
  adminHost: 'CRM_MEDIA_ADMIN_HOST',
  adminPort: 'CRM_MEDIA_ADMIN_PORT',
  consoleSessionIdleMs: 'CRM_MEDIA_CONSOLE_SESSION_IDLE_MS',
  consoleSessionMaxMs: 'CRM_MEDIA_CONSOLE_SESSION_MAX_MS',
  adminAuthMaxFailures: 'CRM_MEDIA_ADMIN_AUTH_MAX_FAILURES',
  adminAuthWindowMs: 'CRM_MEDIA_ADMIN_AUTH_WINDOW_MS',
  testClock: 'CRM_MEDIA_TEST_CLOCK',
  controlPollMs: 'CRM_MEDIA_CONTROL_POLL_MS',
  defaultLimits: 'CRM_MEDIA_DEFAULT_LIMITS',
};

export type ConfigInput = { [K in keyof Config]?: unknown };

export interface ConfigProblem {
  setting: keyof Config;
  message: string;
}

/** Settings that are not valid: one line each in the message, and each problem by setting for callers that name them their own way. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: readonly ConfigProblem[] = [],
  ) {
    super(message);
  }
}

/** Flags (already parsed) over environment over defaults. */
export function loadConfig(flags: ConfigInput, env: NodeJS.ProcessEnv = process.env): Config {
  const merged: Record<string, unknown> = { ...DEFAULTS };
  for (const key of Object.keys(ENV_NAMES) as (keyof Config)[]) {
    const fromEnv = env[ENV_NAMES[key]];
    if (fromEnv !== undefined && fromEnv !== '') merged[key] = fromEnv;
    // PORT is what most hosting platforms set.
    if (key === 'port' && env['CRM_MEDIA_PORT'] === undefined && env['PORT']) merged['port'] = env['PORT'];
    const fromFlag = flags[key];
    if (fromFlag !== undefined) merged[key] = fromFlag;
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => ({ setting: i.path[0] as keyof Config, message: i.message }));
    const lines = problems.map((p) => describeProblem(p.setting, p.message, merged, flags, env));
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`, problems);
  }
  registerConfigSecrets(parsed.data, env);
  return withDevDefaults({ ...parsed.data, dataDir: resolve(parsed.data.dataDir) }, flags, env);
}

/** Settings whose values are never repeated in an error message. */
const SECRET_SETTINGS = new Set<keyof Config>(['adminKey', 'devToken', 'database']);

/** One line per problem, naming where the value came from: the command line, an environment variable, a default. */
function describeProblem(key: keyof Config, message: string, merged: Record<string, unknown>, flags: ConfigInput, env: NodeJS.ProcessEnv): string {
  const envName = ENV_NAMES[key];
  const source =
    flags[key] !== undefined
      ? 'from the command line'
      : env[envName] !== undefined && env[envName] !== ''
        ? `from ${envName}`
        : key === 'port' && env['PORT']
          ? 'from PORT'
          : `default; set ${envName}`;
  const value = merged[key] === undefined || SECRET_SETTINGS.has(key) ? '' : ` ${JSON.stringify(String(merged[key]))}`;
  return `${key}${value} (${source}): ${message}`;
}

/** Development mode (`--dev`, implied by `--in-memory`): the well-known credentials, and the access log unless set. */
function withDevDefaults(config: Config, flags: ConfigInput, env: NodeJS.ProcessEnv): Config {
  if (!config.dev && !config.inMemory) return config;
  const accessLogSet = flags.accessLog !== undefined || (env[ENV_NAMES.accessLog] ?? '') !== '';
  return {
    ...config,
    dev: true,
    adminKey: config.adminKey ?? DEV_ADMIN_KEY,
    devToken: config.devToken ?? DEV_ACCESS_TOKEN,
    accessLog: accessLogSet ? config.accessLog : true,
  };
}
