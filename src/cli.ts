#!/usr/bin/env -S node --no-memory-reducer --max-semi-space-size=32 --initial-old-space-size=96
/**
 * `crm-media`: `serve` (the default) runs the server; the other subcommands administer the same data directly
 * through the same AdminService the admin HTTP API uses (they work with the server running or not).
 */
import { Command, Option } from 'commander';
import {
  deliveryJson,
  moduleJson,
  oauthClientJson,
  orgJson,
  profileJson,
  recordJson,
  tokenJson,
  userJson,
  workflowRuleJson,
} from './admin/views.js';
import { welcomeText } from './admin/bootstrap.js';
import { type Config, ConfigError, type ConfigInput, DEFAULTS, loadConfig } from './config.js';
import { type OutboxStatus, RECORD_STATES, SHARING_SETTINGS, type RecordState, type Sharing, WORKFLOW_EVENTS } from './domain/entities.js';
import { isZohoError } from './domain/errors.js';
import { silentLogger } from './domain/ports/logger.js';
import { type Runtime, openBlobStore, openMetadataStore, openRuntime } from './runtime.js';
import { MigrationError, migrateStore } from './admin/migrate-store.js';
import { SeedError, applySeed, readSeedFile } from './admin/seed.js';
import { createLogger, startServer } from './server/start.js';

const program = new Command();
program
  .name('crm-media')
  .description("A self-hostable server for Zoho CRM's record photo and attachment API")
  .version('0.1.0')
  .addOption(new Option('--data <dir>', 'data directory (SQLite file and blobs)').env('CRM_MEDIA_DATA'))
  .addOption(new Option('--database <url>', 'postgres://… to keep metadata in PostgreSQL').env('DATABASE_URL'))
  .addOption(new Option('--pg-pool-size <n>', 'PostgreSQL connections per process').env('CRM_MEDIA_PG_POOL_SIZE'))
  .addOption(new Option('--blob-store <kind>', 'where bytes live').choices(['disk', 's3']).env('CRM_MEDIA_BLOB_STORE'))
  .addOption(new Option('--s3-bucket <name>').env('CRM_MEDIA_S3_BUCKET'))
  .addOption(new Option('--s3-endpoint <url>', 'for S3-compatible servers (MinIO, Ceph, R2, …)').env('CRM_MEDIA_S3_ENDPOINT'))
  .addOption(new Option('--s3-region <region>').env('CRM_MEDIA_S3_REGION'))
  .addOption(new Option('--s3-force-path-style', 'path-style bucket addressing').env('CRM_MEDIA_S3_FORCE_PATH_STYLE'))
  .addOption(new Option('--s3-prefix <prefix>', 'key prefix inside the bucket').env('CRM_MEDIA_S3_PREFIX'))
  .showHelpAfterError();

interface StoreFlags {
  data?: string;
  database?: string;
  pgPoolSize?: string;
  blobStore?: string;
  s3Bucket?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3ForcePathStyle?: boolean | string;
  s3Prefix?: string;
}

function storeFlags(): ConfigInput {
  const o = program.opts<StoreFlags>();
  return {
    dataDir: o.data,
    database: o.database,
    pgPoolSize: o.pgPoolSize,
    blobStore: o.blobStore,
    s3Bucket: o.s3Bucket,
    s3Endpoint: o.s3Endpoint,
    s3Region: o.s3Region,
    s3ForcePathStyle: o.s3ForcePathStyle,
    s3Prefix: o.s3Prefix,
  };
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Opens the stores, runs `fn`, closes them; admin errors print their Zoho body and exit 1. */
async function withRuntime(fn: (rt: Runtime) => Promise<unknown>): Promise<void> {
  const config = loadConfig(storeFlags());
  const rt = await openRuntime(config, silentLogger);
  try {
    const result = await fn(rt);
    await rt.store.durable();
    if (result !== undefined) print(result);
  } finally {
    await rt.close();
  }
}

async function orgOf(rt: Runtime, org: string | undefined): Promise<string> {
  if (org) return org;
  const first = (await rt.admin.listOrgs())[0];
  if (!first) throw new CliError('there is no org yet: start the server once, or run `crm-media org create`');
  return first.id;
}

class CliError extends Error {}

const orgOption = () => new Option('--org <id>', 'org id (default: the first org)');

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
      ...storeFlags(),
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

const org = program.command('org').description('orgs');
org
  .command('create')
  .requiredOption('--name <name>')
  .option('--time-zone <tz>', 'IANA time zone', 'UTC')
  .option('--id <id>')
  .action((o: { name: string; timeZone: string; id?: string }) =>
    withRuntime(async (rt) => orgJson(await rt.admin.createOrg({ id: o.id, name: o.name, timeZone: o.timeZone }))),
  );
org.command('list').action(() => withRuntime(async (rt) => (await rt.admin.listOrgs()).map(orgJson)));

const profile = program.command('profile').description('profiles and their per-module permissions');
profile
  .command('create')
  .addOption(orgOption())
  .requiredOption('--name <name>')
  .option('--admin', 'administrator profile (sees every record)')
  .option('--permissions <json>', 'e.g. {"*":{"view":true},"Leads":{"view":true,"edit":true}}')
  .action((o: { org?: string; name: string; admin?: boolean; permissions?: string }) =>
    withRuntime(async (rt) =>
      profileJson(
        await rt.admin.createProfile(await orgOf(rt, o.org), {
          name: o.name,
          isAdmin: o.admin ?? false,
          permissions: o.permissions ? (JSON.parse(o.permissions) as never) : undefined,
        }),
      ),
    ),
  );
profile
  .command('list')
  .addOption(orgOption())
  .action((o: { org?: string }) => withRuntime(async (rt) => (await rt.admin.listProfiles(await orgOf(rt, o.org))).map(profileJson)));

const user = program.command('user').description('users');
user
  .command('create')
  .addOption(orgOption())
  .requiredOption('--name <name>')
  .requiredOption('--email <email>')
  .option('--profile <id or name>', 'profile', 'Standard')
  .action((o: { org?: string; name: string; email: string; profile: string }) =>
    withRuntime(async (rt) =>
      userJson(await rt.admin.createUser(await orgOf(rt, o.org), { name: o.name, email: o.email, profile: o.profile })),
    ),
  );
user
  .command('list')
  .addOption(orgOption())
  .action((o: { org?: string }) => withRuntime(async (rt) => (await rt.admin.listUsers(await orgOf(rt, o.org))).map(userJson)));

const module = program.command('module').description('custom modules and sharing settings');
module
  .command('create')
  .addOption(orgOption())
  .requiredOption('--api-name <name>')
  .option('--singular <label>')
  .option('--plural <label>')
  .addOption(new Option('--sharing <setting>').choices(SHARING_SETTINGS))
  .action((o: { org?: string; apiName: string; singular?: string; plural?: string; sharing?: Sharing }) =>
    withRuntime(async (rt) =>
      moduleJson(
        await rt.admin.createCustomModule(await orgOf(rt, o.org), {
          apiName: o.apiName,
          singular: o.singular,
          plural: o.plural,
          sharing: o.sharing,
        }),
      ),
    ),
  );
module
  .command('sharing')
  .addOption(orgOption())
  .requiredOption('--module <api name>')
  .addOption(new Option('--sharing <setting>').choices(SHARING_SETTINGS).makeOptionMandatory())
  .action((o: { org?: string; module: string; sharing: Sharing }) =>
    withRuntime(async (rt) => moduleJson(await rt.admin.setModuleSharing(await orgOf(rt, o.org), o.module, o.sharing))),
  );
module
  .command('list')
  .addOption(orgOption())
  .action((o: { org?: string }) =>
    withRuntime(async (rt) => (await rt.admin.listModuleSettings(await orgOf(rt, o.org))).map(moduleJson)),
  );

const record = program.command('record').description('records and their states');
record
  .command('create')
  .addOption(orgOption())
  .requiredOption('--module <api name>')
  .option('--owner <user id or email>')
  .option('--fields <json>', 'field values, e.g. {"Last_Name":"Boyle"}')
  .addOption(new Option('--state <state>').choices(RECORD_STATES))
  .option('--id <id>')
  .action((o: { org?: string; module: string; owner?: string; fields?: string; state?: RecordState; id?: string }) =>
    withRuntime(async (rt) =>
      recordJson(
        await rt.admin.createRecord(await orgOf(rt, o.org), {
          id: o.id,
          module: o.module,
          owner: o.owner,
          data: o.fields ? (JSON.parse(o.fields) as Record<string, unknown>) : undefined,
          state: o.state,
        }),
      ),
    ),
  );
record
  .command('list')
  .addOption(orgOption())
  .requiredOption('--module <api name>')
  .option('--limit <n>', 'at most this many', '200')
  .option('--offset <n>', 'skip this many', '0')
  .action((o: { org?: string; module: string; limit: string; offset: string }) =>
    withRuntime(async (rt) =>
      (await rt.admin.listRecords(await orgOf(rt, o.org), o.module, Number(o.limit), Number(o.offset))).map(recordJson),
    ),
  );
record
  .command('state')
  .description('put a record into a state: ' + RECORD_STATES.join(', '))
  .addOption(orgOption())
  .requiredOption('--id <record id>')
  .addOption(new Option('--state <state>').choices(RECORD_STATES).makeOptionMandatory())
  .action((o: { org?: string; id: string; state: RecordState }) =>
    withRuntime(async (rt) => recordJson(await rt.admin.setRecordState(await orgOf(rt, o.org), o.id, o.state))),
  );
record
  .command('delete')
  .addOption(orgOption())
  .requiredOption('--id <record id>')
  .action((o: { org?: string; id: string }) =>
    withRuntime(async (rt) => {
      await rt.admin.deleteRecord(await orgOf(rt, o.org), o.id);
      return { deleted: o.id };
    }),
  );

const token = program.command('token').description('OAuth access tokens');
token
  .command('issue')
  .addOption(orgOption())
  .requiredOption('--user <user id or email>')
  .option('--scopes <list>', 'comma-separated scopes (default: all)')
  .option('--expires-in <seconds>', 'lifetime in seconds (default: does not expire)')
  .option('--value <token>', 'use this value instead of a generated 1000.<hex>.<hex>')
  .option('--label <text>')
  .action((o: { org?: string; user: string; scopes?: string; expiresIn?: string; value?: string; label?: string }) =>
    withRuntime(async (rt) => {
      const issued = await rt.admin.issueToken(await orgOf(rt, o.org), {
        user: o.user,
        scopes: o.scopes,
        expiresIn: o.expiresIn === undefined ? undefined : Number(o.expiresIn),
        value: o.value,
        label: o.label,
      });
      return { ...tokenJson(issued.token), access_token: issued.value };
    }),
  );
token
  .command('list')
  .addOption(orgOption())
  .action((o: { org?: string }) => withRuntime(async (rt) => (await rt.admin.listTokens(await orgOf(rt, o.org))).map(tokenJson)));
token
  .command('revoke')
  .addOption(orgOption())
  .requiredOption('--id <token id>')
  .action((o: { org?: string; id: string }) =>
    withRuntime(async (rt) => {
      await rt.admin.revokeToken(await orgOf(rt, o.org), o.id);
      return { revoked: o.id };
    }),
  );

const oauth = program.command('oauth').description('OAuth self clients and grant codes (the token server)');
oauth
  .command('client-create')
  .description('create a self client acting for a user; prints client_id and client_secret (once)')
  .addOption(orgOption())
  .requiredOption('--user <user id or email>')
  .option('--name <name>', 'client name', 'Self Client')
  .action((o: { org?: string; user: string; name: string }) =>
    withRuntime(async (rt) => {
      const org = await orgOf(rt, o.org);
      const issued = await rt.oauth.createClient(org, (await rt.admin.findUser(org, o.user)).id, o.name);
      return { ...oauthClientJson(issued.client), client_secret: issued.secret };
    }),
  );
oauth
  .command('client-list')
  .addOption(orgOption())
  .action((o: { org?: string }) => withRuntime(async (rt) => (await rt.oauth.listClients(await orgOf(rt, o.org))).map(oauthClientJson)));
oauth
  .command('client-delete')
  .addOption(orgOption())
  .requiredOption('--client <client id>')
  .action((o: { org?: string; client: string }) =>
    withRuntime(async (rt) => {
      await rt.oauth.deleteClient(await orgOf(rt, o.org), o.client);
      return { deleted: o.client };
    }),
  );
oauth
  .command('grant')
  .description('a one-time grant code for a self client ("generate code" in Zoho\'s API console), valid 3 minutes')
  .addOption(orgOption())
  .requiredOption('--client <client id>')
  .requiredOption('--scopes <list>', 'comma-separated scopes, e.g. ZohoCRM.modules.ALL,ZohoCRM.users.READ')
  .option('--user <user id or email>', 'default: the client\'s user')
  .option('--expires-in <seconds>', 'lifetime', '180')
  .action((o: { org?: string; client: string; scopes: string; user?: string; expiresIn: string }) =>
    withRuntime(async (rt) => {
      const org = await orgOf(rt, o.org);
      const userId = o.user ? (await rt.admin.findUser(org, o.user)).id : undefined;
      const g = await rt.oauth.createGrantCode(org, o.client, { scopes: o.scopes, userId, expiresIn: Number(o.expiresIn) });
      return { code: g.code, expires_at: new Date(g.expiresAt).toISOString() };
    }),
  );

const workflow = program.command('workflow').description('workflow rules (webhooks on photo and attachment events) and their deliveries');
workflow
  .command('create')
  .addOption(orgOption())
  .requiredOption('--name <name>')
  .requiredOption('--module <api name>')
  .addOption(new Option('--event <event>').choices(WORKFLOW_EVENTS).makeOptionMandatory())
  .requiredOption('--url <webhook url>')
  .option('--secret <secret>', 'HMAC-SHA256 signing secret')
  .action((o: { org?: string; name: string; module: string; event: string; url: string; secret?: string }) =>
    withRuntime(async (rt) =>
      workflowRuleJson(
        await rt.workflows.createRule(await orgOf(rt, o.org), { name: o.name, module: o.module, event: o.event, url: o.url, secret: o.secret }),
      ),
    ),
  );
workflow
  .command('list')
  .addOption(orgOption())
  .action((o: { org?: string }) => withRuntime(async (rt) => (await rt.workflows.listRules(await orgOf(rt, o.org))).map(workflowRuleJson)));
workflow
  .command('delete')
  .addOption(orgOption())
  .requiredOption('--id <rule id>')
  .action((o: { org?: string; id: string }) =>
    withRuntime(async (rt) => {
      await rt.workflows.deleteRule(await orgOf(rt, o.org), o.id);
      return { deleted: o.id };
    }),
  );
workflow
  .command('deliveries')
  .description('events sent (or being sent) to webhooks, with every attempt')
  .addOption(orgOption())
  .addOption(new Option('--status <status>').choices(['pending', 'delivered', 'failed']))
  .option('--failed', 'only those that failed for good (same as --status failed)')
  .option('--limit <n>', 'at most this many', '100')
  .action((o: { org?: string; status?: OutboxStatus; failed?: boolean; limit: string }) =>
    withRuntime(async (rt) =>
      (
        await rt.workflows.deliveries(await orgOf(rt, o.org), o.failed ? 'failed' : o.status, { limit: Number(o.limit), offset: 0 })
      ).map(deliveryJson),
    ),
  );

program
  .command('seed <file>')
  .description('create the orgs, users, modules, records and tokens of a seed file (safe to re-run)')
  .action((file: string) => withRuntime(async (rt) => applySeed(rt.admin, await readSeedFile(file))));

program
  .command('reset')
  .description('delete every org, user, token, record and blob')
  .requiredOption('--yes', 'confirm')
  .action(() =>
    withRuntime(async (rt) => {
      await rt.admin.reset();
      return { reset: true };
    }),
  );

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
      const sourceConfig = loadConfig(storeFlags());
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
  .action(() => withRuntime(async (rt) => rt.sweeper.sweep()));

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
