/**
 * What every subcommand shares: the store options of the root command, opening the runtime for one command, the
 * default org, and how results and errors are printed.
 */
import { type Command, Option } from 'commander';
import { type ConfigInput, loadConfig } from '../config.js';
import { silentLogger } from '../domain/ports/logger.js';
import { type Runtime, openRuntime } from '../runtime.js';

/** A mistake of the command line, printed as one line. */
export class CliError extends Error {}

interface StoreFlags {
  data?: string;
  database?: string;
  pgPoolSize?: string;
  blobStore?: string;
  s3Bucket?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3ForcePathStyle?: boolean | string;
  s3Prefix?: string;
}

/** The options every subcommand accepts before its name (`crm-media --data DIR org list`). */
export function addStoreOptions(program: Command): Command {
  return program
    .addOption(new Option('--data <dir>', 'data directory (SQLite file and blobs)').env('CRM_MEDIA_DATA'))
    .addOption(new Option('--database <url>', 'postgres://… to keep metadata in PostgreSQL').env('DATABASE_URL'))
    .addOption(new Option('--pg-pool-size <n>', 'PostgreSQL connections per process').env('CRM_MEDIA_PG_POOL_SIZE'))
    .addOption(new Option('--blob-store <kind>', 'where bytes live').choices(['disk', 's3']).env('CRM_MEDIA_BLOB_STORE'))
    .addOption(new Option('--s3-bucket <name>').env('CRM_MEDIA_S3_BUCKET'))
    .addOption(new Option('--s3-endpoint <url>', 'for S3-compatible servers (MinIO, Ceph, R2, …)').env('CRM_MEDIA_S3_ENDPOINT'))
    .addOption(new Option('--s3-region <region>').env('CRM_MEDIA_S3_REGION'))
    .addOption(new Option('--s3-force-path-style', 'path-style bucket addressing').env('CRM_MEDIA_S3_FORCE_PATH_STYLE'))
    .addOption(new Option('--s3-prefix <prefix>', 'key prefix inside the bucket').env('CRM_MEDIA_S3_PREFIX'));
}

export function storeFlags(program: Command): ConfigInput {
  const o = program.opts<StoreFlags>();
  return {
    dataDir: o.data,
    database: o.database,
    pgPoolSize: o.pgPoolSize,
    blobStore: o.blobStore,
    s3Bucket: o.s3Bucket,
    s3Endpoint: o.s3Endpoint,
    s3Region: o.s3Region,
    s3ForcePathStyle: o.s3ForcePathStyle,
    s3Prefix: o.s3Prefix,
  };
}

export function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Opens the stores the root options name, runs `fn`, prints what it returns, closes them. */
export async function withRuntime(program: Command, fn: (rt: Runtime) => Promise<unknown>): Promise<void> {
  // A command beside a server answers at once: it does not wait for a backend that is not up.
  const config = loadConfig({ ...storeFlags(program), startupWaitMs: 0 });
  const rt = await openRuntime(config, silentLogger);
  try {
    const result = await fn(rt);
    await rt.store.durable();
    if (result !== undefined) print(result);
  } finally {
    await rt.close();
  }
}

export async function orgOf(rt: Runtime, org: string | undefined): Promise<string> {
  if (org) return org;
  const first = (await rt.admin.listOrgs())[0];
  if (!first) throw new CliError('there is no org yet: start the server once, or run `crm-media org create`');
  return first.id;
}

export const orgOption = () => new Option('--org <id>', 'org id (default: the first org)');
