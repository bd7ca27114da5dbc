/**
 * `crm-media journal …` and `crm-media webhooks wait`: the request journal and the waits of a RUNNING server. Unlike
 * the other subcommands, which work on the data directory directly, these talk to a server's admin API — the journal
 * lives in the server process (one per instance), not in the store. The server is found with `--url` (default
 * http://127.0.0.1:8787, or CRM_MEDIA_URL); the admin key comes from `--admin-key`, CRM_MEDIA_ADMIN_KEY, or the data
 * directory's admin.key (`--data`). It travels in a header, never in the URL.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { DEFAULTS } from '../config.js';
import { CliError, print } from './shared.js';

interface ServerFlags {
  url: string;
  adminKey?: string;
}

interface FilterFlags {
  operation?: string;
  method?: string;
  status?: string;
  code?: string;
  org?: string;
  user?: string;
  client?: string;
  record?: string;
  since?: string;
  after?: string;
}

const FILTERS: (keyof FilterFlags)[] = ['operation', 'method', 'status', 'code', 'org', 'user', 'client', 'record', 'since', 'after'];

function serverOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', "the running server's admin URL").env('CRM_MEDIA_URL').default(`http://127.0.0.1:${DEFAULTS.port}`))
    .addOption(new Option('--admin-key <key>', 'admin key (default: <data>/admin.key)').env('CRM_MEDIA_ADMIN_KEY'));
}

function filterOptions(cmd: Command): Command {
  return cmd
    .option('--operation <name>', 'e.g. photo.upload, attachment.download, token')
    .option('--method <method>')
    .option('--status <code>', 'HTTP status')
    .option('--code <code>', 'Zoho error code, e.g. RECORD_LOCKED')
    .option('--org <id>')
    .option('--user <id>')
    .option('--client <id>', 'OAuth client id')
    .option('--record <id>')
    .option('--since <time>', 'ISO 8601 time or epoch ms')
    .option('--after <seq>', 'entries after this sequence number');
}

async function adminKeyOf(program: Command, flags: ServerFlags): Promise<string> {
  if (flags.adminKey) return flags.adminKey;
  const dataDir = resolve(program.opts<{ data?: string }>().data ?? DEFAULTS.dataDir);
  try {
    return (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim();
  } catch {
    throw new CliError(`no admin key: give --admin-key (or CRM_MEDIA_ADMIN_KEY), or --data for a data directory with admin.key (looked in ${dataDir})`);
  }
}

async function adminCall(program: Command, flags: ServerFlags, method: 'GET' | 'DELETE', path: string, query: Record<string, string | undefined> = {}): Promise<unknown> {
  const key = await adminKeyOf(program, flags);
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
  const qs = params.toString();
  let res: Response;
  try {
    res = await fetch(`${flags.url.replace(/\/$/, '')}/_admin${path}${qs ? `?${qs}` : ''}`, { method, headers: { 'x-admin-key': key } });
  } catch (err) {
    throw new CliError(`cannot reach the server at ${flags.url}: ${(err as Error).message} (is it running? --url)`);
  }
  const text = await res.text();
  if (!res.ok) throw new CliError(`the server refused (HTTP ${res.status}): ${text}`);
  return JSON.parse(text) as unknown;
}

function filterQuery(o: FilterFlags): Record<string, string | undefined> {
  return Object.fromEntries(FILTERS.map((k) => [k, o[k]]));
}

export function registerJournalCommands(program: Command): void {
  const journal = program
    .command('journal')
    .description("a running server's request journal (talks to its admin API: --url, --admin-key; the journal is per instance)");

  filterOptions(serverOptions(journal.command('list').description('newest entries first')))
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o: ServerFlags & FilterFlags & { limit: string }) => {
      print(await adminCall(program, o, 'GET', '/journal', { ...filterQuery(o), limit: o.limit }));
    });

  filterOptions(serverOptions(journal.command('count').description('how many entries match (prints the number)'))).action(async (o: ServerFlags & FilterFlags) => {
    const { count } = (await adminCall(program, o, 'GET', '/journal/count', filterQuery(o))) as { count: number };
    process.stdout.write(`${count}\n`);
  });

  filterOptions(serverOptions(journal.command('wait').description('until COUNT entries match; exits 1 if the timeout passes first')))
    .requiredOption('--count <n>', 'matching entries to wait for')
    .option('--timeout-ms <ms>', 'give up after this long', '10000')
    .action(async (o: ServerFlags & FilterFlags & { count: string; timeoutMs: string }) => {
      const result = (await adminCall(program, o, 'GET', '/journal/wait', { ...filterQuery(o), count: o.count, timeout_ms: o.timeoutMs })) as { reached: boolean };
      print(result);
      if (!result.reached) process.exitCode = 1;
    });

  serverOptions(journal.command('clear').description('forget every entry')).action(async (o: ServerFlags) => {
    print(await adminCall(program, o, 'DELETE', '/journal'));
  });

  const webhooks = program.command('webhooks').description("a running server's webhook deliveries (talks to its admin API)");
  serverOptions(webhooks.command('wait').description('until no delivery is pending (each delivered or failed); exits 1 on timeout'))
    .option('--org <id>', 'only this org')
    .option('--timeout-ms <ms>', 'give up after this long', '30000')
    .action(async (o: ServerFlags & { org?: string; timeoutMs: string }) => {
      const result = (await adminCall(program, o, 'GET', '/workflow-deliveries/wait', { org: o.org, timeout_ms: o.timeoutMs })) as { settled: boolean };
      print(result);
      if (!result.settled) process.exitCode = 1;
    });
}
