#!/usr/bin/env -S node --no-memory-reducer --max-semi-space-size=32 --initial-old-space-size=96
/**
 * `crm-media`: `serve` (the default) runs the server; the other subcommands administer the same data directly
 * through the same AdminService the admin HTTP API uses (they work with the server running or not).
 */
import { Command } from 'commander';
import { registerAdminCommands } from './cli/admin-commands.js';
import { registerBackupCommands } from './cli/backup-commands.js';
import { registerJournalCommands } from './cli/journal-commands.js';
import { registerLimitsCommands } from './cli/limits-commands.js';
import { registerMaintenanceCommands } from './cli/maintenance-commands.js';
import { registerServe } from './cli/serve.js';
import { cliErrorText } from './cli/errors.js';
import { addStoreOptions, markRequiredOptions } from './cli/shared.js';
import { packageRoot } from './package-root.js';

// Read at run time rather than compiled in, so that a build never reports a stale version.
const version = packageRoot()?.version ?? 'unknown';

const program = addStoreOptions(
  new Command().name('crm-media').description("A self-hostable server for Zoho CRM's record photo and attachment API").version(version),
).showHelpAfterError();
registerServe(program);
registerAdminCommands(program);
registerMaintenanceCommands(program);
registerBackupCommands(program);
registerJournalCommands(program);
registerLimitsCommands(program);
markRequiredOptions(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`${cliErrorText(err)}\n`);
  process.exit(1);
});
