/** Store maintenance: `migrate-store` (copy everything into another pair of stores) and `sweep` (orphan blobs now). */
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { migrateStore } from '../admin/migrate-store.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { silentLogger } from '../domain/ports/logger.js';
import { openBlobStore, openMetadataStore } from '../runtime.js';
import { DataDirInUseError, type DataDirLock, lockDataDir } from '../storage/data-dir-lock.js';
import { type SettingNames, openBlobsChecked, openMetadataChecked } from '../startup-check.js';
import { CliError, print, storeFlags, withRuntime } from './shared.js';

/** The source is named by the root options, the target by this command's. */
const SOURCE_SETTINGS: SettingNames = {
  database: '--database / DATABASE_URL',
  dataDir: '--data / CRM_MEDIA_DATA',
  s3Bucket: '--s3-bucket',
  s3Endpoint: '--s3-endpoint',
  s3Region: '--s3-region',
};
const TARGET_SETTINGS: SettingNames = {
  database: '--to-database',
  dataDir: '--to-data',
  s3Bucket: '--to-s3-bucket',
  s3Endpoint: '--to-s3-endpoint',
  s3Region: '--to-s3-region',
};

interface MigrateFlags {
  toDatabase: string;
  toBlobStore: string;
  toData?: string;
  toS3Bucket?: string;
  toS3Endpoint?: string;
  toS3Region?: string;
  toS3ForcePathStyle?: boolean;
  toS3Prefix?: string;
  skipDamaged?: boolean;
  allowRunningSource?: boolean;
}

export function registerMaintenanceCommands(program: Command): void {
  program
    .command('migrate-store')
    .description(
      'copy all metadata and blobs from this store (e.g. SQLite + disk) into an empty target (e.g. PostgreSQL + S3), verifying every blob by size and SHA-256; all or nothing',
    )
    .requiredOption('--to-database <url>', 'target postgres:// URL (an empty database)')
    .addOption(new Option('--to-blob-store <kind>', 'target blob store').choices(['disk', 's3']).default('s3'))
    .option('--to-data <dir>', 'target data directory (for a disk target)')
    .option('--to-s3-bucket <name>')
    .option('--to-s3-endpoint <url>')
    .option('--to-s3-region <region>')
    .option('--to-s3-force-path-style', 'path-style bucket addressing')
    .option('--to-s3-prefix <prefix>')
    .option('--skip-damaged', 'migrate everything else when some blobs are missing or damaged, and list what was left out')
    .option('--allow-running-source', 'copy a snapshot of a source a server is still writing (what changes during the copy is not copied)')
    .action(async (o: MigrateFlags) => {
      const sourceConfig = loadConfig({ ...storeFlags(program), startupWaitMs: 0 });
      const targetConfig = targetConfigOf(o, sourceConfig);
      const lock = await holdSource(sourceConfig, o.allowRunningSource === true);
      const interrupted = new AbortController();
      const onSignal = () => interrupted.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const opened: { close(): Promise<void> }[] = [];
      try {
        // Both ends are opened and checked (the target's bucket read and written) before anything is copied.
        const checks = (names: SettingNames) => ({ waitMs: 0, names, log: silentLogger });
        const sourceStore = await openMetadataChecked(sourceConfig, () => openMetadataStore(sourceConfig), checks(SOURCE_SETTINGS));
        opened.push(sourceStore);
        const sourceBlobs = await openBlobsChecked(sourceConfig, () => openBlobStore(sourceConfig), { ...checks(SOURCE_SETTINGS), readOnly: true });
        opened.push(sourceBlobs);
        const targetStore = await openMetadataChecked(targetConfig, () => openMetadataStore(targetConfig), checks(TARGET_SETTINGS));
        opened.push(targetStore);
        const targetBlobs = await openBlobsChecked(targetConfig, () => openBlobStore(targetConfig), checks(TARGET_SETTINGS));
        opened.push(targetBlobs);
        const source = { store: sourceStore, blobs: sourceBlobs };
        const target = { store: targetStore, blobs: targetBlobs };
        const report = await migrateStore(source, target, {
          skipDamaged: o.skipDamaged === true,
          signal: interrupted.signal,
          progress: (r) => process.stderr.write(`  copied ${r.records} records, ${r.blobs} blobs (${r.bytes} bytes)\n`),
        });
        print(report);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        for (const s of opened.reverse()) await s.close().catch(() => {});
        lock?.release();
      }
    });

  program
    .command('sweep')
    .description('remove blobs no record references (older than the grace period) now')
    .action(() => withRuntime(program, async (rt) => rt.sweeper.sweep()));
}

function targetConfigOf(o: MigrateFlags, source: Config): Config {
  if (o.toBlobStore === 's3' && !o.toS3Bucket) throw new CliError('the target bucket is missing: --to-s3-bucket <name> (or --to-blob-store disk --to-data <dir>)');
  if (o.toBlobStore === 'disk') {
    if (!o.toData) throw new CliError('a disk target needs its own data directory: --to-data <dir>');
    if (resolve(o.toData) === source.dataDir) throw new CliError('--to-data is the source data directory; the target needs a directory of its own');
  }
  const target = targetLoad(
    {
      dataDir: o.toData ?? source.dataDir,
      database: o.toDatabase,
      blobStore: o.toBlobStore,
      s3Bucket: o.toS3Bucket,
      s3Endpoint: o.toS3Endpoint,
      s3Region: o.toS3Region,
      s3ForcePathStyle: o.toS3ForcePathStyle,
      s3Prefix: o.toS3Prefix,
      startupWaitMs: 0,
    },
  );
  if (source.database === target.database) {
    throw new CliError('source and target are the same database (is DATABASE_URL set for the source?)');
  }
  return target;
}

/** The target's settings, validated as a server's are, but a mistake named by this command's flag. */
function targetLoad(flags: Parameters<typeof loadConfig>[0]): Config {
  try {
    return loadConfig(flags, {});
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const flagOf: Partial<Record<keyof Config, string>> = {
      database: '--to-database',
      dataDir: '--to-data',
      blobStore: '--to-blob-store',
      s3Bucket: '--to-s3-bucket',
      s3Endpoint: '--to-s3-endpoint',
      s3Region: '--to-s3-region',
      s3Prefix: '--to-s3-prefix',
      s3ForcePathStyle: '--to-s3-force-path-style',
    };
    const problems = err.problems.map((p) => `${flagOf[p.setting] ?? p.setting}: ${p.message}`);
    throw new CliError(`the target is not valid: ${problems.join('; ')}`);
  }
}

/**
 * The embedded source is held for the whole copy, so that no server starts on it meanwhile; a server already running
 * there is refused, unless the operator knowingly copies a snapshot of it.
 */
async function holdSource(source: Config, allowRunning: boolean): Promise<DataDirLock | undefined> {
  if (source.database) return undefined;
  try {
    return await lockDataDir(source.dataDir, 'migrate-store', 'wait for it to finish');
  } catch (err) {
    if (!(err instanceof DataDirInUseError)) throw err;
    if (allowRunning) return undefined;
    throw new CliError(
      `${err.message.split(';')[0]}: stop it first, so that nothing changes during the copy, or pass --allow-running-source to copy a snapshot of the source as it is now (uploads during the copy are not copied)`,
    );
  }
}
