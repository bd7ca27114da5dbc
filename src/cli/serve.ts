/** `crm-media serve` (the default command): starts the server and stops it gracefully on SIGINT/SIGTERM. */
import { type Command, Option } from 'commander';
import { DEFAULT_ADMIN_EMAIL, keepMintedTokens, welcomeText } from '../admin/bootstrap.js';
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
    .option('--print-bootstrap-token', 'on PostgreSQL, print the tokens a first start mints (default: only into <data>/bootstrap-tokens; also CRM_MEDIA_PRINT_BOOTSTRAP_TOKEN)')
    .action(async (o: { port?: string; host?: string; seed?: string; adminKey?: string; logLevel?: string; printBootstrapToken?: boolean }) => {
      const config: Config = loadConfig({
        ...storeFlags(program),
        port: o.port,
        host: o.host,
        seedFile: o.seed,
        adminKey: o.adminKey,
        logLevel: o.logLevel,
        printBootstrapToken: o.printBootstrapToken,
      });
      const server = await startServer(config, createLogger(config));
      const seeded = (server.seed?.tokens ?? []).map((t) => ({ label: `seeded token for ${t.user} (org ${t.org})`, value: t.value }));
      const minted = [...(server.bootstrap?.newToken ? [{ label: `bootstrap token for ${DEFAULT_ADMIN_EMAIL} (org ${server.bootstrap.org.id}, all scopes)`, value: server.bootstrap.newToken }] : []), ...seeded];
      // The embedded default is a developer's console; on PostgreSQL it is a production one (docs/deployment.md).
      const tokenFile = config.database && !config.printBootstrapToken && minted.length > 0 ? await keepMintedTokens(config.dataDir, minted) : undefined;
      process.stdout.write(
        `${welcomeText(server.url, server.bootstrap, { key: server.adminKey, generated: server.adminKeyGenerated, ...(server.adminKeyPath ? { path: server.adminKeyPath } : {}) }, tokenFile)}\n`,
      );
      if (tokenFile && seeded.length > 0) process.stdout.write(`  seeded tokens: written to ${tokenFile}\n`);
      if (!tokenFile) for (const t of seeded) process.stdout.write(`  ${t.label}: ${t.value}\n`);
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
