/** `crm-media serve` (the default command, alias `start`): starts the server and stops it gracefully on SIGINT/SIGTERM. */
import { type Command, Option } from 'commander';
import { DEFAULT_ADMIN_EMAIL, formatBytes, keepMintedTokens, welcomeRecord, welcomeText } from '../admin/bootstrap.js';
import { type Config, DEFAULTS, loadConfig } from '../config.js';
import { resolveLogFormat } from '../server/log-format.js';
import { createLogger, startServer } from '../server/start.js';
import { givenOnCommandLine, storeFlags } from './shared.js';

interface ServeFlags {
  port?: string;
  host?: string;
  seed?: string;
  adminKey?: string;
  logLevel?: string;
  logFormat?: string;
  accessLog?: boolean;
  inMemory?: boolean;
  memoryMax?: string;
  dev?: boolean;
  exposeDevCredentials?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  publicUrl?: string;
  apiDomainFromHost?: boolean;
  printBootstrapToken?: boolean;
  adminPort?: string;
  adminHost?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve', { isDefault: true })
    .alias('start')
    .description('start the server (the default command; alias: start)')
    // Defaults live in config.ts only: a commander default would count as a flag and hide PORT.
    .addOption(new Option('--port <port>', `port to listen on (default ${DEFAULTS.port}, 0 for any free port; also PORT)`).env('CRM_MEDIA_PORT'))
    .addOption(new Option('--host <host>', `address to listen on (default ${DEFAULTS.host})`).env('CRM_MEDIA_HOST'))
    .addOption(new Option('--in-memory', 'keep metadata and files in memory: nothing is written to disk; implies --dev (env: CRM_MEDIA_IN_MEMORY)'))
    .addOption(
      new Option('--memory-max <size>', `with --in-memory: what all files together may take, e.g. 256MiB (default ${formatBytes(DEFAULTS.memoryMaxBytes)})`).env(
        'CRM_MEDIA_MEMORY_MAX_BYTES',
      ),
    )
    .addOption(new Option('--dev', 'use the well-known development token and admin key, and log every request (env: CRM_MEDIA_DEV)'))
    .addOption(new Option('--expose-dev-credentials', 'allow --dev / --in-memory on a non-loopback --host (env: CRM_MEDIA_EXPOSE_DEV_CREDENTIALS)'))
    .addOption(new Option('--seed <file>', 'seed the store from a JSON file at start').env('CRM_MEDIA_SEED'))
    .addOption(new Option('--admin-key <key>', 'admin API key (default: generated into <data>/admin.key)').env('CRM_MEDIA_ADMIN_KEY'))
    .addOption(new Option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)').env('CRM_MEDIA_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'the PEM private key of --tls-cert').env('CRM_MEDIA_TLS_KEY'))
    .addOption(new Option('--public-url <url>', "this server's base URL in token answers (api_domain; default: from the request's Host)").env('CRM_MEDIA_PUBLIC_URL'))
    .addOption(
      new Option('--api-domain-from-host', "api_domain from the request's Host, accounts.zoho.<dc> answering https://www.zohoapis.<dc> (env: CRM_MEDIA_API_DOMAIN_FROM_HOST)"),
    )
    .addOption(new Option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)').env('CRM_MEDIA_LOG_LEVEL'))
    .addOption(new Option('--log-format <format>', 'pretty for people, json for machines (default auto: pretty on a terminal)').choices(['auto', 'pretty', 'json']).env('CRM_MEDIA_LOG_FORMAT'))
    .addOption(new Option('--access-log', 'one log line per API request (default: on with --dev; env: CRM_MEDIA_ACCESS_LOG)'))
    .addOption(new Option('--no-access-log', 'no access log, even with --dev'))
    .option('--print-bootstrap-token', 'on PostgreSQL, print the tokens a first start mints (default: only into <data>/bootstrap-tokens; also CRM_MEDIA_PRINT_BOOTSTRAP_TOKEN)')
    .addOption(
      new Option('--admin-port <port>', 'serve /_admin and /_console on a listener of their own (the main one then answers 404 there)').env(
        'CRM_MEDIA_ADMIN_PORT',
      ),
    )
    .addOption(new Option('--admin-host <host>', 'address of the admin listener (default: --host), e.g. 127.0.0.1').env('CRM_MEDIA_ADMIN_HOST'))
    .action(async (_o: ServeFlags, command: Command) => {
      const o = givenOnCommandLine<ServeFlags>(command);
      const config: Config = loadConfig({
        ...storeFlags(program),
        port: o.port,
        host: o.host,
        seedFile: o.seed,
        adminKey: o.adminKey,
        logLevel: o.logLevel,
        logFormat: o.logFormat,
        accessLog: o.accessLog,
        inMemory: o.inMemory,
        memoryMaxBytes: o.memoryMax,
        dev: o.dev,
        exposeDevCredentials: o.exposeDevCredentials,
        tlsCert: o.tlsCert,
        tlsKey: o.tlsKey,
        publicUrl: o.publicUrl,
        apiDomainFromHost: o.apiDomainFromHost,
        printBootstrapToken: o.printBootstrapToken,
        adminPort: o.adminPort,
        adminHost: o.adminHost,
      });
      const logger = createLogger(config);
      const server = await startServer(config, logger);
      const seededTokens = server.seed?.tokens ?? [];
      const seededClients = (server.seed?.client_secrets ?? []).map((c) => ({ label: `seeded client ${c.client_id} (org ${c.org}) secret`, value: c.secret }));
      const minted = [
        ...(server.bootstrap?.newToken && !config.dev
          ? [{ label: `bootstrap token for ${DEFAULT_ADMIN_EMAIL} (org ${server.bootstrap.org.id}, all scopes)`, value: server.bootstrap.newToken }]
          : []),
        ...seededTokens.map((t) => ({ label: `seeded token for ${t.user} (org ${t.org})`, value: t.value })),
        ...seededClients,
      ];
      // The embedded default is a developer's console; on PostgreSQL it is a production one (docs/deployment.md).
      const tokenFile = config.database && !config.printBootstrapToken && minted.length > 0 ? await keepMintedTokens(config.dataDir, minted) : undefined;
      const facts = {
        baseUrl: server.url,
        config,
        bootstrap: server.bootstrap,
        admin: { key: server.adminKey, generated: server.adminKeyGenerated, path: server.adminKeyPath },
        seededTokens,
        tokenFile,
      };
      const forPeople = resolveLogFormat(config.logFormat) === 'pretty';
      // Stopping is wired before the server says it is up: a supervisor (or a test) may send SIGTERM the moment it reads
      // that line, and a signal with no handler yet would kill the process outright.
      const shutdown = (signal: string) => {
        // Said whatever the log level: the person who pressed Ctrl-C waits for it.
        if (forPeople) process.stdout.write(`${signal}: finishing in-flight requests, then stopping\n`);
        else logger.info({ signal }, 'finishing in-flight requests, then stopping');
        server.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      if (forPeople) {
        process.stdout.write(`${welcomeText(facts)}\n`);
        process.stdout.write(`  console: ${server.adminUrl}/_console/ (log in with the admin key)\n`);
        if (!tokenFile) for (const c of seededClients) process.stdout.write(`  ${c.label}: ${c.value}\n`);
      } else {
        // The announcement that the server is up, whatever the log level (as the text is for people).
        logger.child({}, { level: 'info' }).info({ ...welcomeRecord(facts), console: `${server.adminUrl}/_console/` }, `crm-media-server is listening on ${server.url}`);
        // A token minted now is a secret shown once: never a log record, so it goes to stderr, apart from the log,
        // unless it was kept in the token file.
        if (!tokenFile) for (const t of minted) process.stderr.write(`${t.label}: ${t.value}\n`);
      }
    });
}
