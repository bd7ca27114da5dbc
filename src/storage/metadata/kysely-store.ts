/**
 * The MetadataStore over Kysely. One implementation serves SQLite and PostgreSQL: the SQL is portable and the only
 * engine-specific behaviour (the per-record lock) comes in through `EngineHooks`.
 */
import { type Compilable, CompiledQuery, type Kysely, type Transaction, sql } from 'kysely';
import type {
  AccessToken,
  Attachment,
  CrmRecord,
  DeliveryAttempt,
  GrantCode,
  ModuleSetting,
  OAuthClient,
  Org,
  OutboxEvent,
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
  Database,
  DeliveryAttemptsTable,
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
import { CommitOutcomeUnknownError, DuplicateKeyError, type MetadataStore, type Page, type TokenPrincipalRow } from './store.js';

export interface EngineHooks {
  /** Serializes writers of one record inside a transaction (no-op where the engine has a single writer). */
  lockRecord(trx: Kysely<Database>, orgId: string, recordId: string): Promise<void>;
  /** Whether `SELECT … FOR UPDATE SKIP LOCKED` exists (PostgreSQL); without it the engine has one writer. */
  skipLocked: boolean;
  /** Resolves once everything committed so far survives power loss. */
  durable(): Promise<void>;
  close(): Promise<void>;
}

/** SQLite's and PostgreSQL's unique-constraint failures, as the engine-neutral DuplicateKeyError. */
async function uniquely(insert: Promise<unknown>): Promise<void> {
  try {
    await insert;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new DuplicateKeyError(err);
    }
    throw err;
  }
}

/** Some drivers return bigint columns as strings; every time and size passes through here. */
function num(v: number | string | bigint): number {
  return typeof v === 'number' ? v : Number(v);
}
function numOrNull(v: number | string | bigint | null): number | null {
  return v === null ? null : num(v);
}

const toOrg = (r: OrgsTable): Org => ({ id: r.id, name: r.name, timeZone: r.time_zone, createdAt: num(r.created_at) });
const fromOrg = (o: Org): OrgsTable => ({ id: o.id, name: o.name, time_zone: o.timeZone, created_at: o.createdAt });

const toProfile = (r: ProfilesTable): Profile => ({
  id: r.id,
  orgId: r.org_id,
  name: r.name,
  isAdmin: num(r.is_admin) === 1,
  permissions: JSON.parse(r.permissions) as Profile['permissions'],
  createdAt: num(r.created_at),
});
const fromProfile = (p: Profile): ProfilesTable => ({
  id: p.id,
  org_id: p.orgId,
  name: p.name,
  is_admin: p.isAdmin ? 1 : 0,
  permissions: JSON.stringify(p.permissions),
  created_at: p.createdAt,
});

const toUser = (r: UsersTable): User => ({
  id: r.id,
  orgId: r.org_id,
  profileId: r.profile_id,
  name: r.name,
  email: r.email,
  status: r.status === 'inactive' ? 'inactive' : 'active',
  createdAt: num(r.created_at),
});
const fromUser = (u: User): UsersTable => ({
  id: u.id,
  org_id: u.orgId,
  profile_id: u.profileId,
  name: u.name,
  email: u.email,
  status: u.status,
  created_at: u.createdAt,
});

const toModuleSetting = (r: ModuleSettingsTable): ModuleSetting => ({
  orgId: r.org_id,
  apiName: r.api_name,
  custom: num(r.custom) === 1,
  singular: r.singular,
  plural: r.plural,
  sharing: r.sharing as Sharing,
  createdAt: num(r.created_at),
});
const fromModuleSetting = (m: ModuleSetting): ModuleSettingsTable => ({
  org_id: m.orgId,
  api_name: m.apiName,
  api_name_lower: m.apiName.toLowerCase(),
  custom: m.custom ? 1 : 0,
  singular: m.singular,
  plural: m.plural,
  sharing: m.sharing,
  created_at: m.createdAt,
});

const toToken = (r: AccessTokensTable): AccessToken => ({
  id: r.id,
  orgId: r.org_id,
  userId: r.user_id,
  tokenHash: r.token_hash,
  scopes: r.scopes,
  label: r.label,
  expiresAt: numOrNull(r.expires_at),
  revokedAt: numOrNull(r.revoked_at),
  createdAt: num(r.created_at),
  clientId: r.client_id ?? null,
  refreshTokenId: r.refresh_token_id ?? null,
});
const fromToken = (t: AccessToken): AccessTokensTable => ({
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

const toClient = (r: OAuthClientsTable): OAuthClient => ({
  id: r.id,
  orgId: r.org_id,
  userId: r.user_id,
  name: r.name,
  secretHash: r.secret_hash,
  createdAt: num(r.created_at),
});
const fromClient = (c: OAuthClient): OAuthClientsTable => ({
  id: c.id,
  org_id: c.orgId,
  user_id: c.userId,
  name: c.name,
  secret_hash: c.secretHash,
  created_at: c.createdAt,
});

const toGrantCode = (r: GrantCodesTable): GrantCode => ({
  codeHash: r.code_hash,
  clientId: r.client_id,
  orgId: r.org_id,
  userId: r.user_id,
  scopes: r.scopes,
  expiresAt: num(r.expires_at),
  usedAt: numOrNull(r.used_at),
  createdAt: num(r.created_at),
});
const fromGrantCode = (g: GrantCode): GrantCodesTable => ({
  code_hash: g.codeHash,
  client_id: g.clientId,
  org_id: g.orgId,
  user_id: g.userId,
  scopes: g.scopes,
  expires_at: g.expiresAt,
  used_at: g.usedAt,
  created_at: g.createdAt,
});

const toRefresh = (r: RefreshTokensTable): RefreshToken => ({
  id: r.id,
  tokenHash: r.token_hash,
  clientId: r.client_id,
  orgId: r.org_id,
  userId: r.user_id,
  scopes: r.scopes,
  revokedAt: numOrNull(r.revoked_at),
  createdAt: num(r.created_at),
});
const fromRefresh = (t: RefreshToken): RefreshTokensTable => ({
  id: t.id,
  token_hash: t.tokenHash,
  client_id: t.clientId,
  org_id: t.orgId,
  user_id: t.userId,
  scopes: t.scopes,
  revoked_at: t.revokedAt,
  created_at: t.createdAt,
});

const toRule = (r: WorkflowRulesTable): WorkflowRule => ({
  id: r.id,
  orgId: r.org_id,
  name: r.name,
  module: r.module,
  event: r.event as WorkflowEvent,
  webhookUrl: r.webhook_url,
  secret: r.secret,
  active: num(r.active) === 1,
  createdAt: num(r.created_at),
});
const fromRule = (w: WorkflowRule): WorkflowRulesTable => ({
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

const toOutbox = (r: OutboxEventsTable): OutboxEvent => ({
  id: r.id,
  orgId: r.org_id,
  ruleId: r.rule_id,
  event: r.event as WorkflowEvent,
  payload: r.payload,
  status: r.status as OutboxStatus,
  attempts: num(r.attempts),
  nextAttemptAt: num(r.next_attempt_at),
  lockedUntil: numOrNull(r.locked_until),
  lastError: r.last_error,
  createdAt: num(r.created_at),
  deliveredAt: numOrNull(r.delivered_at),
});
const fromOutbox = (e: OutboxEvent): OutboxEventsTable => ({
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

const toAttempt = (r: DeliveryAttemptsTable): DeliveryAttempt => ({
  id: r.id,
  eventId: r.event_id,
  attempt: num(r.attempt),
  startedAt: num(r.started_at),
  durationMs: num(r.duration_ms),
  statusCode: r.status_code === null ? null : num(r.status_code),
  error: r.error,
});
const fromAttempt = (a: DeliveryAttempt): DeliveryAttemptsTable => ({
  id: a.id,
  event_id: a.eventId,
  attempt: a.attempt,
  started_at: a.startedAt,
  duration_ms: a.durationMs,
  status_code: a.statusCode,
  error: a.error,
});

const toRecord = (r: RecordsTable): CrmRecord => ({
  id: r.id,
  orgId: r.org_id,
  module: r.module,
  ownerId: r.owner_id,
  data: JSON.parse(r.data) as Record<string, unknown>,
  state: r.state as RecordState,
  createdBy: r.created_by,
  createdAt: num(r.created_at),
  modifiedBy: r.modified_by,
  modifiedAt: num(r.modified_at),
});
const fromRecord = (r: CrmRecord): RecordsTable => ({
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

const toPhoto = (r: PhotosTable): Photo => ({
  orgId: r.org_id,
  recordId: r.record_id,
  blobKey: r.blob_key,
  fileName: r.file_name,
  contentType: r.content_type,
  size: num(r.size),
  width: num(r.width),
  height: num(r.height),
  sha256: r.sha256,
  createdBy: r.created_by,
  createdAt: num(r.created_at),
});
const fromPhoto = (p: Photo): PhotosTable => ({
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

const toAttachment = (r: AttachmentsTable): Attachment => ({
  id: r.id,
  orgId: r.org_id,
  recordId: r.record_id,
  module: r.module,
  kind: r.kind === 'link' ? 'link' : 'file',
  fileName: r.file_name,
  title: r.title,
  linkUrl: r.link_url,
  contentType: r.content_type,
  size: num(r.size),
  blobKey: r.blob_key,
  sha256: r.sha256,
  ownerId: r.owner_id,
  createdBy: r.created_by,
  createdAt: num(r.created_at),
  modifiedBy: r.modified_by,
  modifiedAt: num(r.modified_at),
});
const fromAttachment = (a: Attachment): AttachmentsTable => ({
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

/** Limits an `IN (...)` list so that no engine's bound-parameter limit is reached. */
const IN_CHUNK = 500;

export class KyselyMetadataStore implements MetadataStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly hooks: EngineHooks,
    private readonly inTransaction = false,
    /** SQL of the hot queries by name, compiled once (shared with the transaction views of this store). */
    private readonly compiled: Map<string, string> = new Map(),
  ) {}

  async transaction<T>(fn: (tx: MetadataStore) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    let bodyDone = false;
    try {
      return await this.db.transaction().execute(async (trx: Transaction<Database>) => {
        const result = await fn(new KyselyMetadataStore(trx, this.hooks, true, this.compiled));
        bodyDone = true;
        return result;
      });
    } catch (err) {
      // The body succeeded, so COMMIT itself failed: over a network the database may have applied it anyway.
      throw bodyDone ? new CommitOutcomeUnknownError(err) : err;
    }
  }

  /**
   * The rows of a query that runs on every request: Kysely would build and compile it anew each time, which costs
   * more than SQLite takes to run it. `build` runs once per store; `params` must be its parameters in order (checked
   * when it is compiled).
   */
  private async hot<R>(name: string, build: () => Compilable<R>, params: readonly unknown[]): Promise<R[]> {
    let text = this.compiled.get(name);
    if (text === undefined) {
      const c = build().compile();
      if (c.parameters.length !== params.length || c.parameters.some((p, i) => p !== params[i])) {
        throw new Error(`hot query ${name}: parameters do not follow the query's order`);
      }
      text = c.sql;
      this.compiled.set(name, text);
    }
    return (await this.db.executeQuery<R>(CompiledQuery.raw(text, [...params]))).rows;
  }

  async lockRecord(orgId: string, recordId: string): Promise<void> {
    if (!this.inTransaction) throw new Error('lockRecord needs a transaction');
    await this.hooks.lockRecord(this.db, orgId, recordId);
  }

  async insertOrg(org: Org): Promise<void> {
    await uniquely(this.db.insertInto('orgs').values(fromOrg(org)).execute());
  }
  async getOrg(id: string): Promise<Org | undefined> {
    const r = await this.db.selectFrom('orgs').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toOrg(r);
  }
  async listOrgs(): Promise<Org[]> {
    return (await this.db.selectFrom('orgs').selectAll().orderBy('created_at').orderBy('id').execute()).map(toOrg);
  }

  async insertProfile(profile: Profile): Promise<void> {
    await uniquely(this.db.insertInto('profiles').values(fromProfile(profile)).execute());
  }
  async listProfiles(orgId: string): Promise<Profile[]> {
    return (
      await this.db.selectFrom('profiles').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute()
    ).map(toProfile);
  }

  async insertUser(user: User): Promise<void> {
    await uniquely(this.db.insertInto('users').values(fromUser(user)).execute());
  }
  async getUser(orgId: string, id: string): Promise<User | undefined> {
    const [r] = await this.hot(
      'getUser',
      () => this.db.selectFrom('users').selectAll().where('org_id', '=', orgId).where('id', '=', id),
      [orgId, id],
    );
    return r && toUser(r);
  }
  async listUsers(orgId: string): Promise<User[]> {
    return (
      await this.db.selectFrom('users').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute()
    ).map(toUser);
  }

  async upsertModuleSetting(setting: ModuleSetting): Promise<void> {
    const row = fromModuleSetting(setting);
    await this.db
      .insertInto('module_settings')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['org_id', 'api_name_lower']).doUpdateSet({
          sharing: row.sharing,
          singular: row.singular,
          plural: row.plural,
        }),
      )
      .execute();
  }
  async getModuleSetting(orgId: string, apiName: string): Promise<ModuleSetting | undefined> {
    const lower = apiName.toLowerCase();
    const [r] = await this.hot(
      'getModuleSetting',
      () => this.db.selectFrom('module_settings').selectAll().where('org_id', '=', orgId).where('api_name_lower', '=', lower),
      [orgId, lower],
    );
    return r && toModuleSetting(r);
  }
  async listModuleSettings(orgId: string): Promise<ModuleSetting[]> {
    return (
      await this.db
        .selectFrom('module_settings')
        .selectAll()
        .where('org_id', '=', orgId)
        .orderBy('created_at')
        .orderBy('api_name_lower')
        .execute()
    ).map(toModuleSetting);
  }

  async insertToken(token: AccessToken): Promise<void> {
    await uniquely(this.db.insertInto('access_tokens').values(fromToken(token)).execute());
  }
  async findPrincipalByTokenHash(tokenHash: string): Promise<TokenPrincipalRow | undefined> {
    // One round trip: this runs for every request whose token is not in the authenticator's cache.
    const r = await this.db
      .selectFrom('access_tokens as t')
      .innerJoin('users as u', (j) => j.onRef('u.id', '=', 't.user_id').onRef('u.org_id', '=', 't.org_id'))
      .innerJoin('profiles as p', (j) => j.onRef('p.id', '=', 'u.profile_id').onRef('p.org_id', '=', 't.org_id'))
      .innerJoin('orgs as o', 'o.id', 't.org_id')
      .select([
        't.id as t_id',
        't.org_id as t_org_id',
        't.user_id as t_user_id',
        't.token_hash as t_token_hash',
        't.scopes as t_scopes',
        't.label as t_label',
        't.expires_at as t_expires_at',
        't.revoked_at as t_revoked_at',
        't.created_at as t_created_at',
        't.client_id as t_client_id',
        't.refresh_token_id as t_refresh_token_id',
        'u.id as u_id',
        'u.org_id as u_org_id',
        'u.profile_id as u_profile_id',
        'u.name as u_name',
        'u.email as u_email',
        'u.status as u_status',
        'u.created_at as u_created_at',
        'p.id as p_id',
        'p.org_id as p_org_id',
        'p.name as p_name',
        'p.is_admin as p_is_admin',
        'p.permissions as p_permissions',
        'p.created_at as p_created_at',
        'o.id as o_id',
        'o.name as o_name',
        'o.time_zone as o_time_zone',
        'o.created_at as o_created_at',
      ])
      .where('t.token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (!r) return undefined;
    return {
      token: toToken({
        id: r.t_id,
        org_id: r.t_org_id,
        user_id: r.t_user_id,
        token_hash: r.t_token_hash,
        scopes: r.t_scopes,
        label: r.t_label,
        expires_at: r.t_expires_at,
        revoked_at: r.t_revoked_at,
        created_at: r.t_created_at,
        client_id: r.t_client_id,
        refresh_token_id: r.t_refresh_token_id,
      }),
      user: toUser({
        id: r.u_id,
        org_id: r.u_org_id,
        profile_id: r.u_profile_id,
        name: r.u_name,
        email: r.u_email,
        status: r.u_status,
        created_at: r.u_created_at,
      }),
      profile: toProfile({
        id: r.p_id,
        org_id: r.p_org_id,
        name: r.p_name,
        is_admin: r.p_is_admin,
        permissions: r.p_permissions,
        created_at: r.p_created_at,
      }),
      org: toOrg({ id: r.o_id, name: r.o_name, time_zone: r.o_time_zone, created_at: r.o_created_at }),
    };
  }
  async listTokens(orgId: string): Promise<AccessToken[]> {
    return (
      await this.db.selectFrom('access_tokens').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute()
    ).map(toToken);
  }
  async revokeToken(orgId: string, id: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable('access_tokens')
      .set({ revoked_at: at })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async insertRecord(record: CrmRecord): Promise<void> {
    await uniquely(this.db.insertInto('records').values(fromRecord(record)).execute());
  }
  async getRecord(orgId: string, id: string): Promise<CrmRecord | undefined> {
    const [r] = await this.hot(
      'getRecord',
      () => this.db.selectFrom('records').selectAll().where('org_id', '=', orgId).where('id', '=', id),
      [orgId, id],
    );
    return r && toRecord(r);
  }
  async listRecords(orgId: string, module: string, page: Page): Promise<CrmRecord[]> {
    return (
      await this.db
        .selectFrom('records')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('module', '=', module)
        .orderBy('created_at')
        .orderBy('id')
        .limit(page.limit)
        .offset(page.offset)
        .execute()
    ).map(toRecord);
  }
  async listRecordsOfOrg(orgId: string, page: Page): Promise<CrmRecord[]> {
    return (
      await this.db
        .selectFrom('records')
        .selectAll()
        .where('org_id', '=', orgId)
        .orderBy('created_at')
        .orderBy('id')
        .limit(page.limit)
        .offset(page.offset)
        .execute()
    ).map(toRecord);
  }
  async setRecordState(orgId: string, id: string, state: RecordState, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable('records')
      .set({ state, modified_at: at })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async deleteRecord(orgId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('records').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async getPhoto(orgId: string, recordId: string): Promise<Photo | undefined> {
    const [r] = await this.hot(
      'getPhoto',
      () => this.db.selectFrom('photos').selectAll().where('org_id', '=', orgId).where('record_id', '=', recordId),
      [orgId, recordId],
    );
    return r && toPhoto(r);
  }
  async upsertPhoto(photo: Photo): Promise<void> {
    const row = fromPhoto(photo);
    const { record_id: _key, ...update } = row;
    // Parameters: the inserted row's values, then the updated ones, each in the row's key order.
    await this.hot(
      'upsertPhoto',
      () => this.db.insertInto('photos').values(row).onConflict((oc) => oc.column('record_id').doUpdateSet(update)),
      [...Object.values(row), ...Object.values(update)],
    );
  }
  async deletePhoto(orgId: string, recordId: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('photos')
      .where('org_id', '=', orgId)
      .where('record_id', '=', recordId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async insertAttachment(attachment: Attachment): Promise<void> {
    await this.db.insertInto('attachments').values(fromAttachment(attachment)).execute();
  }
  async getAttachment(orgId: string, recordId: string, id: string): Promise<Attachment | undefined> {
    const [r] = await this.hot(
      'getAttachment',
      () =>
        this.db.selectFrom('attachments').selectAll().where('org_id', '=', orgId).where('record_id', '=', recordId).where('id', '=', id),
      [orgId, recordId, id],
    );
    return r && toAttachment(r);
  }
  async listAttachments(orgId: string, recordId: string, page: Page, ids?: readonly string[]): Promise<Attachment[]> {
    let q = this.db.selectFrom('attachments').selectAll().where('org_id', '=', orgId).where('record_id', '=', recordId);
    if (ids) {
      if (ids.length === 0) return [];
      // The domain bounds the list (a page's worth); silently answering for fewer ids would be wrong.
      if (ids.length > IN_CHUNK) throw new Error(`listAttachments: at most ${IN_CHUNK} ids`);
      q = q.where('id', 'in', ids);
    }
    return (
      await q
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.limit)
        .offset(page.offset)
        .execute()
    ).map(toAttachment);
  }
  async deleteAttachment(orgId: string, recordId: string, id: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('attachments')
      .where('org_id', '=', orgId)
      .where('record_id', '=', recordId)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async deleteAttachmentsOfRecord(orgId: string, recordId: string): Promise<Attachment[]> {
    const rows = await this.db
      .selectFrom('attachments')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('record_id', '=', recordId)
      .execute();
    await this.db.deleteFrom('attachments').where('org_id', '=', orgId).where('record_id', '=', recordId).execute();
    return rows.map(toAttachment);
  }

  async insertOAuthClient(client: OAuthClient): Promise<void> {
    await this.db.insertInto('oauth_clients').values(fromClient(client)).execute();
  }
  async getOAuthClient(id: string): Promise<OAuthClient | undefined> {
    const r = await this.db.selectFrom('oauth_clients').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toClient(r);
  }
  async listOAuthClients(orgId: string): Promise<OAuthClient[]> {
    return (await this.db.selectFrom('oauth_clients').selectAll().where('org_id', '=', orgId).orderBy('created_at').execute()).map(
      toClient,
    );
  }
  async deleteOAuthClient(orgId: string, id: string, at: number): Promise<boolean> {
    await this.db.deleteFrom('grant_codes').where('client_id', '=', id).where('org_id', '=', orgId).execute();
    // Revoked first, for the row locks: a refresh under way either finishes before the access tokens are revoked
    // below (and its token is revoked with them) or waits and then finds its refresh token gone.
    await this.revokeRefreshTokensOfClient(orgId, id, at);
    const refresh = this.db.selectFrom('refresh_tokens').select('id').where('client_id', '=', id).where('org_id', '=', orgId);
    await this.db
      .updateTable('access_tokens')
      .set({ revoked_at: at })
      .where((eb) => eb.or([eb('refresh_token_id', 'in', refresh), eb('client_id', '=', id)]))
      .where('org_id', '=', orgId)
      .where('revoked_at', 'is', null)
      .execute();
    await this.db.deleteFrom('refresh_tokens').where('client_id', '=', id).where('org_id', '=', orgId).execute();
    const r = await this.db.deleteFrom('oauth_clients').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async insertGrantCode(code: GrantCode): Promise<void> {
    await this.db.insertInto('grant_codes').values(fromGrantCode(code)).execute();
  }
  async getGrantCode(codeHash: string): Promise<GrantCode | undefined> {
    const r = await this.db.selectFrom('grant_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
    return r && toGrantCode(r);
  }
  async useGrantCode(codeHash: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable('grant_codes')
      .set({ used_at: at })
      .where('code_hash', '=', codeHash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async insertRefreshToken(token: RefreshToken): Promise<void> {
    await this.db.insertInto('refresh_tokens').values(fromRefresh(token)).execute();
  }
  async findRefreshTokenByHash(tokenHash: string): Promise<RefreshToken | undefined> {
    const r = await this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return r && toRefresh(r);
  }
  private async revokeRefreshTokensOfClient(orgId: string, clientId: string, at: number): Promise<void> {
    await this.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: at })
      .where('client_id', '=', clientId)
      .where('org_id', '=', orgId)
      .where('revoked_at', 'is', null)
      .execute();
  }
  async holdLiveRefreshToken(id: string): Promise<boolean> {
    // A write that changes nothing, for its row lock: PostgreSQL re-checks the condition after waiting for a
    // concurrent revoke, and SQLite has one writer anyway.
    const r = await this.db.updateTable('refresh_tokens').set({ revoked_at: null }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
  async revokeRefreshToken(id: string, at: number): Promise<void> {
    await this.db.updateTable('refresh_tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  }
  async activeTokensOfRefresh(refreshTokenId: string): Promise<AccessToken[]> {
    return (
      await this.db
        .selectFrom('access_tokens')
        .selectAll()
        .where('refresh_token_id', '=', refreshTokenId)
        .where('revoked_at', 'is', null)
        .orderBy('created_at')
        .orderBy('id')
        .execute()
    ).map(toToken);
  }
  async revokeTokensOfRefresh(refreshTokenId: string, at: number): Promise<number> {
    const r = await this.db
      .updateTable('access_tokens')
      .set({ revoked_at: at })
      .where('refresh_token_id', '=', refreshTokenId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async insertWorkflowRule(rule: WorkflowRule): Promise<void> {
    await this.db.insertInto('workflow_rules').values(fromRule(rule)).execute();
  }
  async listWorkflowRules(orgId: string): Promise<WorkflowRule[]> {
    return (await this.db.selectFrom('workflow_rules').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute()).map(
      toRule,
    );
  }
  async getWorkflowRule(orgId: string, id: string): Promise<WorkflowRule | undefined> {
    const r = await this.db.selectFrom('workflow_rules').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return r && toRule(r);
  }
  async deleteWorkflowRule(orgId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('workflow_rules').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async activeRulesFor(orgId: string, module: string, event: WorkflowEvent): Promise<WorkflowRule[]> {
    return (
      await this.hot(
        'activeRulesFor',
        () =>
          this.db
            .selectFrom('workflow_rules')
            .selectAll()
            .where('org_id', '=', orgId)
            .where('module', '=', module)
            .where('event', '=', event)
            .where('active', '=', 1)
            .orderBy('created_at'),
        [orgId, module, event, 1],
      )
    ).map(toRule);
  }

  async insertOutboxEvent(event: OutboxEvent): Promise<void> {
    await this.db.insertInto('outbox_events').values(fromOutbox(event)).execute();
  }
  async claimDueEvents(now: number, lockUntil: number, limit: number): Promise<OutboxEvent[]> {
    return this.transaction(async (tx) => {
      const db = (tx as KyselyMetadataStore).db;
      let due = db
        .selectFrom('outbox_events')
        .selectAll()
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
        .orderBy('next_attempt_at')
        .limit(limit);
      // PostgreSQL: rows another instance is claiming right now are skipped, not waited for or taken twice.
      // SQLite has one writer: the transaction alone excludes a concurrent claim.
      if (this.hooks.skipLocked) due = due.forUpdate().skipLocked();
      const rows = await due.execute();
      if (rows.length === 0) return [];
      await db
        .updateTable('outbox_events')
        .set({ locked_until: lockUntil })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      return rows.map((r) => toOutbox({ ...r, locked_until: lockUntil }));
    });
  }
  async updateOutboxEvent(
    id: string,
    change: Pick<OutboxEvent, 'status' | 'attempts' | 'nextAttemptAt' | 'lastError' | 'deliveredAt'>,
  ): Promise<void> {
    await this.db
      .updateTable('outbox_events')
      .set({
        status: change.status,
        attempts: change.attempts,
        next_attempt_at: change.nextAttemptAt,
        last_error: change.lastError,
        delivered_at: change.deliveredAt,
        locked_until: null,
      })
      .where('id', '=', id)
      .execute();
  }
  async listOutboxEvents(orgId: string, filter: { status?: OutboxStatus | undefined }, page: Page): Promise<OutboxEvent[]> {
    let q = this.db.selectFrom('outbox_events').selectAll().where('org_id', '=', orgId);
    if (filter.status) q = q.where('status', '=', filter.status);
    return (await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute()).map(toOutbox);
  }
  async insertDeliveryAttempt(attempt: DeliveryAttempt): Promise<void> {
    await this.db.insertInto('delivery_attempts').values(fromAttempt(attempt)).execute();
  }
  async listDeliveryAttempts(eventId: string): Promise<DeliveryAttempt[]> {
    return (await this.db.selectFrom('delivery_attempts').selectAll().where('event_id', '=', eventId).orderBy('attempt').execute()).map(
      toAttempt,
    );
  }

  async referencedBlobKeys(keys: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < keys.length; i += IN_CHUNK) {
      const chunk = keys.slice(i, i + IN_CHUNK);
      if (chunk.length === 0) continue;
      const photos = await this.db.selectFrom('photos').select('blob_key').where('blob_key', 'in', chunk).execute();
      for (const p of photos) found.add(p.blob_key);
      const atts = await this.db.selectFrom('attachments').select('blob_key').where('blob_key', 'in', chunk).execute();
      for (const a of atts) if (a.blob_key) found.add(a.blob_key);
    }
    return found;
  }

  durable(): Promise<void> {
    return this.hooks.durable();
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async reset(): Promise<void> {
    await this.transaction(async (tx) => {
      const db = (tx as KyselyMetadataStore).db;
      for (const t of [
        'delivery_attempts',
        'outbox_events',
        'workflow_rules',
        'grant_codes',
        'access_tokens',
        'refresh_tokens',
        'oauth_clients',
        'attachments',
        'photos',
        'records',
        'module_settings',
        'users',
        'profiles',
        'orgs',
      ] as const) {
        await db.deleteFrom(t).execute();
      }
    });
  }

  async close(): Promise<void> {
    await this.hooks.close();
  }
}
