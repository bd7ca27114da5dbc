/**
 * JSON shapes of the admin API, the CLI and the console (snake_case like Zoho). Hashes of tokens, secrets and codes
 * never appear here; only a seed export carries them (seed-export.ts).
 */
import type {
  AccessToken,
  Attachment,
  CrmRecord,
  GrantCode,
  ModuleSetting,
  OAuthClient,
  Org,
  Photo,
  Profile,
  RefreshToken,
  User,
  WorkflowRule,
} from '../domain/entities.js';
import type { DeliveryRecord } from '../domain/workflow-rules.js';
import type { RequestEntry } from '../server/request-journal.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const orgJson = (o: Org) => ({ id: o.id, name: o.name, time_zone: o.timeZone, created_at: iso(o.createdAt) });

export const profileJson = (p: Profile) => ({
  id: p.id,
  name: p.name,
  admin: p.isAdmin,
  permissions: p.permissions,
  created_at: iso(p.createdAt),
});

export const userJson = (u: User) => ({
  id: u.id,
  name: u.name,
  email: u.email,
  profile_id: u.profileId,
  status: u.status,
  created_at: iso(u.createdAt),
});

export const moduleJson = (m: ModuleSetting) => ({
  api_name: m.apiName,
  custom: m.custom,
  singular: m.singular,
  plural: m.plural,
  sharing: m.sharing,
});

export const recordJson = (r: CrmRecord) => ({
  id: r.id,
  module: r.module,
  owner_id: r.ownerId,
  state: r.state,
  data: r.data,
  created_at: iso(r.createdAt),
  modified_at: iso(r.modifiedAt),
});

export const tokenJson = (t: AccessToken) => ({
  id: t.id,
  user_id: t.userId,
  scopes: t.scopes,
  label: t.label,
  expires_at: iso(t.expiresAt),
  revoked_at: iso(t.revokedAt),
  created_at: iso(t.createdAt),
});

export const oauthClientJson = (c: OAuthClient) => ({
  client_id: c.id,
  name: c.name,
  user_id: c.userId,
  created_at: iso(c.createdAt),
});

export const workflowRuleJson = (w: WorkflowRule) => ({
  id: w.id,
  name: w.name,
  module: w.module,
  event: w.event,
  url: w.webhookUrl,
  signed: w.secret !== null,
  active: w.active,
  created_at: iso(w.createdAt),
});

export const deliveryJson = (d: DeliveryRecord) => ({
  id: d.event.id,
  rule_id: d.event.ruleId,
  event: d.event.event,
  status: d.event.status,
  attempts: d.event.attempts,
  next_attempt_at: d.event.status === 'pending' ? iso(d.event.nextAttemptAt) : null,
  last_error: d.event.lastError,
  created_at: iso(d.event.createdAt),
  delivered_at: iso(d.event.deliveredAt),
  payload: JSON.parse(d.event.payload) as unknown,
  attempt_log: d.attempts.map((a) => ({
    attempt: a.attempt,
    started_at: iso(a.startedAt),
    duration_ms: a.durationMs,
    status_code: a.statusCode,
    error: a.error,
  })),
});

export const journalEntryJson = (e: RequestEntry) => ({
  seq: e.seq,
  id: e.id,
  time: new Date(e.time).toISOString(),
  method: e.method,
  path: e.path,
  query: e.query,
  operation: e.operation,
  org_id: e.orgId,
  user_id: e.userId,
  client_id: e.clientId,
  record_id: e.recordId,
  status: e.status,
  code: e.code,
  latency_ms: e.latencyMs,
  bytes_in: e.bytesIn,
  bytes_out: e.bytesOut,
  marks: e.marks,
});

export const photoJson = (p: Photo) => ({
  file_name: p.fileName,
  content_type: p.contentType,
  size: p.size,
  width: p.width,
  height: p.height,
  sha256: p.sha256,
  created_by: p.createdBy,
  created_at: iso(p.createdAt),
});

export const attachmentJson = (a: Attachment) => ({
  id: a.id,
  kind: a.kind,
  file_name: a.fileName,
  title: a.title,
  link_url: a.linkUrl,
  content_type: a.contentType,
  size: a.size,
  sha256: a.sha256,
  owner_id: a.ownerId,
  created_by: a.createdBy,
  created_at: iso(a.createdAt),
  modified_at: iso(a.modifiedAt),
});

/** A grant code without the code (only its hash is kept): who, what, and whether it can still be exchanged. */
export const grantCodeJson = (g: GrantCode, now: number) => ({
  client_id: g.clientId,
  user_id: g.userId,
  scopes: g.scopes,
  status: g.usedAt !== null ? 'used' : g.expiresAt <= now ? 'expired' : 'unused',
  expires_at: iso(g.expiresAt),
  used_at: iso(g.usedAt),
  created_at: iso(g.createdAt),
});

export const refreshTokenJson = (t: RefreshToken) => ({
  id: t.id,
  client_id: t.clientId,
  user_id: t.userId,
  scopes: t.scopes,
  revoked_at: iso(t.revokedAt),
  created_at: iso(t.createdAt),
});
