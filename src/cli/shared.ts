/**
 * What every subcommand shares: the store options of the root command, opening the runtime for one command, the
 * default org, and how results and errors are printed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { type ConfigInput, loadConfig } from '../config.js';
import { silentLogger } from '../domain/ports/logger.js';
import { SQLITE_FILE, type Runtime, openRuntime } from '../runtime.js';

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

/**
 * The options given on the command line itself. Those commander took from the environment are left to config.ts,
 * which reads the same variables, so that an error names where a value came from.
 */
export function givenOnCommandLine<T extends object>(command: Command): Partial<T> {
  const given: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(command.opts())) {
    if (command.getOptionValueSource(key) === 'cli') given[key] = value;
  }
  return given as Partial<T>;
}

export function storeFlags(program: Command): ConfigInput {
  const o = givenOnCommandLine<StoreFlags>(program);
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

/**
 * Opens the stores the root options name, runs `fn`, prints what it returns, closes them. An embedded store that
 * does not exist yet is an error naming the folder looked in, unless the command may create one (`seed`), which then
 * says so: a command run in the wrong folder must not leave a new, empty `./data` behind.
 */
export async function withRuntime(program: Command, fn: (rt: Runtime) => Promise<unknown>, opts: { create?: boolean } = {}): Promise<void> {
  // A command beside a server answers at once: it does not wait for a backend that is not up.
  const config = loadConfig({ ...storeFlags(program), startupWaitMs: 0 });
  if (!config.database && !existsSync(join(config.dataDir, SQLITE_FILE))) {
    if (!opts.create) {
      throw new CliError(
        `no data in ${config.dataDir}: start the server there once (crm-media serve), or name the data directory with --data DIR (or CRM_MEDIA_DATA)`,
      );
    }
    process.stderr.write(`crm-media: creating a new data directory: ${config.dataDir}\n`);
  }
  const rt = await openRuntime(config, silentLogger);
  try {
    const result = await fn(rt);
    await rt.store.durable();
    if (result !== undefined) print(result);
  } finally {
    await rt.close();
  }
}

/** The org named by `--org` (its id, or its name in any case), or the first org. */
export async function orgOf(rt: Runtime, org: string | undefined): Promise<string> {
  const orgs = await rt.admin.listOrgs();
  if (!org) {
    const first = orgs[0];
    if (!first) throw new CliError('there is no org yet: start the server once, or run `crm-media org create`');
    return first.id;
  }
  const byId = orgs.find((o) => o.id === org);
  if (byId) return byId.id;
  const byName = orgs.filter((o) => o.name.toLowerCase() === org.toLowerCase());
  if (byName.length === 1) return byName[0]!.id;
  const known = orgs.map((o) => `${o.name} (${o.id})`).join(', ') || 'none yet';
  if (byName.length > 1) throw new CliError(`several orgs are named "${org}": give its id with --org (orgs: ${known})`);
  throw new CliError(`no org with id or name "${org}" (orgs: ${known})`);
}

export const orgOption = () => new Option('--org <id or name>', 'org id or name (default: the first org)');

/** Marks every mandatory option "(required)" in the help of every command (commander does not). */
export function markRequiredOptions(command: Command): void {
  for (const option of command.options) {
    if (option.mandatory && !option.description.endsWith('(required)')) {
      option.description = option.description ? `${option.description} (required)` : '(required)';
    }
  }
  for (const sub of command.commands) markRequiredOptions(sub);
}
