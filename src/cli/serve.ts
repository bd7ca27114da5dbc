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
    .action(async (o: { port?: string; host?: string; seed?: string; adminKey?: string; logLevel?: string }) => {
      const config: Config = loadConfig({
        ...storeFlags(program),
        port: o.port,
        host: o.host,
        seedFile: o.seed,
        adminKey: o.adminKey,
        logLevel: o.logLevel,
      });
      const server = await startServer(config, createLogger(config));
      process.stdout.write(
        `${welcomeText(server.url, server.bootstrap, { key: server.adminKey, generated: server.adminKeyGenerated, ...(server.adminKeyPath ? { path: server.adminKeyPath } : {}) })}\n`,
      );
      for (const t of server.seed?.tokens ?? []) process.stdout.write(`  seeded token for ${t.user} (org ${t.org}): ${t.value}\n`);
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
