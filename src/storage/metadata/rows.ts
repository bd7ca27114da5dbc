/**
 * Rows to entities and back: the one place that knows how each entity is laid out in its table (JSON as text,
 * booleans as 0/1, times and sizes as bigint epoch milliseconds that some drivers return as strings).
 */
import type {
  AccessToken,
  Attachment,
  CrmRecord,
  DeliveryAttempt,
  Edition,
  FaultAction,
  FaultMatch,
  FaultRule,
  GrantCode,
  ModuleSetting,
  OAuthClient,
  Org,
  OutboxEvent,
  OrgLimitSettings,
  OutboxStatus,
  Photo,
  Profile,
  RecordState,
  RefreshToken,
  Sharing,
  User,
  WorkflowEvent,
  WorkflowRule,
} from '../../domain/entities.js';
import type {
  AccessTokensTable,
  AttachmentsTable,
  DeliveryAttemptsTable,
  FaultRulesTable,
  OrgLimitsTable,
  GrantCodesTable,
  ModuleSettingsTable,
  OAuthClientsTable,
  OrgsTable,
  OutboxEventsTable,
  PhotosTable,
  ProfilesTable,
  RecordsTable,
  RefreshTokensTable,
  UsersTable,
  WorkflowRulesTable,
} from './schema.js';

/** Some drivers return bigint columns as strings; every time and size passes through here. */
function numberFrom(v: number | string | bigint): number {
  return typeof v === 'number' ? v : Number(v);
}
function numberOrNullFrom(v: number | string | bigint | null): number | null {
  return v === null ? null : numberFrom(v);
}

export const readOrg = (r: OrgsTable): Org => ({ id: r.id, name: r.name, timeZone: r.time_zone, createdAt: numberFrom(r.created_at) });
export const writeOrg = (o: Org): OrgsTable => ({ id: o.id, name: o.name, time_zone: o.timeZone, created_at: o.createdAt });

export const readProfile = (r: ProfilesTable): Profile => ({
  id: r.id,
  orgId: r.org_id,
  name: r.name,
  isAdmin: numberFrom(r.is_admin) === 1,
  permissions: JSON.parse(r.permissions) as Profile['permissions'],
  createdAt: numberFrom(r.created_at),
});
export const writeProfile = (p: Profile): ProfilesTable => ({
  id: p.id,
  org_id: p.orgId,
  name: p.name,
  is_admin: p.isAdmin ? 1 : 0,
  permissions: JSON.stringify(p.permissions),
  created_at: p.createdAt,
});

export const readUser = (r: UsersTable): User => ({
  id: r.id,
  orgId: r.org_id,
  profileId: r.profile_id,
  name: r.name,
  email: r.email,
  status: r.status === 'inactive' ? 'inactive' : 'active',
  createdAt: numberFrom(r.created_at),
});
export const writeUser = (u: User): UsersTable => ({
  id: u.id,
  org_id: u.orgId,
  profile_id: u.profileId,
  name: u.name,
  email: u.email,
  status: u.status,
  created_at: u.createdAt,
});

export const readModuleSetting = (r: ModuleSettingsTable): ModuleSetting => ({
  orgId: r.org_id,
  apiName: r.api_name,
  custom: numberFrom(r.custom) === 1,
  singular: r.singular,
  plural: r.plural,
  sharing: r.sharing as Sharing,
  createdAt: numberFrom(r.created_at),
});
export const writeModuleSetting = (m: ModuleSetting): ModuleSettingsTable => ({
  org_id: m.orgId,
  api_name: m.apiName,
  api_name_lower: m.apiName.toLowerCase(),
  custom: m.custom ? 1 : 0,
  singular: m.singular,
  plural: m.plural,
  sharing: m.sharing,
  created_at: m.createdAt,
});

export const readAccessToken = (r: AccessTokensTable): AccessToken => ({
  id: r.id,
  orgId: r.org_id,
  userId: r.user_id,
  tokenHash: r.token_hash,
  scopes: r.scopes,
  label: r.label,
  expiresAt: numberOrNullFrom(r.expires_at),
  revokedAt: numberOrNullFrom(r.revoked_at),
  createdAt: numberFrom(r.created_at),
  clientId: r.client_id ?? null,
  refreshTokenId: r.refresh_token_id ?? null,
});
export const writeAccessToken = (t: AccessToken): AccessTokensTable => ({
  id: t.id,
  org_id: t.orgId,
  user_id: t.userId,
  token_hash: t.tokenHash,
  scopes: t.scopes,
  label: t.label,
  expires_at: t.expiresAt,
  revoked_at: t.revokedAt,
  created_at: t.createdAt,
  client_id: t.clientId,
  refresh_token_id: t.refreshTokenId,
});

export const readOAuthClient = (r: OAuthClientsTable): OAuthClient => ({
  id: r.id,
  orgId: r.org_id,
  userId: r.user_id,
  name: r.name,
  secretHash: r.secret_hash,
  createdAt: numberFrom(r.created_at),
});
export const writeOAuthClient = (c: OAuthClient): OAuthClientsTable => ({
  id: c.id,
  org_id: c.orgId,
  user_id: c.userId,
  name: c.name,
  secret_hash: c.secretHash,
  created_at: c.createdAt,
});

export const readGrantCode = (r: GrantCodesTable): GrantCode => ({
  codeHash: r.code_hash,
  clientId: r.client_id,
  orgId: r.org_id,
  userId: r.user_id,
  scopes: r.scopes,
  expiresAt: numberFrom(r.expires_at),
  usedAt: numberOrNullFrom(r.used_at),
  createdAt: numberFrom(r.created_at),
});
export const writeGrantCode = (g: GrantCode): GrantCodesTable => ({
  code_hash: g.codeHash,
  client_id: g.clientId,
  org_id: g.orgId,
  user_id: g.userId,
  scopes: g.scopes,
  expires_at: g.expiresAt,
  used_at: g.usedAt,
  created_at: g.createdAt,
});

export const readRefreshToken = (r: RefreshTokensTable): RefreshToken => ({
  id: r.id,
  tokenHash: r.token_hash,
  clientId: r.client_id,
  orgId: r.org_id,
  userId: r.user_id,
  scopes: r.scopes,
  revokedAt: numberOrNullFrom(r.revoked_at),
  createdAt: numberFrom(r.created_at),
});
export const writeRefreshToken = (t: RefreshToken): RefreshTokensTable => ({
  id: t.id,
  token_hash: t.tokenHash,
  client_id: t.clientId,
  org_id: t.orgId,
  user_id: t.userId,
  scopes: t.scopes,
  revoked_at: t.revokedAt,
  created_at: t.createdAt,
});

export const readWorkflowRule = (r: WorkflowRulesTable): WorkflowRule => ({
  id: r.id,
  orgId: r.org_id,
  name: r.name,
  module: r.module,
  event: r.event as WorkflowEvent,
  webhookUrl: r.webhook_url,
  secret: r.secret,
  active: numberFrom(r.active) === 1,
  createdAt: numberFrom(r.created_at),
});
export const writeWorkflowRule = (w: WorkflowRule): WorkflowRulesTable => ({
  id: w.id,
  org_id: w.orgId,
  name: w.name,
  module: w.module,
  event: w.event,
  webhook_url: w.webhookUrl,
  secret: w.secret,
  active: w.active ? 1 : 0,
  created_at: w.createdAt,
});

export const readOutboxEvent = (r: OutboxEventsTable): OutboxEvent => ({
  id: r.id,
  orgId: r.org_id,
  ruleId: r.rule_id,
  event: r.event as WorkflowEvent,
  payload: r.payload,
  status: r.status as OutboxStatus,
  attempts: numberFrom(r.attempts),
  nextAttemptAt: numberFrom(r.next_attempt_at),
  lockedUntil: numberOrNullFrom(r.locked_until),
  lastError: r.last_error,
  createdAt: numberFrom(r.created_at),
  deliveredAt: numberOrNullFrom(r.delivered_at),
});
export const writeOutboxEvent = (e: OutboxEvent): OutboxEventsTable => ({
  id: e.id,
  org_id: e.orgId,
  rule_id: e.ruleId,
  event: e.event,
  payload: e.payload,
  status: e.status,
  attempts: e.attempts,
  next_attempt_at: e.nextAttemptAt,
  locked_until: e.lockedUntil,
  last_error: e.lastError,
  created_at: e.createdAt,
  delivered_at: e.deliveredAt,
});

export const readDeliveryAttempt = (r: DeliveryAttemptsTable): DeliveryAttempt => ({
  id: r.id,
  eventId: r.event_id,
  attempt: numberFrom(r.attempt),
  startedAt: numberFrom(r.started_at),
  durationMs: numberFrom(r.duration_ms),
  statusCode: r.status_code === null ? null : numberFrom(r.status_code),
  error: r.error,
});
export const writeDeliveryAttempt = (a: DeliveryAttempt): DeliveryAttemptsTable => ({
  id: a.id,
  event_id: a.eventId,
  attempt: a.attempt,
  started_at: a.startedAt,
  duration_ms: a.durationMs,
  status_code: a.statusCode,
  error: a.error,
});

export const readRecord = (r: RecordsTable): CrmRecord => ({
  id: r.id,
  orgId: r.org_id,
  module: r.module,
  ownerId: r.owner_id,
  data: JSON.parse(r.data) as Record<string, unknown>,
  state: r.state as RecordState,
  createdBy: r.created_by,
  createdAt: numberFrom(r.created_at),
  modifiedBy: r.modified_by,
  modifiedAt: numberFrom(r.modified_at),
});
export const writeRecord = (r: CrmRecord): RecordsTable => ({
  id: r.id,
  org_id: r.orgId,
  module: r.module,
  owner_id: r.ownerId,
  data: JSON.stringify(r.data),
  state: r.state,
  created_by: r.createdBy,
  created_at: r.createdAt,
  modified_by: r.modifiedBy,
  modified_at: r.modifiedAt,
});

export const readPhoto = (r: PhotosTable): Photo => ({
  orgId: r.org_id,
  recordId: r.record_id,
  blobKey: r.blob_key,
  fileName: r.file_name,
  contentType: r.content_type,
  size: numberFrom(r.size),
  width: numberFrom(r.width),
  height: numberFrom(r.height),
  sha256: r.sha256,
  createdBy: r.created_by,
  createdAt: numberFrom(r.created_at),
});
export const writePhoto = (p: Photo): PhotosTable => ({
  org_id: p.orgId,
  record_id: p.recordId,
  blob_key: p.blobKey,
  file_name: p.fileName,
  content_type: p.contentType,
  size: p.size,
  width: p.width,
  height: p.height,
  sha256: p.sha256,
  created_by: p.createdBy,
  created_at: p.createdAt,
});

export const readAttachment = (r: AttachmentsTable): Attachment => ({
  id: r.id,
  orgId: r.org_id,
  recordId: r.record_id,
  module: r.module,
  kind: r.kind === 'link' ? 'link' : 'file',
  fileName: r.file_name,
  title: r.title,
  linkUrl: r.link_url,
  contentType: r.content_type,
  size: numberFrom(r.size),
  blobKey: r.blob_key,
  sha256: r.sha256,
  ownerId: r.owner_id,
  createdBy: r.created_by,
  createdAt: numberFrom(r.created_at),
  modifiedBy: r.modified_by,
  modifiedAt: numberFrom(r.modified_at),
});
export const writeAttachment = (a: Attachment): AttachmentsTable => ({
  id: a.id,
  org_id: a.orgId,
  record_id: a.recordId,
  module: a.module,
  kind: a.kind,
  file_name: a.fileName,
  title: a.title,
  link_url: a.linkUrl,
  content_type: a.contentType,
  size: a.size,
  blob_key: a.blobKey,
  sha256: a.sha256,
  owner_id: a.ownerId,
  created_by: a.createdBy,
  created_at: a.createdAt,
  modified_by: a.modifiedBy,
  modified_at: a.modifiedAt,
});

export const readOrgLimits = (r: OrgLimitsTable): OrgLimitSettings => ({
  orgId: r.org_id,
  edition: r.edition as Edition | null,
  users: numberOrNullFrom(r.users),
  credits: numberOrNullFrom(r.credits),
  concurrency: numberOrNullFrom(r.concurrency),
  subConcurrency: numberOrNullFrom(r.sub_concurrency),
  storageBytes: numberOrNullFrom(r.storage_bytes),
  recordAttachmentBytes: numberOrNullFrom(r.record_attachment_bytes),
  tokenLimits: r.token_limits === null ? null : numberFrom(r.token_limits) === 1,
  updatedAt: numberFrom(r.updated_at),
});
export const writeOrgLimits = (s: OrgLimitSettings): OrgLimitsTable => ({
  org_id: s.orgId,
  edition: s.edition,
  users: s.users,
  credits: s.credits,
  concurrency: s.concurrency,
  sub_concurrency: s.subConcurrency,
  storage_bytes: s.storageBytes,
  record_attachment_bytes: s.recordAttachmentBytes,
  token_limits: s.tokenLimits === null ? null : s.tokenLimits ? 1 : 0,
  updated_at: s.updatedAt,
});

export const readFaultRule = (r: FaultRulesTable): FaultRule => ({
  id: r.id,
  match: JSON.parse(r.match) as FaultMatch,
  action: JSON.parse(r.action) as FaultAction,
  probability: r.probability === null ? null : Number(r.probability),
  remaining: numberOrNullFrom(r.remaining),
  until: numberOrNullFrom(r.until),
  fired: numberFrom(r.fired),
  createdAt: numberFrom(r.created_at),
});
export const writeFaultRule = (f: FaultRule): FaultRulesTable => ({
  id: f.id,
  match: JSON.stringify(f.match),
  action: JSON.stringify(f.action),
  probability: f.probability,
  remaining: f.remaining,
  until: f.until,
  fired: f.fired,
  created_at: f.createdAt,
});
