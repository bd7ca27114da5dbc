/**
 * `crm-media limits …`, `crm-media fault …`, `crm-media clock …`: an org's limits and usage, fault rules, and the
 * movable clock. They work on the data directory (or database) directly, with the server running or not; running
 * servers pick changes up within the token cache TTL (limits) or a control poll (faults, clock).
 */
import type { Command } from 'commander';
import type { z } from 'zod';
import { clockJson, faultInput, faultRuleJson, limitInput, limitReportJson } from '../admin/limit-documents.js';
import { faultSchema, limitsSchema } from '../admin/schemas.js';
import { parseDuration } from '../domain/clock.js';
import { CliError, orgOf, orgOption, withRuntime } from './shared.js';

/** Checks a document against its schema, reporting every problem on one line. */
function parsed<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new CliError(`invalid ${what}: ${result.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`).join('; ')}`);
  return result.data;
}

function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`${what} is not JSON`);
  }
}

function integer(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new CliError(`${what} must be a whole number, not ${text}`);
  return Number(text);
}

interface LimitFlags {
  org?: string;
  json?: string;
  edition?: string;
  users?: string;
  credits?: string;
  concurrency?: string;
  subConcurrency?: string;
  storageBytes?: string;
  recordAttachmentBytes?: string;
  tokenLimits?: boolean;
}

interface FaultFlags {
  json?: string;
  id?: string;
  operation?: string;
  method?: string;
  module?: string;
  org?: string;
  user?: string;
  token?: string;
  tokenId?: string;
  client?: string;
  delay?: string;
  error?: string;
  details?: string;
  tokenError?: string;
  reset?: string;
  truncate?: string;
  throttle?: string;
  probability?: string;
  times?: string;
  until?: string;
}

function delay(text: string | undefined): number | [number, number] | undefined {
  if (text === undefined) return undefined;
  const range = /^(\d+)-(\d+)$/.exec(text);
  if (range) return [Number(range[1]), Number(range[2])];
  const ms = parseDuration(text);
  if (ms === undefined) throw new CliError(`--delay: milliseconds (250), a duration (2s) or a range (100-500), not ${text}`);
  return ms;
}

function faultDocument(o: FaultFlags): unknown {
  if (o.json !== undefined) return json(o.json, '--json');
  return {
    id: o.id,
    match: { operation: o.operation, method: o.method, module: o.module, org: o.org, user: o.user, token: o.token, token_id: o.tokenId, client: o.client },
    action: {
      delay_ms: delay(o.delay),
      error: o.error,
      details: o.details === undefined ? undefined : json(o.details, '--details'),
      token_error: o.tokenError,
      reset: o.reset?.replace('-', '_'),
      truncate_after_bytes: integer(o.truncate, '--truncate'),
      throttle_bytes_per_second: integer(o.throttle, '--throttle'),
    },
    probability: o.probability === undefined ? undefined : Number(o.probability),
    times: integer(o.times, '--times'),
    until: o.until,
  };
}

export function registerLimitsCommands(program: Command): void {
  const limits = program.command('limits').description("an org's limits (credits, concurrency, storage, token limits) and usage");
  limits
    .command('set')
    .description('replace the org\'s limits: an edition (--edition enterprise --users 10), explicit figures, or both')
    .addOption(orgOption())
    .option('--json <document>', 'the limits document, e.g. {"edition":"enterprise","users":10}')
    .option('--edition <edition>', 'free, standard, professional, enterprise or ultimate')
    .option('--users <n>', 'user licences the edition is computed for')
    .option('--credits <n>', 'API credits per rolling 24 hours')
    .option('--concurrency <n>', 'calls in flight per user and OAuth client')
    .option('--sub-concurrency <n>', 'heavy calls in flight per user and OAuth client')
    .option('--storage-bytes <n>', "the org's file storage")
    .option('--record-attachment-bytes <n>', "total of one record's attachments")
    .option('--token-limits', "the token endpoint's limits on")
    .option('--no-token-limits', "the token endpoint's limits off")
    .action((o: LimitFlags) =>
      withRuntime(program, async (rt) => {
        const doc =
          o.json !== undefined
            ? json(o.json, '--json')
            : {
                edition: o.edition,
                users: integer(o.users, '--users'),
                credits: integer(o.credits, '--credits'),
                concurrency: integer(o.concurrency, '--concurrency'),
                sub_concurrency: integer(o.subConcurrency, '--sub-concurrency'),
                storage_bytes: integer(o.storageBytes, '--storage-bytes'),
                record_attachment_bytes: integer(o.recordAttachmentBytes, '--record-attachment-bytes'),
                token_limits: o.tokenLimits,
              };
        return limitReportJson(await rt.limitsAdmin.setLimits(await orgOf(rt, o.org), limitInput(parsed(limitsSchema, doc, 'limits'))));
      }),
    );
  limits
    .command('show')
    .description('the limits that apply to the org, and its usage')
    .addOption(orgOption())
    .action((o: { org?: string }) => withRuntime(program, async (rt) => limitReportJson(await rt.limitsAdmin.report(await orgOf(rt, o.org)))));
  limits
    .command('clear')
    .description("remove the org's limits (back to the server's default)")
    .addOption(orgOption())
    .action((o: { org?: string }) =>
      withRuntime(program, async (rt) => {
        const org = await orgOf(rt, o.org);
        await rt.limitsAdmin.clearLimits(org);
        return limitReportJson(await rt.limitsAdmin.report(org));
      }),
    );
  limits
    .command('reset-credits')
    .description('give back every credit the org spent')
    .addOption(orgOption())
    .action((o: { org?: string }) =>
      withRuntime(program, async (rt) => {
        const org = await orgOf(rt, o.org);
        await rt.limitsAdmin.resetCredits(org);
        return limitReportJson(await rt.limitsAdmin.report(org));
      }),
    );

  const fault = program.command('fault').description('fault rules: slow, failing or broken answers on demand');
  fault
    .command('add')
    .description('add a rule: what it matches, one action, when it fires')
    .option('--json <rule>', 'the whole rule as JSON (as the admin API takes it)')
    .option('--id <id>')
    .option('--operation <op>', 'photo.upload, attachment.download, token, …, a family (photo.*) or *')
    .option('--method <method>')
    .option('--module <module>')
    .option('--org <id>')
    .option('--user <id>')
    .option('--token <value>', 'an access token (kept as its id)')
    .option('--token-id <id>')
    .option('--client <id>', 'an OAuth client id')
    .option('--delay <ms>', 'wait: 250, 2s, or a range 100-500')
    .option('--error <name>', 'answer with a catalog error, e.g. INTERNAL_ERROR')
    .option('--details <json>', 'details of that error')
    .option('--token-error <text>', 'the token endpoint answers {"error": text} ("Access Denied" gets the throttle answer)')
    .option('--reset <point>', 'reset the connection: before-headers or after-headers')
    .option('--truncate <bytes>', 'cut the response body after this many bytes')
    .option('--throttle <bytes per second>', 'send the response body this slowly')
    .option('--probability <p>', 'fire with this chance (0 to 1)')
    .option('--times <n>', 'fire for the next n matches only')
    .option('--until <time>', 'fire until this ISO-8601 time')
    .action((o: FaultFlags) =>
      withRuntime(program, async (rt) => {
        const { input, tokenValue } = faultInput(parsed(faultSchema, faultDocument(o), 'fault rule'));
        return faultRuleJson(await rt.limitsAdmin.addFault(input, tokenValue));
      }),
    );
  fault.command('list').action(() => withRuntime(program, async (rt) => (await rt.limitsAdmin.listFaults()).map(faultRuleJson)));
  fault
    .command('remove')
    .argument('<id>')
    .action((id: string) =>
      withRuntime(program, async (rt) => {
        await rt.limitsAdmin.removeFault(id);
        return { deleted: id };
      }),
    );
  fault.command('clear').action(() => withRuntime(program, async (rt) => ({ deleted: await rt.limitsAdmin.clearFaults() })));

  const clock = program.command('clock').description('the movable clock of servers started with CRM_MEDIA_TEST_CLOCK=1');
  clock.command('show').action(() => withRuntime(program, async (rt) => clockJson(await rt.limitsAdmin.clockStatus())));
  clock
    .command('advance')
    .argument('<duration>', '90s, 15m, 25h, 2d, 1h30m or milliseconds')
    .action((text: string) =>
      withRuntime(program, async (rt) => {
        const ms = parseDuration(text);
        if (ms === undefined) throw new CliError(`not a duration: ${text} (90s, 15m, 25h, 2d, 1h30m or milliseconds)`);
        return clockJson(await rt.limitsAdmin.advanceClock(ms));
      }),
    );
  clock.command('reset').action(() => withRuntime(program, async (rt) => clockJson(await rt.limitsAdmin.resetClock())));
}
