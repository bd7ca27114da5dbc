/** JSON shapes of the admin API and the CLI (snake_case like Zoho; token hashes never leave the server). */
import type { AccessToken, CrmRecord, ModuleSetting, OAuthClient, Org, Profile, User, WorkflowRule } from '../domain/entities.js';
import type { DeliveryRecord } from '../domain/workflow-rules.js';

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
