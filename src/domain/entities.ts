/**
 * The entities the rules work on. Stores map their rows to these; nothing here knows how they are kept.
 * Times are epoch milliseconds; ids are Zoho-style strings of digits.
 */
import type { ErrorName } from './errors.js';
import type { ResetPoint } from './fault-vocabulary.js';

export interface Org {
  id: string;
  name: string;
  /** IANA time zone; API times are rendered with this zone's UTC offset. */
  timeZone: string;
  createdAt: number;
}

export interface ModulePermissions {
  view: boolean;
  create: boolean;
  edit: boolean;
  delete: boolean;
  /** Tab permission: false hides the module from the profile (INVALID_MODULE); absent means shown. */
  tab?: boolean;
}

/** Per-module permissions keyed by module API name (any case); `*` is the default for modules not listed. */
export type PermissionMap = Record<string, ModulePermissions>;

export interface Profile {
  id: string;
  orgId: string;
  name: string;
  /** Administrators see and change every record whatever the sharing setting. */
  isAdmin: boolean;
  permissions: PermissionMap;
  createdAt: number;
}

export interface User {
  id: string;
  orgId: string;
  profileId: string;
  name: string;
  email: string;
  status: 'active' | 'inactive';
  createdAt: number;
}

export const SHARING_SETTINGS = ['public_read_write', 'public_read_only', 'private'] as const;
export type Sharing = (typeof SHARING_SETTINGS)[number];

/** A custom module, or an org's override of a standard module's sharing setting. */
export interface ModuleSetting {
  orgId: string;
  apiName: string;
  custom: boolean;
  singular: string;
  plural: string;
  sharing: Sharing;
  createdAt: number;
}

export const RECORD_STATES = [
  'normal',
  /** Zia image validation is checking the record's photo: the record is locked. */
  'zia_vision_processing',
  /** A merge of duplicates involving the record is running: the record is locked. */
  'merge_in_progress',
  /** The record waits in Zia record approval. */
  'awaiting_approval',
  /** Zia image validation rejected the record's photo. */
  'photo_rejected',
] as const;
export type RecordState = (typeof RECORD_STATES)[number];

export interface CrmRecord {
  id: string;
  orgId: string;
  module: string;
  ownerId: string;
  /** Field values exactly as the client sent them. */
  data: Record<string, unknown>;
  state: RecordState;
  createdBy: string;
  createdAt: number;
  modifiedBy: string;
  modifiedAt: number;
}

export interface Photo {
  orgId: string;
  recordId: string;
  blobKey: string;
  fileName: string;
  contentType: string;
  size: number;
  width: number;
  height: number;
  /** SHA-256 of the bytes when content hashing is on (CRM_MEDIA_CONTENT_HASH=sha256), else null. */
  sha256: string | null;
  createdBy: string;
  createdAt: number;
}

export interface Attachment {
  id: string;
  orgId: string;
  recordId: string;
  module: string;
  kind: 'file' | 'link';
  fileName: string;
  title: string | null;
  linkUrl: string | null;
  contentType: string | null;
  size: number;
  blobKey: string | null;
  sha256: string | null;
  ownerId: string;
  createdBy: string;
  createdAt: number;
  modifiedBy: string;
  modifiedAt: number;
}

export interface AccessToken {
  id: string;
  orgId: string;
  userId: string;
  /** SHA-256 of the token value (hex); the value itself is never stored. */
  tokenHash: string;
  scopes: string;
  label: string | null;
  expiresAt: number | null;
  revokedAt: number | null;
  createdAt: number;
  /** The OAuth client that minted it (token server), if any. */
  clientId: string | null;
  /** The refresh token it was minted from, if any; revoking that revokes this. */
  refreshTokenId: string | null;
}

/** A "self client" of the token server: acts for one user of one org. */
export interface OAuthClient {
  id: string;
  orgId: string;
  userId: string;
  name: string;
  /** SHA-256 of the client secret. */
  secretHash: string;
  createdAt: number;
}

export interface GrantCode {
  codeHash: string;
  clientId: string;
  orgId: string;
  userId: string;
  scopes: string;
  expiresAt: number;
  usedAt: number | null;
  createdAt: number;
}

export interface RefreshToken {
  id: string;
  tokenHash: string;
  clientId: string;
  orgId: string;
  userId: string;
  scopes: string;
  revokedAt: number | null;
  createdAt: number;
}

export const WORKFLOW_EVENTS = ['photo_uploaded', 'photo_deleted', 'attachment_added', 'attachment_deleted'] as const;
export type WorkflowEvent = (typeof WORKFLOW_EVENTS)[number];

export interface WorkflowRule {
  id: string;
  orgId: string;
  name: string;
  /** Module API name the rule watches. */
  module: string;
  event: WorkflowEvent;
  webhookUrl: string;
  /** HMAC-SHA256 signing secret for the webhook, if any. */
  secret: string | null;
  active: boolean;
  createdAt: number;
}

export type OutboxStatus = 'pending' | 'delivered' | 'failed';

/** One event to deliver to one rule's webhook; written in the transaction of the change that caused it. */
export interface OutboxEvent {
  id: string;
  orgId: string;
  ruleId: string;
  event: WorkflowEvent;
  /** The JSON body the webhook receives. */
  payload: string;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: number;
  /** While an instance delivers it, others leave it alone until this time. */
  lockedUntil: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

export interface DeliveryAttempt {
  id: string;
  eventId: string;
  attempt: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
}

// Limits and faults: an org's configured limits and the rules of injected faults, as the stores keep them.

export const EDITIONS = ['free', 'standard', 'professional', 'enterprise', 'ultimate'] as const;
export type Edition = (typeof EDITIONS)[number];

/** An org's configured limits: an edition preset (for a number of user licences), explicit figures, or both. */
export interface OrgLimitSettings {
  orgId: string;
  edition: Edition | null;
  /** User licences the edition's figures are computed for (at least 1). */
  users: number | null;
  /** API credits per rolling 24 hours. */
  credits: number | null;
  /** Calls in flight at once per user and OAuth client. */
  concurrency: number | null;
  /** Heavy calls (HEAVY_OPERATIONS) in flight at once per user and OAuth client. */
  subConcurrency: number | null;
  /** File storage of the org (photos and attachments). */
  storageBytes: number | null;
  /** Total size of one record's attachments. */
  recordAttachmentBytes: number | null;
  /** The token endpoint's limits (§7.4): refresh tokens per user and client, access tokens per 10 minutes. */
  tokenLimits: boolean | null;
  updatedAt: number;
}

export interface FaultMatch {
  /** An operation (`photo.upload`), a family (`photo.*`), or null for any. */
  operation: string | null;
  /** Upper case; null for any. */
  method: string | null;
  /** The module as the path names it, compared without case; null for any. */
  module: string | null;
  orgId: string | null;
  userId: string | null;
  /** The access token's id (the admin API and CLI take the token's value and keep its id). */
  tokenId: string | null;
  /** The OAuth client behind the token, or named on the token endpoint. */
  clientId: string | null;
}

export type FaultAction =
  | { kind: 'delay'; minMs: number; maxMs: number }
  | { kind: 'error'; error: ErrorName; details: Record<string, unknown> | null }
  /** The token endpoint's own error form: HTTP 200 `{"error": …}`. */
  | { kind: 'token_error'; error: string }
  | { kind: 'reset'; when: ResetPoint }
  | { kind: 'truncate'; afterBytes: number }
  | { kind: 'throttle'; bytesPerSecond: number };

export interface FaultRule {
  id: string;
  match: FaultMatch;
  action: FaultAction;
  /** Chance of firing on a match (0 to 1); null: always. */
  probability: number | null;
  /** Firings left; null: unlimited. */
  remaining: number | null;
  /** Fires only before this time (epoch ms); null: no end. */
  until: number | null;
  /** Times fired so far (all instances). */
  fired: number;
  createdAt: number;
}
