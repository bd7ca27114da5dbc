#!/usr/bin/env -S node --no-memory-reducer --max-semi-space-size=32 --initial-old-space-size=96
/**
 * `crm-media`: `serve` (the default) runs the server; the other subcommands administer the same data directly
 * through the same AdminService the admin HTTP API uses (they work with the server running or not).
 */
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { MigrationError } from './admin/migrate-store.js';
import { SeedError } from './admin/seed.js';
import { registerAdminCommands } from './cli/admin-commands.js';
import { registerMaintenanceCommands } from './cli/maintenance-commands.js';
import { registerServe } from './cli/serve.js';
import { CliError, addStoreOptions, markRequiredOptions } from './cli/shared.js';
import { ConfigError } from './config.js';
import { type ZohoError, isZohoError } from './domain/errors.js';
import { ListenError } from './server/start.js';

// package.json is one folder up from both src/cli.ts and dist/cli.js.
const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const program = addStoreOptions(
  new Command().name('crm-media').description("A self-hostable server for Zoho CRM's record photo and attachment API").version(version),
).showHelpAfterError();
registerServe(program);
registerAdminCommands(program);
registerMaintenanceCommands(program);
markRequiredOptions(program);

/** The Zoho body of an admin error; "no such entity" names the entity and the key it looked for. */
function errorBody(err: ZohoError): object {
  const body = err.toBody();
  const { entity, key } = body.details as { entity?: unknown; key?: unknown };
  if (err.entry === 'ADMIN_NOT_FOUND' && typeof entity === 'string') return { ...body, message: `no such ${entity}: ${String(key)}` };
  return body;
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (isZohoError(err)) {
    process.stderr.write(`${JSON.stringify(errorBody(err))}\n`);
  } else if (
    err instanceof ConfigError ||
    err instanceof CliError ||
    err instanceof SeedError ||
    err instanceof MigrationError ||
    err instanceof ListenError ||
    err instanceof SyntaxError
  ) {
    process.stderr.write(`crm-media: ${err.message}\n`);
  } else {
    process.stderr.write(`crm-media: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
});
