/** Store maintenance: `migrate-store` (copy everything into another pair of stores) and `sweep` (orphan blobs now). */
import { type Command, Option } from 'commander';
import { migrateStore } from '../admin/migrate-store.js';
import { loadConfig } from '../config.js';
import { openBlobStore, openMetadataStore } from '../runtime.js';
import { CliError, print, storeFlags, withRuntime } from './shared.js';

export function registerMaintenanceCommands(program: Command): void {
  program
    .command('migrate-store')
    .description('copy all metadata and blobs from this store (e.g. SQLite + disk) into an empty target (e.g. PostgreSQL + S3), verifying every blob by SHA-256')
    .requiredOption('--to-database <url>', 'target postgres:// URL (an empty database)')
    .addOption(new Option('--to-blob-store <kind>', 'target blob store').choices(['disk', 's3']).default('s3'))
    .option('--to-data <dir>', 'target data directory (for a disk target)')
    .option('--to-s3-bucket <name>')
    .option('--to-s3-endpoint <url>')
    .option('--to-s3-region <region>')
    .option('--to-s3-force-path-style', 'path-style bucket addressing')
    .option('--to-s3-prefix <prefix>')
    .action(
      async (o: {
        toDatabase: string;
        toBlobStore: string;
        toData?: string;
        toS3Bucket?: string;
        toS3Endpoint?: string;
        toS3Region?: string;
        toS3ForcePathStyle?: boolean;
        toS3Prefix?: string;
      }) => {
        const sourceConfig = loadConfig(storeFlags(program));
        const targetConfig = loadConfig(
          {
            dataDir: o.toData ?? sourceConfig.dataDir,
            database: o.toDatabase,
            blobStore: o.toBlobStore,
            s3Bucket: o.toS3Bucket,
            s3Endpoint: o.toS3Endpoint,
            s3Region: o.toS3Region,
            s3ForcePathStyle: o.toS3ForcePathStyle,
            s3Prefix: o.toS3Prefix,
          },
          {},
        );
        if (sourceConfig.database === targetConfig.database) {
          throw new CliError('source and target are the same database (is DATABASE_URL set for the source?)');
        }
        const source = { store: await openMetadataStore(sourceConfig), blobs: await openBlobStore(sourceConfig) };
        const target = { store: await openMetadataStore(targetConfig), blobs: await openBlobStore(targetConfig) };
        try {
          const report = await migrateStore(source, target, (r) =>
            process.stderr.write(`  copied ${r.records} records, ${r.blobs} blobs (${r.bytes} bytes)\n`),
          );
          print(report);
        } finally {
          for (const s of [source, target]) {
            await s.blobs.close();
            await s.store.close();
          }
        }
      },
    );

  program
    .command('sweep')
    .description('remove blobs no record references (older than the grace period) now')
    .action(() => withRuntime(program, async (rt) => rt.sweeper.sweep()));
}
