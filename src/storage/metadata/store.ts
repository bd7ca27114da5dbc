/**
 * MetadataStore: thin persistence for the entities. No rules live here: it stores and fetches what the domain
 * hands it, always scoped by org id. Implementations: SQLite and PostgreSQL, both through one Kysely schema.
 */
/**
 * COMMIT failed after the transaction's work succeeded: the change may or may not have been applied (a connection
 * lost while the database committed). Nothing the change might reference may be removed.
 */
export class CommitOutcomeUnknownError extends Error {
  constructor(override readonly cause: unknown) {
    super('commit outcome unknown');
  }
}

/** An insert whose key (or another unique column) is already taken; whatever the engine. */
export class DuplicateKeyError extends Error {
  constructor(override readonly cause: unknown) {
    super('duplicate key');
  }
}

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
  User,
  WorkflowEvent,
  WorkflowRule,
} from '../../domain/entities.js';

export interface TokenPrincipalRow {
  token: AccessToken;
  user: User;
  profile: Profile;
  org: Org;
}

export interface Page {
  limit: number;
  offset: number;
}

export interface MetadataStore {
  /** Runs `fn` in one transaction; the store passed to `fn` is bound to it. */
  transaction<T>(fn: (tx: MetadataStore) => Promise<T>): Promise<T>;
  /** Inside a transaction: serializes writers of one record's media until the transaction ends. */
  lockRecord(orgId: string, recordId: string): Promise<void>;

  insertOrg(org: Org): Promise<void>;
  getOrg(id: string): Promise<Org | undefined>;
  listOrgs(): Promise<Org[]>;

  insertProfile(profile: Profile): Promise<void>;
  listProfiles(orgId: string): Promise<Profile[]>;

  insertUser(user: User): Promise<void>;
  getUser(orgId: string, id: string): Promise<User | undefined>;
  listUsers(orgId: string): Promise<User[]>;

  upsertModuleSetting(setting: ModuleSetting): Promise<void>;
  getModuleSetting(orgId: string, apiName: string): Promise<ModuleSetting | undefined>;
  listModuleSettings(orgId: string): Promise<ModuleSetting[]>;

  insertToken(token: AccessToken): Promise<void>;
  findPrincipalByTokenHash(tokenHash: string): Promise<TokenPrincipalRow | undefined>;
  listTokens(orgId: string): Promise<AccessToken[]>;
  /** Marks a token revoked; returns false when no such token exists in the org. */
  revokeToken(orgId: string, id: string, at: number): Promise<boolean>;

  insertRecord(record: CrmRecord): Promise<void>;
  getRecord(orgId: string, id: string): Promise<CrmRecord | undefined>;
  listRecords(orgId: string, module: string, page: Page): Promise<CrmRecord[]>;
  setRecordState(orgId: string, id: string, state: RecordState, at: number): Promise<boolean>;
  deleteRecord(orgId: string, id: string): Promise<boolean>;

  getPhoto(orgId: string, recordId: string): Promise<Photo | undefined>;
  upsertPhoto(photo: Photo): Promise<void>;
  deletePhoto(orgId: string, recordId: string): Promise<boolean>;

  insertAttachment(attachment: Attachment): Promise<void>;
  getAttachment(orgId: string, recordId: string, id: string): Promise<Attachment | undefined>;
  /** Newest first; `ids` narrows to those attachment ids. */
  listAttachments(orgId: string, recordId: string, page: Page, ids?: readonly string[]): Promise<Attachment[]>;
  deleteAttachment(orgId: string, recordId: string, id: string): Promise<boolean>;
  deleteAttachmentsOfRecord(orgId: string, recordId: string): Promise<Attachment[]>;

  insertOAuthClient(client: OAuthClient): Promise<void>;
  /** By client id alone: the token endpoint learns the org from the client. */
  getOAuthClient(id: string): Promise<OAuthClient | undefined>;
  listOAuthClients(orgId: string): Promise<OAuthClient[]>;
  /** Deletes a client with its grant codes and refresh tokens, revoking every access token the client minted. */
  deleteOAuthClient(orgId: string, id: string, at: number): Promise<boolean>;

  insertGrantCode(code: GrantCode): Promise<void>;
  getGrantCode(codeHash: string): Promise<GrantCode | undefined>;
  /** Marks an unused code used; false when it was already used (one-time codes under concurrency). */
  useGrantCode(codeHash: string, at: number): Promise<boolean>;

  insertRefreshToken(token: RefreshToken): Promise<void>;
  findRefreshTokenByHash(tokenHash: string): Promise<RefreshToken | undefined>;
  /**
   * Inside a transaction: locks the refresh token's row until the transaction ends (a concurrent revoke waits, or is
   * waited for) and says whether it is still live, i.e. not revoked or deleted.
   */
  holdLiveRefreshToken(id: string): Promise<boolean>;
  revokeRefreshToken(id: string, at: number): Promise<void>;
  /** Access tokens minted from a refresh token and not yet revoked, oldest first. */
  activeTokensOfRefresh(refreshTokenId: string): Promise<AccessToken[]>;
  revokeTokensOfRefresh(refreshTokenId: string, at: number): Promise<number>;

  insertWorkflowRule(rule: WorkflowRule): Promise<void>;
  listWorkflowRules(orgId: string): Promise<WorkflowRule[]>;
  getWorkflowRule(orgId: string, id: string): Promise<WorkflowRule | undefined>;
  deleteWorkflowRule(orgId: string, id: string): Promise<boolean>;
  activeRulesFor(orgId: string, module: string, event: WorkflowEvent): Promise<WorkflowRule[]>;

  insertOutboxEvent(event: OutboxEvent): Promise<void>;
  /**
   * Takes up to `limit` pending events that are due and not held by anyone, holding each until `lockUntil`.
   * Several instances calling this at once never take the same event.
   */
  claimDueEvents(now: number, lockUntil: number, limit: number): Promise<OutboxEvent[]>;
  updateOutboxEvent(
    id: string,
    change: Pick<OutboxEvent, 'status' | 'attempts' | 'nextAttemptAt' | 'lastError' | 'deliveredAt'>,
  ): Promise<void>;
  listOutboxEvents(orgId: string, filter: { status?: OutboxStatus | undefined }, page: Page): Promise<OutboxEvent[]>;
  insertDeliveryAttempt(attempt: DeliveryAttempt): Promise<void>;
  listDeliveryAttempts(eventId: string): Promise<DeliveryAttempt[]>;

  /** The subset of `keys` that some photo or attachment row references. */
  referencedBlobKeys(keys: readonly string[]): Promise<Set<string>>;

  /** Every record of an org, oldest first (store migration). */
  listRecordsOfOrg(orgId: string, page: Page): Promise<CrmRecord[]>;

  /** Throws when the database cannot be reached (readiness). */
  ping(): Promise<void>;

  /**
   * Resolves once everything committed so far survives a power loss. Called before a change is acknowledged; an
   * engine whose commits are durable by themselves (PostgreSQL) resolves at once.
   */
  durable(): Promise<void>;

  /** Deletes every row (admin reset). */
  reset(): Promise<void>;
  close(): Promise<void>;
}
