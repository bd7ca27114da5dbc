/**
 * Seeding from a JSON document (`--seed FILE`, `crm-media seed FILE`, `POST /_admin/seed`), and the document that
 * `GET /_admin/export` writes: one format, so that an exported state re-imports to the same state (seed-export.ts).
 * Re-running a seed is safe: orgs are matched by id (or name), profiles by name, users by email, modules by API name,
 * records, tokens, OAuth clients and workflow rules by the id (or value, or hash) they give; what exists is left
 * alone (a record that exists keeps its photo and attachments). Fault rules are matched by their id (one derived
 * from the rule when it gives none); an org's `limits` are set as given on every run.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { AdminService } from '../domain/admin.js';
import { standardModule } from '../domain/modules.js';
import type { WorkflowAdmin } from '../domain/workflow-rules.js';
import type { Runtime } from '../runtime.js';
import { faultInput, limitInput } from './limit-documents.js';
import { type FaultDocument, limitsSchema, seedFaultSchema, seedSchemas } from './schemas.js';
import { SeedRestore } from './seed-restore.js';

export const seedSchema = z.object({
  /** The format's version; documents without one are version 1. */
  version: z.literal(1).optional(),
  orgs: z.array(
    seedSchemas.org.extend({
      profiles: z.array(seedSchemas.profile).default([]),
      users: z.array(seedSchemas.user).default([]),
      modules: z.array(seedSchemas.module).default([]),
      records: z.array(seedSchemas.record).default([]),
      oauth_clients: z.array(seedSchemas.oauthClient).default([]),
      tokens: z.array(seedSchemas.token).default([]),
      workflows: z.array(seedSchemas.workflow).default([]),
      limits: limitsSchema.optional(),
    }),
  ),
  faults: z.array(seedFaultSchema).default([]),
});

/** A seed document as written (defaults not yet applied): what the export produces and the console sends. */
export type SeedDocument = z.input<typeof seedSchema>;
type Seed = z.output<typeof seedSchema>;
type SeedOrg = Seed['orgs'][number];

export interface SeedReport {
  orgs: { id: string; name: string }[];
  /** Token values minted by this seed (those the file did not fix), shown once. */
  tokens: { org: string; user: string; value: string }[];
  /** Client secrets minted by this seed (clients given without a secret or its hash), shown once. */
  client_secrets: { org: string; client_id: string; secret: string }[];
  created: number;
}

export class SeedError extends Error {}

export function parseSeed(json: unknown): Seed {
  const parsed = seedSchema.safeParse(json);
  if (!parsed.success) {
    throw new SeedError(`invalid seed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export async function readSeedFile(path: string): Promise<Seed> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new SeedError(`cannot read seed file ${path}: ${(err as Error).message}`);
  }
  return parseSeed(json);
}

type SeedRuntime = Pick<Runtime, 'store' | 'admin' | 'workflows' | 'blobs' | 'config' | 'now' | 'limitsChanged'>;

/**
 * Applies the whole document in one transaction: a document that fails half-way leaves nothing behind (bytes it
 * already wrote are removed again). Its limits and fault rules are in force in this process when it returns (they
 * are reread after the commit: a reread inside the transaction may not see them).
 */
export async function applySeed(rt: SeedRuntime, seed: Seed): Promise<SeedReport> {
  const c = rt.config;
  let restore: SeedRestore | undefined;
  try {
    const report = await rt.store.transaction(async (tx) => {
      restore = new SeedRestore(
        tx,
        rt.blobs,
        { photoMaxBytes: c.photoMaxBytes, photoMaxPixels: c.photoMaxPixels, attachmentMaxBytes: c.attachmentMaxBytes, contentHash: c.contentHash === 'sha256' },
        rt.now,
      );
      return applyAll({ admin: rt.admin.within(tx), workflows: rt.workflows.within(tx), restore }, seed);
    });
    await rt.limitsChanged();
    return report;
  } catch (err) {
    await restore?.discard();
    throw err;
  }
}

interface Seeding {
  admin: AdminService;
  workflows: WorkflowAdmin;
  restore: SeedRestore;
}

const ms = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));
const msOrNull = (iso: string | null | undefined) => (iso === undefined ? undefined : iso === null ? null : Date.parse(iso));

async function applyAll(s: Seeding, seed: Seed): Promise<SeedReport> {
  const report: SeedReport = { orgs: [], tokens: [], client_secrets: [], created: 0 };
  const limits = s.admin.limitsAdmin();
  const existingOrgs = await s.admin.listOrgs();
  for (const o of seed.orgs) {
    let org = existingOrgs.find((x) => (o.id ? x.id === o.id : x.name === o.name));
    if (!org) {
      // A new org is made with the document's profiles, so that Administrator and Standard keep their ids.
      org = await s.admin.createOrg({ id: o.id, name: o.name, timeZone: o.time_zone, createdAt: ms(o.created_at), profiles: o.profiles.map(profileOf) });
      report.created += 1 + o.profiles.length;
    } else {
      const profiles = await s.admin.listProfiles(org.id);
      for (const p of o.profiles) {
        if (profiles.some((x) => x.name.toLowerCase() === p.name.toLowerCase())) continue;
        await s.admin.createProfile(org.id, profileOf(p));
        report.created++;
      }
    }
    report.orgs.push({ id: org.id, name: org.name });
    report.created += await applyOrg(s, org.id, o, report);
    if (o.limits) await limits.setLimits(org.id, limitInput(o.limits));
  }
  const existingFaults = new Set((await limits.listFaults()).map((f) => f.id));
  for (const f of seed.faults) {
    const id = f.id ?? derivedFaultId(f);
    if (existingFaults.has(id)) continue;
    const { input, tokenValue } = faultInput({ ...f, id });
    await limits.addFault({ ...input, createdAt: ms(f.created_at) }, tokenValue);
    existingFaults.add(id);
    report.created++;
  }
  return report;
}

/** A rule without an id gets one from its content, so that running the same seed again adds it once. */
function derivedFaultId(f: FaultDocument): string {
  return `seed-${createHash('sha256').update(JSON.stringify(f)).digest('hex').slice(0, 16)}`;
}

function profileOf(p: SeedOrg['profiles'][number]) {
  return { id: p.id, name: p.name, isAdmin: p.admin, permissions: p.permissions, createdAt: ms(p.created_at) };
}

/** Everything of one org but the org and its profiles; returns how many entities it made. */
async function applyOrg(s: Seeding, orgId: string, o: SeedOrg, report: SeedReport): Promise<number> {
  const { admin, restore } = s;
  let created = 0;
  const users = await admin.listUsers(orgId);
  for (const u of o.users) {
    if (users.some((x) => x.email.toLowerCase() === u.email.toLowerCase())) continue;
    await admin.createUser(orgId, { id: u.id, name: u.name, email: u.email, profile: u.profile, status: u.status, createdAt: ms(u.created_at) });
    created++;
  }
  const userId = async (ref: string | undefined, fallback: string) => (ref ? (await admin.findUser(orgId, ref)).id : fallback);
  for (const m of o.modules) {
    if (standardModule(m.api_name)) {
      if (m.sharing) await admin.setModuleSharing(orgId, m.api_name, m.sharing, ms(m.created_at));
      continue;
    }
    if (await admin.findModuleSetting(orgId, m.api_name)) continue;
    await admin.createCustomModule(orgId, { apiName: m.api_name, singular: m.singular, plural: m.plural, sharing: m.sharing, createdAt: ms(m.created_at) });
    created++;
  }
  for (const r of o.records) {
    if (r.id && (await admin.recordExists(orgId, r.id))) continue;
    const record = await admin.createRecord(orgId, {
      id: r.id,
      module: r.module,
      owner: r.owner,
      data: r.data,
      state: r.state,
      createdAt: ms(r.created_at),
      createdBy: r.created_by,
      modifiedAt: ms(r.modified_at),
      modifiedBy: r.modified_by,
    });
    created++;
    if (r.photo) {
      const p = r.photo;
      await restore.photo(record, {
        fileName: p.file_name,
        bytes: Buffer.from(p.content_base64, 'base64'),
        createdBy: await userId(p.created_by, record.ownerId),
        createdAt: ms(p.created_at),
      });
      created++;
    }
    for (const a of r.attachments) {
      const owner = await userId(a.owner, record.ownerId);
      await restore.attachment(record, {
        id: a.id,
        fileName: a.file_name,
        title: a.title ?? null,
        linkUrl: a.link_url ?? null,
        contentType: a.content_type ?? null,
        bytes: a.content_base64 === undefined ? undefined : Buffer.from(a.content_base64, 'base64'),
        ownerId: owner,
        createdBy: await userId(a.created_by, owner),
        createdAt: ms(a.created_at),
        modifiedBy: await userId(a.modified_by, owner),
        modifiedAt: ms(a.modified_at),
      });
      created++;
    }
  }
  for (const c of o.oauth_clients) {
    if (c.client_id && (await restore.clientExists(c.client_id))) continue;
    const clientUser = (await admin.findUser(orgId, c.user)).id;
    const client = await restore.client(orgId, { id: c.client_id, name: c.name, userId: clientUser, secret: c.secret, secretHash: c.secret_hash, createdAt: ms(c.created_at) });
    if (client.mintedSecret) report.client_secrets.push({ org: orgId, client_id: client.id, secret: client.mintedSecret });
    created++;
    for (const g of c.grant_codes) {
      const grant = { code: g.code, codeHash: g.code_hash, scopes: g.scopes, expiresAt: Date.parse(g.expires_at), usedAt: msOrNull(g.used_at) ?? null };
      await restore.grantCode(orgId, client.id, { ...grant, userId: await userId(g.user, clientUser), createdAt: ms(g.created_at) });
      created++;
    }
    for (const t of c.refresh_tokens) {
      const refresh = { id: t.id, value: t.value, tokenHash: t.token_hash, scopes: t.scopes, revokedAt: msOrNull(t.revoked_at) ?? null };
      await restore.refreshToken(orgId, client.id, { ...refresh, userId: await userId(t.user, clientUser), createdAt: ms(t.created_at) });
      created++;
    }
  }
  for (const t of o.tokens) {
    if (t.value && (await admin.tokenValueKnown(t.value))) continue;
    if (t.token_hash && (await admin.tokenHashKnown(t.token_hash))) continue;
    const issued = await admin.issueToken(orgId, {
      user: t.user,
      value: t.value,
      scopes: t.scopes,
      expiresIn: t.expires_in,
      label: t.label,
      id: t.id,
      tokenHash: t.token_hash,
      expiresAt: msOrNull(t.expires_at),
      revokedAt: msOrNull(t.revoked_at),
      createdAt: ms(t.created_at),
      clientId: t.client_id,
      refreshTokenId: t.refresh_token_id,
    });
    if (!t.value && !t.token_hash) report.tokens.push({ org: orgId, user: t.user, value: issued.value });
    created++;
  }
  const rules = await s.workflows.listRules(orgId);
  for (const w of o.workflows) {
    if (w.id && rules.some((x) => x.id === w.id)) continue;
    await s.workflows.createRule(orgId, { ...w, createdAt: ms(w.created_at) });
    created++;
  }
  return created;
}
