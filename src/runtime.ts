/**
 * The composition root: opens the stores named by the configuration and wires the services over them. The HTTP
 * server and the CLI both start from here, so they run the same code against the same data.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type Config, ConfigError } from './config.js';
import { limitInput } from './admin/limit-documents.js';
import { AdminService } from './domain/admin.js';
import { Admissions } from './domain/admissions.js';
import { AttachmentService } from './domain/attachments.js';
import { Authenticator } from './domain/authentication.js';
import { BlobJanitor } from './domain/blob-cleanup.js';
import { CachedAccessLookups, type CacheInvalidation } from './domain/cached-lookups.js';
import { MovableClock } from './domain/clock.js';
import { ControlLoop } from './domain/control-loop.js';
import { DirectoryService } from './domain/directory.js';
import { FaultEngine } from './domain/faults.js';
import { isZohoError } from './domain/errors.js';
import { type EffectiveLimits, NO_LIMITS, effectiveLimits, limitSettings } from './domain/limits.js';
import { LimitsAdmin } from './domain/limits-admin.js';
import { LimitsLookup } from './domain/limits-lookup.js';
import { OAuthService } from './domain/oauth.js';
import { OrphanSweeper } from './domain/orphan-sweeper.js';
import { PhotoService } from './domain/photos.js';
import type { BlobStore } from './domain/ports/blob-store.js';
import type { DomainLogger } from './domain/ports/logger.js';
import type { MetadataStore } from './domain/ports/metadata.js';
import { RecordService } from './domain/records.js';
import { type ActiveRules, WorkflowAdmin } from './domain/workflow-rules.js';
import { DiskBlobStore } from './storage/blobs/disk.js';
import { SERVER_SETTINGS, openBlobsChecked, openMetadataChecked, prepareDataDir } from './startup-check.js';
import { MemoryBlobStore } from './storage/blobs/memory.js';
import { WebhookDeliverer } from './webhooks/deliverer.js';

/** Downloads handed to nginx (X-Accel-Redirect, disk store): where nginx finds a blob, and how long it may reuse an authorization. */
export interface AccelHandOff {
  path(blobKey: string): string;
  cacheSeconds: number;
}

export interface Runtime {
  config: Config;
  log: DomainLogger;
  store: MetadataStore;
  blobs: BlobStore;
  /** Set when downloads are handed to nginx (CRM_MEDIA_ACCEL_REDIRECT on the disk store). */
  accel: AccelHandOff | undefined;
  authenticator: Authenticator;
  photos: PhotoService;
  attachments: AttachmentService;
  records: RecordService;
  admin: AdminService;
  sweeper: OrphanSweeper;
  /** Removes unreferenced bytes after responses. */
  janitor: BlobJanitor;
  /** Sends queued workflow events; started by the server, not by CLI commands. */
  webhooks: WebhookDeliverer;
  workflows: WorkflowAdmin;
  oauth: OAuthService;
  directory: DirectoryService;
  /** The clock every service reads: real time, or the movable clock (CRM_MEDIA_TEST_CLOCK). */
  now: () => number;
  /** Set when the clock can be moved (CRM_MEDIA_TEST_CLOCK). */
  clock: MovableClock | undefined;
  /** The limits that apply to each org (cached). */
  limits: LimitsLookup;
  /** Concurrency and credits: lets calls in or refuses them. */
  admissions: Admissions;
  faults: FaultEngine;
  limitsAdmin: LimitsAdmin;
  /**
   * After limits or fault rules changed through this process, once the change is committed (a reset, a seed's
   * transaction): forgets the cached limits and spare slots; resolves once the fault rules are reread.
   */
  limitsChanged(): Promise<void>;
  /** Rereads faults and the clock, renews the concurrency lease; started by the server, not by CLI commands. */
  control: ControlLoop;
  close(): Promise<void>;
}

/** The embedded store's database file in the data directory. */
export const SQLITE_FILE = 'crm-media.sqlite';

// The backends are imported when chosen: the AWS SDK and pg alone add about 15 MiB of RSS and 4 MiB of live heap
// (which every major GC marks) to a server that runs on SQLite and disk.
export async function openMetadataStore(config: Config): Promise<MetadataStore> {
  if (config.database) {
    const { openPostgresStore } = await import('./storage/metadata/postgres.js');
    return openPostgresStore({ url: config.database, poolSize: config.pgPoolSize });
  }
  const { MEMORY, openSqliteStore } = await import('./storage/metadata/sqlite.js');
  const file = config.inMemory ? MEMORY : join(config.dataDir, SQLITE_FILE);
  return openSqliteStore({ file, synchronous: config.sqliteSynchronous });
}

export async function openBlobStore(config: Config): Promise<BlobStore> {
  if (config.blobStore === 's3') {
    const { S3BlobStore } = await import('./storage/blobs/s3.js');
    return new S3BlobStore({
      bucket: config.s3Bucket!,
      endpoint: config.s3Endpoint,
      region: config.s3Region,
      forcePathStyle: config.s3ForcePathStyle,
      prefix: config.s3Prefix,
      maxConcurrentUploads: config.s3MaxConcurrentUploads,
    });
  }
  if (config.inMemory) return new MemoryBlobStore(config.memoryMaxBytes);
  return new DiskBlobStore(config.dataDir).init();
}

/** What orgs without limits of their own get (CRM_MEDIA_DEFAULT_LIMITS), checked as an org's settings are. */
function defaultLimits(config: Config): EffectiveLimits {
  if (!config.defaultLimits) return NO_LIMITS;
  try {
    return effectiveLimits(limitSettings('', limitInput(config.defaultLimits), 0));
  } catch (err) {
    if (isZohoError(err)) throw new ConfigError(`invalid configuration:\n  defaultLimits (CRM_MEDIA_DEFAULT_LIMITS): ${JSON.stringify(err.details)}`);
    throw err;
  }
}

function accelHandOff(config: Config, blobs: BlobStore): AccelHandOff | undefined {
  const prefix = config.accelRedirect;
  if (!prefix || !(blobs instanceof DiskBlobStore)) return undefined;
  return { path: (key) => `${prefix}${blobs.relativePath(key)}`, cacheSeconds: config.accelCacheSeconds };
}

export async function openRuntime(config: Config, log: DomainLogger, now: () => number = Date.now): Promise<Runtime> {
  const checks = { waitMs: config.startupWaitMs, names: SERVER_SETTINGS, log };
  // In memory, nothing is written to disk: not even an empty data directory.
  if (!config.inMemory) await prepareDataDir(config.dataDir, checks.names);
  const store = await openMetadataChecked(config, () => openMetadataStore(config), checks);
  let blobs: BlobStore;
  try {
    blobs = await openBlobsChecked(config, () => openBlobStore(config), checks);
  } catch (err) {
    await store.close();
    throw err;
  }
  const realNow = now;
  const clock = config.testClock ? new MovableClock(store.clock, realNow) : undefined;
  await clock?.refresh();
  // From here on every service reads this clock: real time, or real time plus the shared offset.
  now = clock ? clock.now : realNow;
  const limits = new LimitsLookup(store, defaultLimits(config), { ttlMs: config.tokenCacheTtlMs, maxEntries: 10_000, now });
  const faults = new FaultEngine(store.faults, { now, log });
  await faults.refresh();
  const admissions = new Admissions({ store, limits, now, realNow, instanceId: `${process.pid}-${randomBytes(6).toString('hex')}`, log });
  const authenticator = new Authenticator(store.tokens, { cacheTtlMs: config.tokenCacheTtlMs, maxEntries: 10_000, now });
  const access = new CachedAccessLookups(store, { ttlMs: config.tokenCacheTtlMs, maxEntries: 10_000, now });
  const caches: CacheInvalidation = {
    invalidate() {
      authenticator.invalidate();
      access.invalidate();
    },
  };
  // Limits and fault rules changed through this process apply here at once.
  const limitsChanged = (): Promise<void> => {
    limits.invalidate();
    admissions.reset();
    return faults.refresh();
  };
  const limitChanges: CacheInvalidation = {
    invalidate() {
      limitsChanged().catch((err: unknown) => log.warn({ err }, 'fault rules could not be reread; the next control poll will'));
    },
  };
  const accel = accelHandOff(config, blobs);
  // Behind nginx, a hand-off (or a reused authorization) may name a retired file for up to the cache's lifetime,
  // which nginx counts in whole seconds, plus a second of margin for the hand-off itself.
  const janitor = new BlobJanitor(blobs, log, () => store.durable(), accel ? (accel.cacheSeconds + 2) * 1000 : 0);
  const records = new RecordService({ store, access, janitor, now });
  const webhooks = new WebhookDeliverer(store, {
    pollMs: config.webhookPollMs,
    timeoutMs: config.webhookTimeoutMs,
    maxAttempts: config.webhookMaxAttempts,
    retryBaseMs: config.webhookRetryBaseMs,
    retryMaxMs: config.webhookRetryMaxMs,
    batch: 16,
    now,
    log,
  });
  const workflowEventsQueued = () => webhooks.kick();
  const activeRules: ActiveRules = (source, orgId, module, event) => access.activeRules(source, orgId, module, event);
  const limitsAdmin = new LimitsAdmin({ store, lookup: limits, clock, caches: limitChanges, now, ahead: admissions });
  const runtime: Runtime = {
    config,
    log,
    store,
    blobs,
    accel,
    authenticator,
    photos: new PhotoService({
      store,
      access,
      blobs,
      rules: activeRules,
      limits: { maxBytes: config.photoMaxBytes, maxPixels: config.photoMaxPixels, contentHash: config.contentHash === 'sha256' },
      orgLimits: limits,
      now,
      janitor,
      workflowEventsQueued,
    }),
    attachments: new AttachmentService({
      store,
      access,
      blobs,
      rules: activeRules,
      limits: { maxBytes: config.attachmentMaxBytes, contentHash: config.contentHash === 'sha256' },
      orgLimits: limits,
      now,
      janitor,
      workflowEventsQueued,
    }),
    records,
    admin: new AdminService({ store, blobs, records, caches, now, log, limits: limitsAdmin }),
    sweeper: new OrphanSweeper(store.maintenance, blobs, {
      graceMs: config.sweepGraceMs,
      writeWindowMs: config.requestTimeoutMs,
      now,
      log,
      keep: (key) => janitor.isHeld(key),
    }),
    webhooks,
    janitor,
    workflows: new WorkflowAdmin(store, caches, now),
    oauth: new OAuthService({ store, caches, orgLimits: limits, now, accessTokenLifetimeS: config.accessTokenLifetimeS }),
    directory: new DirectoryService(store.directory),
    now,
    clock,
    limits,
    admissions,
    faults,
    limitsAdmin,
    limitsChanged,
    control: new ControlLoop({ faults, clock, admissions, pollMs: config.controlPollMs, log }),
    async close() {
      await runtime.control.stop();
      await admissions.close();
      await runtime.sweeper.stop();
      await webhooks.stop();
      await janitor.close();
      await blobs.close();
      await store.close();
    },
  };
  return runtime;
}
