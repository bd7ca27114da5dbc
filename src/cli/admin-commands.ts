/**
 * The admin subcommands: orgs, profiles, users, modules, records and their states, tokens, OAuth clients and grant
 * codes, workflow rules and deliveries, seed and reset. They work on the data directory (or database) directly,
 * through the same AdminService as the admin HTTP API, with the server running or not.
 */
import { type Command, Option } from 'commander';
import { applySeed, readSeedFile } from '../admin/seed.js';
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
} from '../admin/views.js';
import { type OutboxStatus, RECORD_STATES, SHARING_SETTINGS, type RecordState, type Sharing, WORKFLOW_EVENTS } from '../domain/entities.js';
import { orgOf, orgOption, withRuntime } from './shared.js';

export function registerAdminCommands(program: Command): void {
  const org = program.command('org').description('orgs');
  org
    .command('create')
    .description('create an org')
    .requiredOption('--name <name>')
    .option('--time-zone <tz>', 'IANA time zone', 'UTC')
    .option('--id <id>')
    .action((o: { name: string; timeZone: string; id?: string }) =>
      withRuntime(program, async (rt) => orgJson(await rt.admin.createOrg({ id: o.id, name: o.name, timeZone: o.timeZone }))),
    );
  org.command('list').description('list the orgs').action(() => withRuntime(program, async (rt) => (await rt.admin.listOrgs()).map(orgJson)));

  const profile = program.command('profile').description('profiles and their per-module permissions');
  profile
    .command('create')
    .description('create a profile with per-module permissions')
    .addOption(orgOption())
    .requiredOption('--name <name>')
    .option('--admin', 'administrator profile (sees every record)')
    .option('--permissions <json>', 'e.g. {"*":{"view":true},"Leads":{"view":true,"edit":true}}')
    .action((o: { org?: string; name: string; admin?: boolean; permissions?: string }) =>
      withRuntime(program, async (rt) =>
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
    .description('list the profiles of an org')
    .addOption(orgOption())
    .action((o: { org?: string }) => withRuntime(program, async (rt) => (await rt.admin.listProfiles(await orgOf(rt, o.org))).map(profileJson)));

  const user = program.command('user').description('users');
  user
    .command('create')
    .description('create a user with a profile')
    .addOption(orgOption())
    .requiredOption('--name <name>')
    .requiredOption('--email <email>')
    .option('--profile <id or name>', 'profile', 'Standard')
    .action((o: { org?: string; name: string; email: string; profile: string }) =>
      withRuntime(program, async (rt) =>
        userJson(await rt.admin.createUser(await orgOf(rt, o.org), { name: o.name, email: o.email, profile: o.profile })),
      ),
    );
  user
    .command('list')
    .description('list the users of an org')
    .addOption(orgOption())
    .action((o: { org?: string }) => withRuntime(program, async (rt) => (await rt.admin.listUsers(await orgOf(rt, o.org))).map(userJson)));

  const module = program.command('module').description('custom modules and sharing settings');
  module
    .command('create')
    .description('create a custom module')
    .addOption(orgOption())
    .requiredOption('--api-name <name>')
    .option('--singular <label>')
    .option('--plural <label>')
    .addOption(new Option('--sharing <setting>').choices(SHARING_SETTINGS))
    .action((o: { org?: string; apiName: string; singular?: string; plural?: string; sharing?: Sharing }) =>
      withRuntime(program, async (rt) =>
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
    .description('set the sharing setting of a module')
    .addOption(orgOption())
    .requiredOption('--module <api name>')
    .addOption(new Option('--sharing <setting>').choices(SHARING_SETTINGS).makeOptionMandatory())
    .action((o: { org?: string; module: string; sharing: Sharing }) =>
      withRuntime(program, async (rt) => moduleJson(await rt.admin.setModuleSharing(await orgOf(rt, o.org), o.module, o.sharing))),
    );
  module
    .command('list')
    .description('list the modules with their sharing settings')
    .addOption(orgOption())
    .action((o: { org?: string }) =>
      withRuntime(program, async (rt) => (await rt.admin.listModuleSettings(await orgOf(rt, o.org))).map(moduleJson)),
    );

  const record = program.command('record').description('records and their states');
  record
    .command('create')
    .description('create a record')
    .addOption(orgOption())
    .requiredOption('--module <api name>')
    .option('--owner <user id or email>')
    .option('--fields <json>', 'field values, e.g. {"Last_Name":"Boyle"}')
    .addOption(new Option('--state <state>').choices(RECORD_STATES))
    .option('--id <id>')
    .action((o: { org?: string; module: string; owner?: string; fields?: string; state?: RecordState; id?: string }) =>
      withRuntime(program, async (rt) =>
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
    .description('list the records of a module')
    .addOption(orgOption())
    .requiredOption('--module <api name>')
    .option('--limit <n>', 'at most this many', '200')
    .option('--offset <n>', 'skip this many', '0')
    .action((o: { org?: string; module: string; limit: string; offset: string }) =>
      withRuntime(program, async (rt) =>
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
      withRuntime(program, async (rt) => recordJson(await rt.admin.setRecordState(await orgOf(rt, o.org), o.id, o.state))),
    );
  record
    .command('delete')
    .description('delete a record with its photo and attachments')
    .addOption(orgOption())
    .requiredOption('--id <record id>')
    .action((o: { org?: string; id: string }) =>
      withRuntime(program, async (rt) => {
        await rt.admin.deleteRecord(await orgOf(rt, o.org), o.id);
        return { deleted: o.id };
      }),
    );

  const token = program.command('token').description('OAuth access tokens');
  token
    .command('issue')
    .description('issue an access token for a user (its value is printed once)')
    .addOption(orgOption())
    .requiredOption('--user <user id or email>')
    .option('--scopes <list>', 'comma-separated scopes (default: all)')
    .option('--expires-in <seconds>', 'lifetime in seconds (default: does not expire)')
    .option('--value <token>', 'use this value instead of a generated 1000.<hex>.<hex>')
    .option('--label <text>')
    .action((o: { org?: string; user: string; scopes?: string; expiresIn?: string; value?: string; label?: string }) =>
      withRuntime(program, async (rt) => {
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
    .description('list the access tokens (never their values)')
    .addOption(orgOption())
    .action((o: { org?: string }) => withRuntime(program, async (rt) => (await rt.admin.listTokens(await orgOf(rt, o.org))).map(tokenJson)));
  token
    .command('revoke')
    .description('revoke an access token')
    .addOption(orgOption())
    .requiredOption('--id <token id>')
    .action((o: { org?: string; id: string }) =>
      withRuntime(program, async (rt) => {
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
      withRuntime(program, async (rt) => {
        const org = await orgOf(rt, o.org);
        const issued = await rt.oauth.createClient(org, (await rt.admin.findUser(org, o.user)).id, o.name);
        return { ...oauthClientJson(issued.client), client_secret: issued.secret };
      }),
    );
  oauth
    .command('client-list')
    .description('list the self clients')
    .addOption(orgOption())
    .action((o: { org?: string }) => withRuntime(program, async (rt) => (await rt.oauth.listClients(await orgOf(rt, o.org))).map(oauthClientJson)));
  oauth
    .command('client-delete')
    .description('delete a self client and revoke every token it minted')
    .addOption(orgOption())
    .requiredOption('--client <client id>')
    .action((o: { org?: string; client: string }) =>
      withRuntime(program, async (rt) => {
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
      withRuntime(program, async (rt) => {
        const org = await orgOf(rt, o.org);
        const userId = o.user ? (await rt.admin.findUser(org, o.user)).id : undefined;
        const g = await rt.oauth.createGrantCode(org, o.client, { scopes: o.scopes, userId, expiresIn: Number(o.expiresIn) });
        return { code: g.code, expires_at: new Date(g.expiresAt).toISOString() };
      }),
    );

  const workflow = program.command('workflow').description('workflow rules (webhooks on photo and attachment events) and their deliveries');
  workflow
    .command('create')
    .description('create a rule that calls a webhook on a photo or attachment event')
    .addOption(orgOption())
    .requiredOption('--name <name>')
    .requiredOption('--module <api name>')
    .addOption(new Option('--event <event>').choices(WORKFLOW_EVENTS).makeOptionMandatory())
    .requiredOption('--url <webhook url>')
    .option('--secret <secret>', 'HMAC-SHA256 signing secret')
    .action((o: { org?: string; name: string; module: string; event: string; url: string; secret?: string }) =>
      withRuntime(program, async (rt) =>
        workflowRuleJson(
          await rt.workflows.createRule(await orgOf(rt, o.org), { name: o.name, module: o.module, event: o.event, url: o.url, secret: o.secret }),
        ),
      ),
    );
  workflow
    .command('list')
    .description('list the workflow rules')
    .addOption(orgOption())
    .action((o: { org?: string }) => withRuntime(program, async (rt) => (await rt.workflows.listRules(await orgOf(rt, o.org))).map(workflowRuleJson)));
  workflow
    .command('delete')
    .description('delete a workflow rule')
    .addOption(orgOption())
    .requiredOption('--id <rule id>')
    .action((o: { org?: string; id: string }) =>
      withRuntime(program, async (rt) => {
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
      withRuntime(program, async (rt) =>
        (
          await rt.workflows.deliveries(await orgOf(rt, o.org), o.failed ? 'failed' : o.status, { limit: Number(o.limit), offset: 0 })
        ).map(deliveryJson),
      ),
    );

  program
    .command('seed <file>')
    .description('create the orgs, users, modules, records and tokens of a seed file (safe to re-run)')
    .action(async (file: string) => {
      const seed = await readSeedFile(file);
      await withRuntime(program, (rt) => applySeed(rt, seed), { create: true });
    });

  program
    .command('reset')
    .description('delete every org, user, token, record and blob')
    .requiredOption('--yes', 'confirm')
    .action(() =>
      withRuntime(program, async (rt) => {
        await rt.admin.reset();
        return { reset: true };
      }),
    );
}
