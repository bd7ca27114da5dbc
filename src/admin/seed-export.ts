/**
 * The current state as a seed document (`GET /_admin/export`, the console's "Export"): every org with its profiles,
 * users, module settings, records with their photo and attachments (bytes inline, base64), OAuth clients with their
 * grant codes and refresh tokens, access tokens, workflow rules and the limits set on the org, and the fault rules —
 * ids and times included, secrets the server keeps only as hashes written as those hashes. Importing it into an
 * empty server (after a reset) restores the same state, and exporting again gives the same document. Not included:
 * webhook deliveries, credits spent and how often a fault rule fired (history, not state), fault rules with no
 * firing left (they do nothing), the movable clock's offset and the request journal. Users are named by email and
 * profiles by name, so a document reads (and edits) like a hand-written seed.
 */
import type { Attachment, CrmRecord, User } from '../domain/entities.js';
import type { BlobStore } from '../domain/ports/blob-store.js';
import type { MetadataStore } from '../domain/ports/metadata.js';
import { faultDocument, limitsDocument } from './limit-documents.js';
import type { SeedDocument } from './seed.js';

type ExportedOrg = SeedDocument['orgs'][number];

export interface ExportOptions {
  /** Include photos and file attachments with their bytes (default). Without: links only, no photos. */
  media: boolean;
}

const PAGE = 500;
const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
const byTimeThenId = <T extends { createdAt: number }>(key: (x: T) => string) => (a: T, b: T) =>
  a.createdAt - b.createdAt || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

export class ExportError extends Error {}

export async function exportSeed(source: { store: MetadataStore; blobs: BlobStore }, opts: ExportOptions): Promise<SeedDocument> {
  const orgs: ExportedOrg[] = [];
  for (const org of await source.store.directory.listOrgs()) orgs.push(await exportOrg(source, org.id, opts));
  const faults = (await source.store.faults.list()).filter((f) => f.remaining !== 0).map(faultDocument);
  return { version: 1, orgs, faults };
}

async function exportOrg({ store, blobs }: { store: MetadataStore; blobs: BlobStore }, orgId: string, opts: ExportOptions): Promise<ExportedOrg> {
  const org = (await store.directory.getOrg(orgId))!;
  const profiles = await store.directory.listProfiles(orgId);
  const users = await store.directory.listUsers(orgId);
  const byId = new Map<string, User>(users.map((u) => [u.id, u]));
  /** A user as the document names them: by email (an id that names no user of the org stays an id). */
  const who = (id: string) => byId.get(id)?.email ?? id;
  const profileName = new Map(profiles.map((p) => [p.id, p.name]));

  const records: NonNullable<ExportedOrg['records']> = [];
  // Bounded: each page advances the offset, and the number of records is finite.
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.records.listOfOrg(orgId, { limit: PAGE, offset });
    for (const r of page) records.push(await exportRecord(store, blobs, r, who, opts));
    if (page.length < PAGE) break;
  }

  const clients = (await store.oauth.listClients(orgId)).sort(byTimeThenId((c) => c.id));
  const codes = await store.oauth.listGrantCodes(orgId);
  const refreshTokens = await store.oauth.listRefreshTokens(orgId);
  const limits = await store.limits.getSettings(orgId);
  return {
    id: org.id,
    name: org.name,
    time_zone: org.timeZone,
    created_at: iso(org.createdAt),
    profiles: profiles.map((p) => ({ id: p.id, name: p.name, admin: p.isAdmin, permissions: p.permissions, created_at: iso(p.createdAt) })),
    users: users.map((u) => ({
      id: u.id,
      name: u.name,
      email: u.email,
      profile: profileName.get(u.profileId) ?? u.profileId,
      status: u.status,
      created_at: iso(u.createdAt),
    })),
    modules: (await store.directory.listModuleSettings(orgId)).map((m) =>
      m.custom
        ? { api_name: m.apiName, singular: m.singular, plural: m.plural, sharing: m.sharing, created_at: iso(m.createdAt) }
        : { api_name: m.apiName, sharing: m.sharing, created_at: iso(m.createdAt) },
    ),
    records,
    oauth_clients: clients.map((c) => ({
      client_id: c.id,
      name: c.name,
      user: who(c.userId),
      secret_hash: c.secretHash,
      created_at: iso(c.createdAt),
      grant_codes: codes
        .filter((g) => g.clientId === c.id)
        .sort(byTimeThenId((g) => g.codeHash))
        .map((g) => ({
          code_hash: g.codeHash,
          user: who(g.userId),
          scopes: g.scopes,
          expires_at: iso(g.expiresAt),
          used_at: isoOrNull(g.usedAt),
          created_at: iso(g.createdAt),
        })),
      refresh_tokens: refreshTokens
        .filter((t) => t.clientId === c.id)
        .sort(byTimeThenId((t) => t.id))
        .map((t) => ({ id: t.id, token_hash: t.tokenHash, user: who(t.userId), scopes: t.scopes, revoked_at: isoOrNull(t.revokedAt), created_at: iso(t.createdAt) })),
    })),
    tokens: (await store.tokens.list(orgId)).map((t) => ({
      id: t.id,
      user: who(t.userId),
      scopes: t.scopes,
      ...(t.label === null ? {} : { label: t.label }),
      token_hash: t.tokenHash,
      expires_at: isoOrNull(t.expiresAt),
      revoked_at: isoOrNull(t.revokedAt),
      created_at: iso(t.createdAt),
      client_id: t.clientId,
      refresh_token_id: t.refreshTokenId,
    })),
    workflows: (await store.workflows.list(orgId)).map((w) => ({
      id: w.id,
      name: w.name,
      module: w.module,
      event: w.event,
      url: w.webhookUrl,
      ...(w.secret === null ? {} : { secret: w.secret }),
      active: w.active,
      created_at: iso(w.createdAt),
    })),
    ...(limits ? { limits: limitsDocument(limits) } : {}),
  };
}

type ExportedRecord = NonNullable<ExportedOrg['records']>[number];

async function exportRecord(store: MetadataStore, blobs: BlobStore, r: CrmRecord, who: (id: string) => string, opts: ExportOptions): Promise<ExportedRecord> {
  const out: ExportedRecord = {
    id: r.id,
    module: r.module,
    owner: who(r.ownerId),
    state: r.state,
    data: r.data,
    created_at: iso(r.createdAt),
    created_by: who(r.createdBy),
    modified_at: iso(r.modifiedAt),
    modified_by: who(r.modifiedBy),
  };
  const photo = opts.media ? await store.photos.get(r.orgId, r.id) : undefined;
  if (photo) {
    out.photo = {
      file_name: photo.fileName,
      content_base64: (await bytesOf(blobs, photo.blobKey, `the photo of record ${r.id}`)).toString('base64'),
      created_by: who(photo.createdBy),
      created_at: iso(photo.createdAt),
    };
  }
  const attachments: Attachment[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.attachments.list(r.orgId, r.id, { limit: PAGE, offset });
    attachments.push(...page);
    if (page.length < PAGE) break;
  }
  out.attachments = [];
  for (const a of attachments.sort(byTimeThenId((x) => x.id))) {
    if (a.kind === 'file' && !opts.media) continue;
    out.attachments.push({
      id: a.id,
      file_name: a.fileName,
      title: a.title,
      ...(a.kind === 'link' ? { link_url: a.linkUrl } : { content_base64: (await bytesOf(blobs, a.blobKey!, `attachment ${a.id}`)).toString('base64') }),
      content_type: a.contentType,
      owner: who(a.ownerId),
      created_by: who(a.createdBy),
      created_at: iso(a.createdAt),
      modified_by: who(a.modifiedBy),
      modified_at: iso(a.modifiedAt),
    });
  }
  return out;
}

async function bytesOf(blobs: BlobStore, key: string, what: string): Promise<Buffer> {
  const reader = await blobs.open(key);
  if (!reader) throw new ExportError(`the bytes of ${what} are missing from the blob store`);
  const chunks: Buffer[] = [];
  for await (const chunk of reader.stream) chunks.push(chunk as Buffer);
  // Copied before the store may reuse its buffer.
  const bytes = Buffer.concat(chunks);
  reader.release?.();
  return bytes;
}
