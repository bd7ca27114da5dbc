/** `crm-media serve` (the default command): starts the server and stops it gracefully on SIGINT/SIGTERM. */
import { type Command, Option } from 'commander';
import { welcomeText } from '../admin/bootstrap.js';
import { type Config, DEFAULTS, loadConfig } from '../config.js';
import { createLogger, startServer } from '../server/start.js';
import { storeFlags } from './shared.js';

export function registerServe(program: Command): void {
  program
    .command('serve', { isDefault: true })
    .description('start the server (the default command)')
    // Defaults live in config.ts only: a commander default would count as a flag and hide PORT.
    .addOption(new Option('--port <port>', `port to listen on (default ${DEFAULTS.port}; also PORT)`).env('CRM_MEDIA_PORT'))
    .addOption(new Option('--host <host>', `address to listen on (default ${DEFAULTS.host})`).env('CRM_MEDIA_HOST'))
    .addOption(new Option('--seed <file>', 'seed the store from a JSON file at start').env('CRM_MEDIA_SEED'))
    .addOption(new Option('--admin-key <key>', 'admin API key (default: generated into <data>/admin.key)').env('CRM_MEDIA_ADMIN_KEY'))
    .addOption(new Option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent').env('CRM_MEDIA_LOG_LEVEL'))
    .addOption(
      new Option('--admin-port <port>', 'serve /_admin and /_console on a listener of their own (the main one then answers 404 there)').env(
        'CRM_MEDIA_ADMIN_PORT',
      ),
    )
    .addOption(new Option('--admin-host <host>', 'address of the admin listener (default: --host), e.g. 127.0.0.1').env('CRM_MEDIA_ADMIN_HOST'))
    .action(async (o: { port?: string; host?: string; seed?: string; adminKey?: string; logLevel?: string; adminPort?: string; adminHost?: string }) => {
      const config: Config = loadConfig({
        ...storeFlags(program),
        port: o.port,
        host: o.host,
        seedFile: o.seed,
        adminKey: o.adminKey,
        logLevel: o.logLevel,
        adminPort: o.adminPort,
        adminHost: o.adminHost,
      });
      const server = await startServer(config, createLogger(config));
      process.stdout.write(
        `${welcomeText(server.url, server.bootstrap, { key: server.adminKey, generated: server.adminKeyGenerated, ...(server.adminKeyPath ? { path: server.adminKeyPath } : {}) })}\n`,
      );
      process.stdout.write(`  console: ${server.adminUrl}/_console/ (log in with the admin key)\n`);
      for (const t of server.seed?.tokens ?? []) process.stdout.write(`  seeded token for ${t.user} (org ${t.org}): ${t.value}\n`);
      for (const c of server.seed?.client_secrets ?? []) process.stdout.write(`  seeded client ${c.client_id} (org ${c.org}): secret ${c.secret}\n`);
      const shutdown = (signal: string) => {
        process.stdout.write(`${signal}: finishing in-flight requests, then stopping\n`);
        server.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
    });
}
