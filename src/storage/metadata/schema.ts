/**
 * Table types for Kysely. Portable across SQLite and PostgreSQL: ids and JSON are text, times are bigint epoch
 * milliseconds, booleans are 0/1 integers. `COLUMNS` names each table's columns once more, at run time, for queries
 * that must spell them out (a join that returns several tables' rows side by side); the compiler checks that it names
 * every column of the table type, and nothing else.
 */

export interface OrgsTable {
  id: string;
  name: string;
  time_zone: string;
  created_at: number;
}

export interface ProfilesTable {
  id: string;
  org_id: string;
  name: string;
  is_admin: number;
  permissions: string;
  created_at: number;
}

export interface UsersTable {
  id: string;
  org_id: string;
  profile_id: string;
  name: string;
  email: string;
  status: string;
  created_at: number;
}

export interface ModuleSettingsTable {
  org_id: string;
  api_name: string;
  api_name_lower: string;
  custom: number;
  singular: string;
  plural: string;
  sharing: string;
  created_at: number;
}

export interface AccessTokensTable {
  id: string;
  org_id: string;
  user_id: string;
  token_hash: string;
  scopes: string;
  label: string | null;
  expires_at: number | null;
  revoked_at: number | null;
  created_at: number;
  client_id: string | null;
  refresh_token_id: string | null;
}

export interface OAuthClientsTable {
  id: string;
  org_id: string;
  user_id: string;
  name: string;
  secret_hash: string;
  created_at: number;
}

export interface GrantCodesTable {
  code_hash: string;
  client_id: string;
  org_id: string;
  user_id: string;
  scopes: string;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

export interface RefreshTokensTable {
  id: string;
  token_hash: string;
  client_id: string;
  org_id: string;
  user_id: string;
  scopes: string;
  revoked_at: number | null;
  created_at: number;
}

export interface WorkflowRulesTable {
  id: string;
  org_id: string;
  name: string;
  module: string;
  event: string;
  webhook_url: string;
  secret: string | null;
  active: number;
  created_at: number;
}

export interface OutboxEventsTable {
  id: string;
  org_id: string;
  rule_id: string;
  event: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  locked_until: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface DeliveryAttemptsTable {
  id: string;
  event_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
}

export interface RecordsTable {
  id: string;
  org_id: string;
  module: string;
  owner_id: string;
  data: string;
  state: string;
  created_by: string;
  created_at: number;
  modified_by: string;
  modified_at: number;
}

export interface PhotosTable {
  org_id: string;
  record_id: string;
  blob_key: string;
  file_name: string;
  content_type: string;
  size: number;
  width: number;
  height: number;
  sha256: string | null;
  created_by: string;
  created_at: number;
}

export interface AttachmentsTable {
  id: string;
  org_id: string;
  record_id: string;
  module: string;
  kind: string;
  file_name: string;
  title: string | null;
  link_url: string | null;
  content_type: string | null;
  size: number;
  blob_key: string | null;
  sha256: string | null;
  owner_id: string;
  created_by: string;
  created_at: number;
  modified_by: string;
  modified_at: number;
}

export interface OrgLimitsTable {
  org_id: string;
  edition: string | null;
  users: number | null;
  credits: number | null;
  concurrency: number | null;
  sub_concurrency: number | null;
  storage_bytes: number | null;
  record_attachment_bytes: number | null;
  token_limits: number | null;
  updated_at: number;
}

/**
 * One row per org with limits: the credits spent in each of CREDIT_BUCKETS hourly buckets (a ring: column i holds
 * the latest bucket b <= last_bucket with b mod CREDIT_BUCKETS = i), so that one UPDATE expires, checks and spends.
 */
export type ApiCreditsTable = { org_id: string; last_bucket: number } & { [K in CreditColumn]: number };
export type CreditColumn = `c${number}`;

export interface ConcurrencySlotsTable {
  scope_key: string;
  in_flight: number;
}

export interface InstanceLeasesTable {
  instance_id: string;
  expires_at: number;
  /** JSON: scope key → slots held at the last heartbeat. */
  holdings: string;
}

export interface OrgStorageTable {
  org_id: string;
  used_bytes: number;
}

export interface FaultRulesTable {
  id: string;
  /** JSON of the match (domain FaultMatch). */
  match: string;
  /** JSON of the action (domain FaultAction). */
  action: string;
  probability: number | null;
  remaining: number | null;
  until: number | null;
  fired: number;
  created_at: number;
}

export interface TestClockTable {
  id: number;
  offset_ms: number;
}

export interface Database {
  orgs: OrgsTable;
  profiles: ProfilesTable;
  users: UsersTable;
  module_settings: ModuleSettingsTable;
  access_tokens: AccessTokensTable;
  records: RecordsTable;
  photos: PhotosTable;
  attachments: AttachmentsTable;
  oauth_clients: OAuthClientsTable;
  grant_codes: GrantCodesTable;
  refresh_tokens: RefreshTokensTable;
  workflow_rules: WorkflowRulesTable;
  outbox_events: OutboxEventsTable;
  delivery_attempts: DeliveryAttemptsTable;
  org_limits: OrgLimitsTable;
  api_credits: ApiCreditsTable;
  concurrency_slots: ConcurrencySlotsTable;
  instance_leases: InstanceLeasesTable;
  org_storage: OrgStorageTable;
  fault_rules: FaultRulesTable;
  test_clock: TestClockTable;
}

/** Every key of `T`, each in `L`: otherwise the list's type becomes `never` and its use fails to compile. */
type AllColumnsOf<T, L extends readonly (keyof T)[]> = Exclude<keyof T, L[number]> extends never ? L : never;

const columnsOf = <T>() => <const L extends readonly (keyof T)[]>(list: AllColumnsOf<T, L>) => list;

export const COLUMNS = {
  orgs: columnsOf<OrgsTable>()(['id', 'name', 'time_zone', 'created_at']),
  profiles: columnsOf<ProfilesTable>()(['id', 'org_id', 'name', 'is_admin', 'permissions', 'created_at']),
  users: columnsOf<UsersTable>()(['id', 'org_id', 'profile_id', 'name', 'email', 'status', 'created_at']),
  records: columnsOf<RecordsTable>()([
    'id',
    'org_id',
    'module',
    'owner_id',
    'data',
    'state',
    'created_by',
    'created_at',
    'modified_by',
    'modified_at',
  ]),
  photos: columnsOf<PhotosTable>()([
    'org_id',
    'record_id',
    'blob_key',
    'file_name',
    'content_type',
    'size',
    'width',
    'height',
    'sha256',
    'created_by',
    'created_at',
  ]),
  access_tokens: columnsOf<AccessTokensTable>()([
    'id',
    'org_id',
    'user_id',
    'token_hash',
    'scopes',
    'label',
    'expires_at',
    'revoked_at',
    'created_at',
    'client_id',
    'refresh_token_id',
  ]),
};
