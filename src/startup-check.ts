/**
 * Opening the stores at start, checked: the database is connected (and migrated), the blob store is reached and a
 * one-byte blob written and removed, so that a misconfigured backend is found before the first request instead of
 * answering the first upload with INTERNAL_ERROR. A failure becomes one line that names the setting to look at.
 *
 * Failures a backend that is still coming up would give (connection refused, host not yet in DNS, PostgreSQL
 * starting, a bucket a set-up job has not made yet) are retried for up to `waitMs`, because compose and Kubernetes
 * start an application and its database together; failures that waiting cannot cure (a refused password, denied
 * credentials, a wrong region, a damaged SQLite file) end the start at once. docs/deployment.md argues the choice.
 */
import { mkdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from './config.js';
import type { BlobStore } from './domain/ports/blob-store.js';
import type { DomainLogger } from './domain/ports/logger.js';
import type { MetadataStore } from './domain/ports/metadata.js';
import { redactSecrets } from './logging/redact.js';

/** A backend could not be used; the message is one line naming the setting. */
export class BackendUnavailableError extends Error {}

/** What the settings are called where these stores were configured (environment of `serve`, flags of `migrate-store`). */
export interface SettingNames {
  database: string;
  dataDir: string;
  s3Bucket: string;
  s3Endpoint: string;
  s3Region: string;
}

export const SERVER_SETTINGS: SettingNames = {
  database: 'DATABASE_URL',
  dataDir: 'CRM_MEDIA_DATA',
  s3Bucket: 'CRM_MEDIA_S3_BUCKET',
  s3Endpoint: 'CRM_MEDIA_S3_ENDPOINT',
  s3Region: 'CRM_MEDIA_S3_REGION',
};

export interface CheckOptions {
  /** How long failures that waiting may cure are retried (0: not at all). */
  waitMs: number;
  names: SettingNames;
  log: DomainLogger;
}

export interface Diagnosis {
  message: string;
  /** Waiting may cure it (the backend is coming up). */
  transient: boolean;
}

type StoreSettings = Pick<Config, 'database' | 'dataDir' | 'blobStore' | 's3Bucket' | 's3Endpoint' | 's3Region'>;

/** Makes the data directory (the SQLite file, blobs, the admin key live there), or says in one line why it cannot. */
export async function prepareDataDir(dataDir: string, names: SettingNames): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (err) {
    throw new BackendUnavailableError(diskDiagnosis(err, dataDir, names).message);
  }
}

/** Opens the metadata store, retrying what waiting may cure. */
export function openMetadataChecked(config: StoreSettings, open: () => Promise<MetadataStore>, opts: CheckOptions): Promise<MetadataStore> {
  return retrying(open, (err) => (config.database ? postgresDiagnosis(err, config.database, opts.names) : sqliteDiagnosis(err, config.dataDir, opts.names)), opts);
}

/**
 * Opens the blob store and proves it can be read and (unless `readOnly`: a store that is only to be read is not
 * written, not even a byte) written, retrying what waiting may cure.
 */
export async function openBlobsChecked(config: StoreSettings, open: () => Promise<BlobStore>, opts: CheckOptions & { readOnly?: boolean }): Promise<BlobStore> {
  const diagnose = (err: unknown) => (config.blobStore === 's3' ? s3Diagnosis(err, config, opts.names) : diskDiagnosis(err, config.dataDir, opts.names));
  const blobs = await retrying(open, diagnose, opts);
  try {
    await retrying(() => (opts.readOnly ? blobs.check() : probe(blobs)), diagnose, opts);
  } catch (err) {
    await blobs.close().catch(() => {});
    throw err;
  }
  return blobs;
}

/** Reads (readiness check), then writes and removes one byte: read-only credentials or a read-only disk show here. */
async function probe(blobs: BlobStore): Promise<void> {
  await blobs.check();
  const { key } = await blobs.put(Readable.from([Buffer.from('1')]));
  // A removal that fails leaves one unreferenced byte for the orphan sweeper.
  await blobs.delete(key);
}

async function retrying<T>(attempt: () => Promise<T>, diagnose: (err: unknown) => Diagnosis, opts: CheckOptions): Promise<T> {
  const deadline = Date.now() + opts.waitMs;
  let pause = 250;
  // Bounded by the deadline: every round either returns, throws, or sleeps towards it.
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      const d = diagnose(err);
      const left = deadline - Date.now();
      if (!d.transient || left <= 0) throw new BackendUnavailableError(d.message);
      opts.log.warn({ retryInMs: Math.min(pause, left) }, `${d.message}; waiting up to ${Math.ceil(left / 1000)} s more`);
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, 5_000);
    }
  }
}

interface ErrorFacts {
  code: string | undefined;
  name: string | undefined;
  message: string;
  status: number | undefined;
}

function factsOf(err: unknown): ErrorFacts {
  const e = err as { code?: unknown; name?: unknown; message?: unknown; errors?: unknown[]; cause?: unknown; $metadata?: { httpStatusCode?: number } };
  // Node reports a connection to a name with several addresses as an AggregateError; pg-pool wraps its timeout.
  const inner = (Array.isArray(e?.errors) && e.errors[0]) || (e?.code === undefined && e?.cause) || undefined;
  const code = typeof e?.code === 'string' ? e.code : inner ? factsOf(inner).code : undefined;
  return {
    code,
    name: typeof e?.name === 'string' ? e.name : undefined,
    message: redactSecrets(typeof e?.message === 'string' && e.message !== '' ? e.message : String(err)),
    status: e?.$metadata?.httpStatusCode,
  };
}

const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'no answer (timed out)',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
};

function networkProblem(f: ErrorFacts): string | undefined {
  if (f.code && NETWORK[f.code]) return NETWORK[f.code];
  if (f.name === 'TimeoutError' || /timeout expired|connection timeout|timed out/i.test(f.message)) return 'no answer (timed out)';
  if (/Connection terminated unexpectedly/i.test(f.message)) return 'connection closed';
  return undefined;
}

export function postgresDiagnosis(err: unknown, url: string, names: SettingNames): Diagnosis {
  let where = 'PostgreSQL';
  let user = '';
  let database = '';
  try {
    const u = new URL(url);
    where = `PostgreSQL at ${u.hostname || 'localhost'}:${u.port || '5432'}`;
    user = decodeURIComponent(u.username);
    database = decodeURIComponent(u.pathname.slice(1));
  } catch {
    return { message: `${names.database} is not a valid postgres:// URL`, transient: false };
  }
  const f = factsOf(err);
  const network = networkProblem(f);
  if (network) return { message: `cannot reach ${where} (${names.database}): ${network}`, transient: true };
  switch (f.code) {
    case '57P03':
      return { message: `${where} is starting up (${names.database})`, transient: true };
    case '53300':
      return { message: `${where} has no free connection slots (${names.database}; max_connections)`, transient: true };
    case '28P01':
      return { message: `${where} refused the password of user "${user}" (${names.database})`, transient: false };
    case '28000':
      return { message: `${where} refused user "${user}" (${names.database}): ${f.message}`, transient: false };
    case '3D000':
      return { message: `the database "${database}" does not exist on ${where} (${names.database})`, transient: false };
    case '42501':
      return { message: `user "${user}" may not create or change the tables in "${database}" on ${where} (${names.database}): ${f.message}`, transient: false };
    default:
      return { message: `cannot use ${where} (${names.database}): ${f.message}`, transient: false };
  }
}

function sqliteDiagnosis(err: unknown, dataDir: string, names: SettingNames): Diagnosis {
  const f = factsOf(err);
  if (f.code === 'SQLITE_BUSY') return { message: `the SQLite database in ${dataDir} is locked by another process (${names.dataDir})`, transient: true };
  if (f.code === 'SQLITE_NOTADB' || f.code === 'SQLITE_CORRUPT') {
    return { message: `${dataDir}/crm-media.sqlite is not a SQLite database or is damaged (${names.dataDir}): restore it from a backup`, transient: false };
  }
  return diskDiagnosis(err, dataDir, names);
}

const DISK: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a path component is not a directory',
  SQLITE_CANTOPEN: 'cannot open the database file',
  SQLITE_READONLY: 'the database file is read-only',
  SQLITE_FULL: 'no space left on the device',
  SQLITE_IOERR: 'input/output error',
};

function diskDiagnosis(err: unknown, dataDir: string, names: SettingNames): Diagnosis {
  const f = factsOf(err);
  const problem = (f.code && (DISK[f.code] ?? DISK[f.code.split('_').slice(0, 2).join('_')])) || f.message;
  return { message: `cannot use the data directory ${dataDir} (${names.dataDir}): ${problem}`, transient: false };
}

const DENIED = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'AllAccessDisabled', 'InvalidToken', 'ExpiredToken']);

export function s3Diagnosis(err: unknown, config: StoreSettings, names: SettingNames): Diagnosis {
  const bucket = `"${config.s3Bucket ?? ''}"`;
  const where = config.s3Endpoint ? `the S3 endpoint ${redactSecrets(config.s3Endpoint)}` : `AWS S3 in ${config.s3Region}`;
  const endpointSetting = config.s3Endpoint ? names.s3Endpoint : `${names.s3Endpoint} is not set, so AWS S3 itself is used`;
  const f = factsOf(err);
  const network = networkProblem(f);
  if (network) return { message: `cannot reach ${where} (${endpointSetting}): ${network}`, transient: true };
  if (f.name === 'CredentialsProviderError') {
    return { message: 'no S3 credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or give the instance a role', transient: false };
  }
  const code = f.name ?? f.code ?? '';
  if (f.status === 404 || code === 'NoSuchBucket' || code === 'NotFound') {
    return { message: `the bucket ${bucket} does not exist at ${where} (${names.s3Bucket})`, transient: true };
  }
  if (f.status === 403 || DENIED.has(code)) {
    return {
      message: `${where} denied access to the bucket ${bucket} (${code || 'HTTP 403'}): check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profile or role) and the bucket's policy`,
      transient: false,
    };
  }
  if (f.status === 301 || code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || code === 'IllegalLocationConstraintException') {
    return { message: `the bucket ${bucket} is not in ${names.s3Region} (${config.s3Region}) at ${where}`, transient: false };
  }
  if (f.status !== undefined && f.status >= 500) return { message: `${where} answered HTTP ${f.status} for the bucket ${bucket}`, transient: true };
  return { message: `cannot use the bucket ${bucket} at ${where}: ${code ? `${code}: ` : ''}${f.message}`, transient: false };
}
