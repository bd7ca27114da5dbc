/**
 * `backup`, `restore` and `verify-backup`: consistent copies of the embedded store (SQLite + disk), taken while a
 * server runs, and brought back into an empty data directory (admin/backup.ts). PostgreSQL + S3 is backed up with
 * the database's and the bucket's own tools (docs/deployment.md).
 */
import type { Command } from 'commander';
import { backup, restore, verifyBackup } from '../admin/backup.js';
import { type Config, loadConfig } from '../config.js';
import { CliError, print, storeFlags } from './shared.js';

function embedded(program: Command, what: string): Config {
  const config = loadConfig({ ...storeFlags(program), startupWaitMs: 0 });
  if (config.database || config.blobStore !== 'disk') {
    throw new CliError(`${what} works on the embedded store (SQLite + disk); for PostgreSQL + S3, use pg_dump and bucket versioning (docs/deployment.md, "Backup and restore")`);
  }
  return config;
}

export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('copy the store (metadata and every blob it references, nothing half-written) into a new directory; the server may keep running')
    .requiredOption('--to <dir>', 'a new, empty directory')
    .action(async (o: { to: string }) => {
      const config = embedded(program, 'backup');
      const manifest = await backup(config.dataDir, o.to, {
        progress: (e) => {
          if (e.phase === 'blobs') process.stderr.write(`  snapshot ${e.round}: copied ${e.copied} blobs (${e.bytes} bytes)\n`);
        },
      });
      for (const d of manifest.damaged) process.stderr.write(`  warning: ${d.ref}: ${d.problem} (in the store itself; copied as it is)\n`);
      print(manifest);
    });

  program
    .command('restore')
    .description('bring a backup back into the data directory (empty, and no server running on it), after verifying every hash')
    .requiredOption('--from <dir>', 'a directory made by `crm-media backup`')
    .option('--force', 'restore into a data directory that holds a store (its database is kept aside, not deleted)')
    .action(async (o: { from: string; force?: boolean }) => {
      const config = embedded(program, 'restore');
      print(await restore(o.from, config.dataDir, { force: o.force === true }));
    });

  program
    .command('verify-backup <dir>')
    .description('check a backup: its manifest, and the SHA-256 of the database copy and of every blob')
    .action(async (dir: string) => {
      const { manifest } = await verifyBackup(dir);
      print({ ok: true, snapshotAt: manifest.snapshotAt, blobs: manifest.blobs.count, bytes: manifest.blobs.bytes });
    });
}
