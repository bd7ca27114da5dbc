/**
 * Seeding from a JSON file (`--seed FILE`, `crm-media seed FILE`, `POST /_admin/seed`). Re-running a seed is
 * safe: orgs are matched by id (or name), profiles by name, users by email, modules by API name, records and
 * tokens by the id or value they give, fault rules by their id (one derived from the rule when it gives none); what
 * exists is left alone. An org's `limits` are set as given on every run.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { AdminService } from '../domain/admin.js';
import { standardModule } from '../domain/modules.js';
import { faultInput, limitInput } from './limit-documents.js';
import { type FaultDocument, adminSchemas, faultSchema, limitsSchema } from './schemas.js';

const seedSchema = z.object({
  orgs: z.array(
    adminSchemas.org.extend({
      profiles: z.array(adminSchemas.profile).default([]),
      users: z.array(adminSchemas.user).default([]),
      modules: z.array(adminSchemas.module).default([]),
      records: z.array(adminSchemas.record).default([]),
      tokens: z.array(adminSchemas.token).default([]),
      limits: limitsSchema.optional(),
    }),
  ),
  faults: z.array(faultSchema).default([]),
});

export interface SeedReport {
  orgs: { id: string; name: string }[];
  /** Token values minted by this seed (those the file did not fix), shown once. */
  tokens: { org: string; user: string; value: string }[];
  created: number;
}

export class SeedError extends Error {}

export function parseSeed(json: unknown): z.output<typeof seedSchema> {
  const parsed = seedSchema.safeParse(json);
  if (!parsed.success) {
    throw new SeedError(`invalid seed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export async function readSeedFile(path: string): Promise<z.output<typeof seedSchema>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new SeedError(`cannot read seed file ${path}: ${(err as Error).message}`);
  }
  return parseSeed(json);
}

/** Applies the whole document in one transaction: a document that fails half-way leaves nothing behind. */
export function applySeed(admin: AdminService, seed: z.output<typeof seedSchema>): Promise<SeedReport> {
  return admin.atomically((tx) => applyAll(tx, seed));
}

async function applyAll(admin: AdminService, seed: z.output<typeof seedSchema>): Promise<SeedReport> {
  const report: SeedReport = { orgs: [], tokens: [], created: 0 };
  const limits = admin.limitsAdmin();
  const existingOrgs = await admin.listOrgs();
  for (const o of seed.orgs) {
    let org = existingOrgs.find((x) => (o.id ? x.id === o.id : x.name === o.name));
    if (!org) {
      org = await admin.createOrg({ id: o.id, name: o.name, timeZone: o.time_zone });
      report.created++;
    }
    report.orgs.push({ id: org.id, name: org.name });
    const profiles = await admin.listProfiles(org.id);
    for (const p of o.profiles) {
      if (profiles.some((x) => x.name.toLowerCase() === p.name.toLowerCase())) continue;
      await admin.createProfile(org.id, { id: p.id, name: p.name, isAdmin: p.admin, permissions: p.permissions });
      report.created++;
    }
    const users = await admin.listUsers(org.id);
    for (const u of o.users) {
      if (users.some((x) => x.email.toLowerCase() === u.email.toLowerCase())) continue;
      await admin.createUser(org.id, { id: u.id, name: u.name, email: u.email, profile: u.profile });
      report.created++;
    }
    for (const m of o.modules) {
      if (standardModule(m.api_name)) {
        if (m.sharing) await admin.setModuleSharing(org.id, m.api_name, m.sharing);
        continue;
      }
      if (await admin.findModuleSetting(org.id, m.api_name)) continue;
      await admin.createCustomModule(org.id, { apiName: m.api_name, singular: m.singular, plural: m.plural, sharing: m.sharing });
      report.created++;
    }
    for (const r of o.records) {
      if (r.id && (await admin.recordExists(org.id, r.id))) continue;
      await admin.createRecord(org.id, { id: r.id, module: r.module, owner: r.owner, data: r.data, state: r.state });
      report.created++;
    }
    for (const t of o.tokens) {
      if (t.value && (await admin.tokenValueKnown(t.value))) continue;
      const issued = await admin.issueToken(org.id, {
        user: t.user,
        value: t.value,
        scopes: t.scopes,
        expiresIn: t.expires_in,
        label: t.label,
      });
      if (!t.value) report.tokens.push({ org: org.id, user: t.user, value: issued.value });
      report.created++;
    }
    if (o.limits) await limits.setLimits(org.id, limitInput(o.limits));
  }
  const existingFaults = new Set((await limits.listFaults()).map((f) => f.id));
  for (const f of seed.faults) {
    const id = f.id ?? derivedFaultId(f);
    if (existingFaults.has(id)) continue;
    const { input, tokenValue } = faultInput({ ...f, id });
    await limits.addFault(input, tokenValue);
    existingFaults.add(id);
    report.created++;
  }
  return report;
}

/** A rule without an id gets one from its content, so that running the same seed again adds it once. */
function derivedFaultId(f: FaultDocument): string {
  return `seed-${createHash('sha256').update(JSON.stringify(f)).digest('hex').slice(0, 16)}`;
}
