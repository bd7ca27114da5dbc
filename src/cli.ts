#!/usr/bin/env -S node --no-memory-reducer --max-semi-space-size=32 --initial-old-space-size=96
/**
 * `crm-media`: `serve` (the default) runs the server; the other subcommands administer the same data directly
 * through the same AdminService the admin HTTP API uses (they work with the server running or not).
 */
import { Command } from 'commander';
import { MigrationError } from './admin/migrate-store.js';
import { SeedError } from './admin/seed.js';
import { registerAdminCommands } from './cli/admin-commands.js';
import { registerLimitsCommands } from './cli/limits-commands.js';
import { registerMaintenanceCommands } from './cli/maintenance-commands.js';
import { registerServe } from './cli/serve.js';
import { CliError, addStoreOptions } from './cli/shared.js';
import { ConfigError } from './config.js';
import { isZohoError } from './domain/errors.js';

const program = addStoreOptions(
  new Command().name('crm-media').description("A self-hostable server for Zoho CRM's record photo and attachment API").version('0.1.0'),
).showHelpAfterError();
registerServe(program);
registerAdminCommands(program);
registerMaintenanceCommands(program);
registerLimitsCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (isZohoError(err)) {
    process.stderr.write(`${JSON.stringify(err.toBody())}\n`);
  } else if (err instanceof ConfigError || err instanceof CliError || err instanceof SeedError || err instanceof MigrationError || err instanceof SyntaxError) {
    process.stderr.write(`crm-media: ${err.message}\n`);
  } else {
    process.stderr.write(`crm-media: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
});
