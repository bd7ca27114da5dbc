/**
 * First start: an empty store gets a default org, an administrator and a full-scope access token, so that the
 * first curl works without any set-up. `CRM_MEDIA_DEV_TOKEN` fixes the token's value (CI); it is (re)created on
 * every start if missing, so a CI job can rely on it whatever the data directory holds.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AdminService, FULL_SCOPES } from '../domain/admin.js';
import type { Org, User } from '../domain/entities.js';
import type { Config } from '../config.js';
import type { Runtime } from '../runtime.js';

export interface BootstrapResult {
  org: Org;
  admin: User;
  /** A token value this start created (shown once), if any. */
  newToken: string | undefined;
  /** True when the store was empty and the default org was just made. */
  created: boolean;
}

export const DEFAULT_ADMIN_EMAIL = 'admin@crm-media.local';

export async function bootstrap(rt: Runtime): Promise<BootstrapResult | undefined> {
  // Several instances may start at once on one database: one of them bootstraps, the others then see its work.
  return rt.store.transaction(async (tx) => {
    await tx.records.lock('bootstrap', 'bootstrap');
    return bootstrapLocked(rt, rt.admin.within(tx));
  });
}

async function bootstrapLocked(rt: Runtime, service: AdminService): Promise<BootstrapResult | undefined> {
  const orgs = await service.listOrgs();
  let created = false;
  let org = orgs[0];
  let admin: User | undefined;
  if (!org) {
    org = await service.createOrg({ name: 'crm-media default org', timeZone: rt.config.timeZone });
    admin = await service.createUser(org.id, { name: 'Admin User', email: DEFAULT_ADMIN_EMAIL, profile: 'Administrator' });
    created = true;
  } else {
    admin = await service.firstAdmin(org.id).catch(() => undefined);
  }
  if (!admin) return undefined;

  let newToken: string | undefined;
  const devToken = rt.config.devToken;
  if (devToken) {
    if (!(await service.tokenValueKnown(devToken))) {
      await service.issueToken(org.id, { user: admin.id, value: devToken, scopes: FULL_SCOPES, label: 'CRM_MEDIA_DEV_TOKEN' });
      newToken = devToken;
    }
  } else if (created) {
    newToken = (await service.issueToken(org.id, { user: admin.id, scopes: FULL_SCOPES, label: 'bootstrap' })).value;
  }
  return { org, admin, newToken, created };
}

/** The admin key: configured, or generated once and kept (mode 0600) in the data directory. */
export async function adminKey(rt: Runtime): Promise<{ key: string; generated: boolean; path?: string }> {
  if (rt.config.adminKey) return { key: rt.config.adminKey, generated: false };
  const path = join(rt.config.dataDir, 'admin.key');
  try {
    const key = (await readFile(path, 'utf8')).trim();
    if (key.length >= 16) return { key, generated: false, path };
  } catch {
    // Not there yet.
  }
  const key = randomBytes(24).toString('base64url');
  await writeFile(path, `${key}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return { key, generated: true, path };
}

/** The file a start keeps the tokens it minted in, when it does not print them. */
export const MINTED_TOKENS_FILE = 'bootstrap-tokens';

/**
 * Keeps tokens a start minted (bootstrap, seed) in `<data>/bootstrap-tokens`, readable by its owner only, as the
 * admin key is: on PostgreSQL the console is a production one, and whatever it prints, log collectors keep. Each
 * start that mints tokens appends; nothing else ever reads the file. Returns its path.
 */
export async function keepMintedTokens(dataDir: string, tokens: readonly { label: string; value: string }[], at = new Date()): Promise<string> {
  const path = join(dataDir, MINTED_TOKENS_FILE);
  const lines = tokens.map((t) => `${t.value}  ${t.label}`);
  await appendFile(path, `# minted ${at.toISOString()} (only their hashes are stored; delete this file once they are copied)\n${lines.join('\n')}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}

/** Where the server keeps its data, as a person reads it. */
export function storageDescription(config: Config): string {
  if (config.inMemory) return `in memory (files up to ${formatBytes(config.memoryMaxBytes)} in all; everything is gone when the server stops)`;
  const metadata = config.database ? 'PostgreSQL' : `SQLite in ${config.dataDir}`;
  const blobs = config.blobStore === 's3' ? `S3 bucket ${config.s3Bucket}` : `files in ${config.dataDir}`;
  return `${metadata}, ${blobs}`;
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1 && v % 1024 === 0) {
    v /= 1024;
    i++;
  }
  return `${v} ${units[i]}`;
}

export interface WelcomeFacts {
  baseUrl: string;
  config: Config;
  bootstrap: BootstrapResult | undefined;
  admin: { key: string; generated: boolean; path?: string | undefined };
  /** Tokens a start seed minted (shown once). */
  seededTokens: { org: string; user: string; value: string }[];
  /** Set when minted tokens went to this file instead of the console (PostgreSQL: docs/deployment.md). */
  tokenFile?: string | undefined;
}

/** The text `crm-media serve` prints for a person once it listens: where it is, who can get in, and a first request. */
export function welcomeText(f: WelcomeFacts): string {
  const { baseUrl, config, bootstrap: result, admin } = f;
  const lines = [`crm-media-server is listening on ${baseUrl}`, `  data:  ${storageDescription(config)}`];
  if (result) {
    lines.push(`  org:   ${result.org.name} (id ${result.org.id}, time zone ${result.org.timeZone})`);
    lines.push(`  admin: ${result.admin.name} <${result.admin.email}> (id ${result.admin.id})`);
  }
  const token = f.tokenFile ? undefined : (result?.newToken ?? (config.dev ? config.devToken : undefined));
  if (config.dev) {
    lines.push(`  development credentials (well-known and published: for tests only, never for real data):`);
    lines.push(`    access token (all scopes): ${token}`);
    lines.push(`    admin key:                 ${admin.key}`);
  } else if (result?.newToken && f.tokenFile) {
    lines.push(`  access token (all scopes): written to ${f.tokenFile} (readable by its owner only; CRM_MEDIA_PRINT_BOOTSTRAP_TOKEN=true prints it)`);
    lines.push(admin.path ? `  admin key: in ${admin.path}${admin.generated ? ' (new)' : ''}` : '  admin key: from configuration');
  } else {
    if (token) {
      lines.push(`  access token (all scopes; shown once, only its hash is stored):`);
      lines.push(`    ${token}`);
    } else if (result) {
      lines.push(`  access token: issue one with \`crm-media token issue --org ${result.org.id} --user ${result.admin.email}\``);
    }
    lines.push(admin.path ? `  admin key: in ${admin.path}${admin.generated ? ' (new)' : ''}` : '  admin key: from configuration');
  }
  if (f.tokenFile && f.seededTokens.length > 0) lines.push(`  seeded tokens: written to ${f.tokenFile}`);
  else for (const t of f.seededTokens) lines.push(`  seeded token for ${t.user} (org ${t.org}): ${t.value}`);
  const t = token ?? '<token>';
  lines.push('  try:');
  lines.push(
    `    curl -s -X POST ${baseUrl}/crm/v8/Leads -H "Authorization: Zoho-oauthtoken ${t}" -H "Content-Type: application/json" -d '{"data":[{"Last_Name":"Boyle"}]}'`,
  );
  lines.push(`    curl -s -X POST "${baseUrl}/crm/v8/Leads/<record id>/photo" -H "Authorization: Zoho-oauthtoken ${t}" -F "file=@img1.png"`);
  return lines.join('\n');
}

/**
 * The same facts as one structured record, for `--log-format json`. Secrets stay out of it: a newly minted token is
 * not a log field (the caller prints it on stderr, once); the published development credentials are no secret.
 */
export function welcomeRecord(f: WelcomeFacts): Record<string, unknown> {
  const { config, bootstrap: result } = f;
  return {
    url: f.baseUrl,
    data: config.inMemory ? 'memory' : config.database ? 'postgres' : config.dataDir,
    blob_store: config.inMemory ? 'memory' : config.blobStore,
    ...(config.inMemory ? { memory_max_bytes: config.memoryMaxBytes } : {}),
    ...(result ? { org: { id: result.org.id, name: result.org.name }, admin: { id: result.admin.id, email: result.admin.email } } : {}),
    dev: config.dev,
    ...(config.dev ? { access_token: config.devToken, admin_key: f.admin.key } : { admin_key_file: f.admin.path ?? null }),
  };
}
