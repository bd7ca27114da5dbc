/**
 * Administration: orgs, profiles, users, custom modules and sharing, records and their states, access tokens,
 * reset. The admin HTTP API, the CLI and seeding all call these functions, so the three agree by construction.
 */
import { removeBlobQuietly } from './blob-cleanup.js';
import type { CacheInvalidation } from './cached-lookups.js';
import {
  type AccessToken,
  type Attachment,
  type CrmRecord,
  type ModulePermissions,
  type ModuleSetting,
  type Org,
  type PermissionMap,
  type Photo,
  type Profile,
  RECORD_STATES,
  type RecordState,
  SHARING_SETTINGS,
  type Sharing,
  type User,
} from './entities.js';
import { zohoError } from './errors.js';
import { isZohoId, newZohoId } from './ids.js';
import type { LimitsAdmin } from './limits-admin.js';
import { isValidCustomModuleName, standardModule } from './modules.js';
import type { BlobStore } from './ports/blob-store.js';
import type { DomainLogger } from './ports/logger.js';
import { DuplicateKeyError } from './ports/metadata-errors.js';
import type { MetadataView } from './ports/metadata.js';
import type { RecordService } from './records.js';
import { isValidScopeList } from './scopes.js';
import { isValidTimeZone } from './time.js';
import { hashToken, isPlausibleTokenValue, isTokenHash, newAccessTokenValue } from './tokens.js';

export const FULL_ACCESS: ModulePermissions = { view: true, create: true, edit: true, delete: true };
export const FULL_SCOPES = 'ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.ALL,ZohoCRM.org.ALL';

/** When an entity was made: given when a seed restores an exported state, else now. */
interface Dated {
  createdAt?: number | undefined;
}
export interface NewOrg extends Dated {
  id?: string | undefined;
  name: string;
  timeZone?: string | undefined;
  /**
   * The org's profiles, made with it; Administrator and Standard are added unless listed (every Zoho org has both).
   */
  profiles?: NewProfile[] | undefined;
}
export interface NewProfile extends Dated {
  id?: string | undefined;
  name: string;
  isAdmin?: boolean | undefined;
  permissions?: PermissionMap | undefined;
}
export interface NewUser extends Dated {
  id?: string | undefined;
  name: string;
  email: string;
  /** Profile id or name. */
  profile: string;
  status?: User['status'] | undefined;
}
export interface NewCustomModule extends Dated {
  apiName: string;
  singular?: string | undefined;
  plural?: string | undefined;
  sharing?: Sharing | undefined;
}
export interface NewRecord extends Dated {
  id?: string | undefined;
  module: string;
  /** User id or email; default: the org's first administrator. */
  owner?: string | undefined;
  data?: Record<string, unknown> | undefined;
  state?: RecordState | undefined;
  /** User id or email; default: the owner. */
  createdBy?: string | undefined;
  modifiedBy?: string | undefined;
  modifiedAt?: number | undefined;
}
export interface NewToken extends Dated {
  /** User id or email. */
  user: string;
  scopes?: string | undefined;
  /** Lifetime in seconds; null or undefined = does not expire. */
  expiresIn?: number | null | undefined;
  /** A chosen value (e.g. a fixed CI token); default: a fresh `1000.<hex>.<hex>`. */
  value?: string | undefined;
  label?: string | undefined;
  /** Restoring an exported token: its id, the hash of its value (the value itself is never kept), and its times. */
  id?: string | undefined;
  tokenHash?: string | undefined;
  expiresAt?: number | null | undefined;
  revokedAt?: number | null | undefined;
  clientId?: string | null | undefined;
  refreshTokenId?: string | null | undefined;
}
export interface OrgChange {
  name?: string | undefined;
  timeZone?: string | undefined;
}
export interface ProfileChange {
  name?: string | undefined;
  isAdmin?: boolean | undefined;
  permissions?: PermissionMap | undefined;
}
export interface UserChange {
  name?: string | undefined;
  email?: string | undefined;
  /** Profile id or name. */
  profile?: string | undefined;
  status?: User['status'] | undefined;
}
export interface IssuedToken {
  token: AccessToken;
  /** The value; shown once, never stored. */
  value: string;
}

type AdminPorts = 'directory' | 'records' | 'photos' | 'attachments' | 'tokens' | 'maintenance' | 'limits' | 'storage' | 'faults' | 'clock';

export interface AdminServiceDeps {
  store: MetadataView<AdminPorts>;
  blobs: BlobStore;
  records: RecordService;
  caches: CacheInvalidation;
  now: () => number;
  log: DomainLogger;
  /** Limits, faults and the clock (limits-admin.ts). */
  limits: LimitsAdmin;
}

function invalid(details: Record<string, unknown>): never {
  throw zohoError('INVALID_DATA', details);
}

function notFound(entity: string, key: string): never {
  throw zohoError('ADMIN_NOT_FOUND', { entity, key });
}

/**
 * An insert whose key is taken, by another org's row (ids are unique across orgs) or by a create racing this one,
 * is Zoho's DUPLICATE_DATA, not a fault.
 */
async function insertNew(details: Record<string, unknown>, insert: Promise<void>): Promise<void> {
  try {
    await insert;
  } catch (err) {
    if (err instanceof DuplicateKeyError) throw zohoError('DUPLICATE_DATA', details);
    throw err;
  }
}

function checkOptionalId(id: string | undefined, field: string): string {
  if (id === undefined) return newZohoId();
  if (!isZohoId(id)) invalid({ field, reason: 'must be a string of up to 19 digits' });
  return id;
}

export class AdminService {
  constructor(private readonly deps: AdminServiceDeps) {}

  private get store(): MetadataView<AdminPorts> {
    return this.deps.store;
  }

  /** The same service working inside a transaction (e.g. a first-start bootstrap racing other instances). */
  within(store: MetadataView<AdminPorts>): AdminService {
    return new AdminService({ ...this.deps, store });
  }

  /** Limits, faults and the clock, in this service's transaction when it runs in one (seeding). */
  limitsAdmin(): LimitsAdmin {
    return this.deps.limits.within(this.store);
  }

  /** Runs `work` in one transaction: everything it changes is kept, or nothing is. */
  atomically<T>(work: (admin: AdminService) => Promise<T>): Promise<T> {
    return this.store.transaction((tx) => work(this.within(tx)));
  }

  async createOrg(input: NewOrg): Promise<Org> {
    const timeZone = input.timeZone ?? 'UTC';
    if (!isValidTimeZone(timeZone)) invalid({ field: 'time_zone', reason: 'not an IANA time zone' });
    if (!input.name.trim()) invalid({ field: 'name', reason: 'empty' });
    const org: Org = { id: checkOptionalId(input.id, 'id'), name: input.name, timeZone, createdAt: input.createdAt ?? this.deps.now() };
    const given = input.profiles ?? [];
    const named = (name: string) => given.some((p) => p.name.toLowerCase() === name.toLowerCase());
    // Every Zoho org has these two profiles.
    const defaults = [
      { name: 'Administrator', isAdmin: true },
      { name: 'Standard', isAdmin: false },
    ].filter((p) => !named(p.name));
    await insertNew({ field: 'id', value: org.id }, this.store.transaction(async (tx) => {
      await tx.directory.insertOrg(org);
      for (const p of defaults) {
        await tx.directory.insertProfile({
          id: newZohoId(),
          orgId: org.id,
          name: p.name,
          isAdmin: p.isAdmin,
          permissions: { '*': FULL_ACCESS },
          createdAt: org.createdAt,
        });
      }
      for (const p of given) await this.within(tx).createProfile(org.id, p);
    }));
    return org;
  }

  async updateOrg(orgId: string, change: OrgChange): Promise<Org> {
    const org = await this.org(orgId);
    const next: Org = { ...org, name: change.name ?? org.name, timeZone: change.timeZone ?? org.timeZone };
    if (!isValidTimeZone(next.timeZone)) invalid({ field: 'time_zone', reason: 'not an IANA time zone' });
    if (!next.name.trim()) invalid({ field: 'name', reason: 'empty' });
    await this.store.directory.updateOrg(next);
    // Principals carry their org (its time zone renders API times).
    this.deps.caches.invalidate();
    return next;
  }

  listOrgs(): Promise<Org[]> {
    return this.store.directory.listOrgs();
  }

  async org(orgId: string): Promise<Org> {
    return (await this.store.directory.getOrg(orgId)) ?? notFound('org', orgId);
  }

  async createProfile(orgId: string, input: NewProfile): Promise<Profile> {
    await this.org(orgId);
    if (!input.name.trim()) invalid({ field: 'name', reason: 'empty' });
    if ((await this.store.directory.listProfiles(orgId)).some((p) => p.name.toLowerCase() === input.name.toLowerCase())) {
      throw zohoError('DUPLICATE_DATA', { field: 'name', value: input.name });
    }
    const profile: Profile = {
      id: checkOptionalId(input.id, 'id'),
      orgId,
      name: input.name,
      isAdmin: input.isAdmin ?? false,
      permissions: input.permissions ?? { '*': FULL_ACCESS },
      createdAt: input.createdAt ?? this.deps.now(),
    };
    await insertNew({ field: 'id', value: profile.id }, this.store.directory.insertProfile(profile));
    return profile;
  }

  async updateProfile(orgId: string, profileId: string, change: ProfileChange): Promise<Profile> {
    const profiles = await this.listProfiles(orgId);
    const profile = profiles.find((p) => p.id === profileId) ?? notFound('profile', profileId);
    const next: Profile = {
      ...profile,
      name: change.name ?? profile.name,
      isAdmin: change.isAdmin ?? profile.isAdmin,
      permissions: change.permissions ?? profile.permissions,
    };
    if (!next.name.trim()) invalid({ field: 'name', reason: 'empty' });
    if (profiles.some((p) => p.id !== profileId && p.name.toLowerCase() === next.name.toLowerCase())) {
      throw zohoError('DUPLICATE_DATA', { field: 'name', value: next.name });
    }
    await this.store.directory.updateProfile(next);
    // Principals carry their profile: a change of permissions applies to the next request.
    this.deps.caches.invalidate();
    return next;
  }

  async listProfiles(orgId: string): Promise<Profile[]> {
    await this.org(orgId);
    return this.store.directory.listProfiles(orgId);
  }

  async findProfile(orgId: string, idOrName: string): Promise<Profile> {
    const profiles = await this.store.directory.listProfiles(orgId);
    return (
      profiles.find((p) => p.id === idOrName || p.name.toLowerCase() === idOrName.toLowerCase()) ??
      notFound('profile', idOrName)
    );
  }

  async createUser(orgId: string, input: NewUser): Promise<User> {
    await this.org(orgId);
    if (!input.name.trim()) invalid({ field: 'name', reason: 'empty' });
    if (!/^[^\s@]+@[^\s@]+$/.test(input.email)) invalid({ field: 'email', reason: 'not an email address' });
    const profile = await this.findProfile(orgId, input.profile);
    const users = await this.store.directory.listUsers(orgId);
    if (users.some((u) => u.email.toLowerCase() === input.email.toLowerCase())) {
      throw zohoError('DUPLICATE_DATA', { field: 'email', value: input.email });
    }
    const user: User = {
      id: checkOptionalId(input.id, 'id'),
      orgId,
      profileId: profile.id,
      name: input.name,
      email: input.email,
      status: checkStatus(input.status ?? 'active'),
      createdAt: input.createdAt ?? this.deps.now(),
    };
    await insertNew({ field: 'id', value: user.id }, this.store.directory.insertUser(user));
    return user;
  }

  async updateUser(orgId: string, userId: string, change: UserChange): Promise<User> {
    const users = await this.listUsers(orgId);
    const user = users.find((u) => u.id === userId) ?? notFound('user', userId);
    const next: User = {
      ...user,
      name: change.name ?? user.name,
      email: change.email ?? user.email,
      profileId: change.profile === undefined ? user.profileId : (await this.findProfile(orgId, change.profile)).id,
      status: checkStatus(change.status ?? user.status),
    };
    if (!next.name.trim()) invalid({ field: 'name', reason: 'empty' });
    if (!/^[^\s@]+@[^\s@]+$/.test(next.email)) invalid({ field: 'email', reason: 'not an email address' });
    if (users.some((u) => u.id !== userId && u.email.toLowerCase() === next.email.toLowerCase())) {
      throw zohoError('DUPLICATE_DATA', { field: 'email', value: next.email });
    }
    await this.store.directory.updateUser(next);
    // An inactive user's tokens stop working with the next request; a new profile applies at once.
    this.deps.caches.invalidate();
    return next;
  }

  async listUsers(orgId: string): Promise<User[]> {
    await this.org(orgId);
    return this.store.directory.listUsers(orgId);
  }

  async findUser(orgId: string, idOrEmail: string): Promise<User> {
    const users = await this.store.directory.listUsers(orgId);
    return (
      users.find((u) => u.id === idOrEmail || u.email.toLowerCase() === idOrEmail.toLowerCase()) ??
      notFound('user', idOrEmail)
    );
  }

  /** The org's setting for a module (custom, or a standard module's sharing), if it has one. */
  findModuleSetting(orgId: string, apiName: string): Promise<ModuleSetting | undefined> {
    return this.store.directory.getModuleSetting(orgId, apiName);
  }

  async createCustomModule(orgId: string, input: NewCustomModule): Promise<ModuleSetting> {
    await this.org(orgId);
    if (!isValidCustomModuleName(input.apiName)) {
      invalid({ field: 'api_name', reason: 'letters, digits and underscores, starting with a letter; not a standard module' });
    }
    if (await this.store.directory.getModuleSetting(orgId, input.apiName)) {
      throw zohoError('DUPLICATE_DATA', { field: 'api_name', value: input.apiName });
    }
    const setting: ModuleSetting = {
      orgId,
      apiName: input.apiName,
      custom: true,
      singular: input.singular ?? input.apiName,
      plural: input.plural ?? input.apiName,
      sharing: checkSharing(input.sharing ?? 'public_read_write'),
      createdAt: input.createdAt ?? this.deps.now(),
    };
    await this.store.directory.upsertModuleSetting(setting);
    this.deps.caches.invalidate();
    return setting;
  }

  /** Sets a module's sharing: `private` = owner and administrators only. */
  async setModuleSharing(orgId: string, apiName: string, sharing: Sharing, createdAt?: number): Promise<ModuleSetting> {
    await this.org(orgId);
    checkSharing(sharing);
    const existing = await this.store.directory.getModuleSetting(orgId, apiName);
    const std = standardModule(apiName);
    if (!existing && !std) notFound('module', apiName);
    const setting: ModuleSetting = existing
      ? { ...existing, sharing }
      : { orgId, apiName: std!.apiName, custom: false, singular: std!.singular, plural: std!.plural, sharing, createdAt: createdAt ?? this.deps.now() };
    await this.store.directory.upsertModuleSetting(setting);
    this.deps.caches.invalidate();
    return setting;
  }

  async listModuleSettings(orgId: string): Promise<ModuleSetting[]> {
    await this.org(orgId);
    return this.store.directory.listModuleSettings(orgId);
  }

  /** The canonical API name of a standard or custom module of the org. */
  async moduleApiName(orgId: string, name: string): Promise<string> {
    const std = standardModule(name);
    if (std) return std.apiName;
    const setting = await this.store.directory.getModuleSetting(orgId, name);
    if (setting?.custom) return setting.apiName;
    return notFound('module', name);
  }

  async createRecord(orgId: string, input: NewRecord): Promise<CrmRecord> {
    await this.org(orgId);
    const module = await this.moduleApiName(orgId, input.module);
    const owner = input.owner ? await this.findUser(orgId, input.owner) : await this.firstAdmin(orgId);
    const id = checkOptionalId(input.id, 'id');
    const createdAt = input.createdAt ?? this.deps.now();
    const record: CrmRecord = {
      id,
      orgId,
      module,
      ownerId: owner.id,
      data: input.data ?? {},
      state: checkState(input.state ?? 'normal'),
      createdBy: input.createdBy ? (await this.findUser(orgId, input.createdBy)).id : owner.id,
      createdAt,
      modifiedBy: input.modifiedBy ? (await this.findUser(orgId, input.modifiedBy)).id : owner.id,
      modifiedAt: input.modifiedAt ?? createdAt,
    };
    await insertNew({ field: 'id', value: record.id }, this.store.records.insert(record));
    return record;
  }

  async recordExists(orgId: string, recordId: string): Promise<boolean> {
    return (await this.store.records.get(orgId, recordId)) !== undefined;
  }

  async listRecords(orgId: string, module: string, limit = 200, offset = 0): Promise<CrmRecord[]> {
    await this.org(orgId);
    return this.store.records.list(orgId, await this.moduleApiName(orgId, module), { limit, offset });
  }

  /** A record with its photo and attachments (newest first), whoever may see them: the console's record page. */
  async recordDetail(orgId: string, recordId: string): Promise<{ record: CrmRecord; photo: Photo | undefined; attachments: Attachment[] }> {
    const record = (await this.store.records.get(orgId, recordId)) ?? notFound('record', recordId);
    const photo = await this.store.photos.get(orgId, recordId);
    const attachments: Attachment[] = [];
    // Bounded: each page advances the offset over a finite list.
    for (let offset = 0; ; offset += 200) {
      const page = await this.store.attachments.list(orgId, recordId, { limit: 200, offset });
      attachments.push(...page);
      if (page.length < 200) break;
    }
    return { record, photo, attachments };
  }

  async setRecordState(orgId: string, recordId: string, state: RecordState): Promise<CrmRecord> {
    checkState(state);
    if (!(await this.store.records.setState(orgId, recordId, state, this.deps.now()))) notFound('record', recordId);
    return (await this.store.records.get(orgId, recordId))!;
  }

  async deleteRecord(orgId: string, recordId: string): Promise<void> {
    if (!(await this.deps.records.deleteCascade(orgId, recordId))) notFound('record', recordId);
  }

  async issueToken(orgId: string, input: NewToken): Promise<IssuedToken> {
    await this.org(orgId);
    const user = await this.findUser(orgId, input.user);
    const scopes = input.scopes ?? FULL_SCOPES;
    if (!isValidScopeList(scopes)) invalid({ field: 'scopes', reason: 'not a list of ZohoCRM scopes' });
    if (input.value !== undefined && input.tokenHash !== undefined) invalid({ field: 'token_hash', reason: 'give a value or its hash, not both' });
    if (input.tokenHash !== undefined && !isTokenHash(input.tokenHash)) invalid({ field: 'token_hash', reason: '64 lower-case hex digits (SHA-256)' });
    const value = input.tokenHash === undefined ? (input.value ?? newAccessTokenValue()) : '';
    if (input.tokenHash === undefined && !isPlausibleTokenValue(value)) {
      invalid({ field: 'value', reason: 'printable characters without spaces, at most 512' });
    }
    if (input.expiresIn !== undefined && input.expiresIn !== null && !(input.expiresIn > 0)) {
      invalid({ field: 'expires_in', reason: 'a positive number of seconds' });
    }
    const now = input.createdAt ?? this.deps.now();
    const token: AccessToken = {
      id: input.id === undefined ? newZohoId() : checkOptionalId(input.id, 'id'),
      orgId,
      userId: user.id,
      tokenHash: input.tokenHash ?? hashToken(value),
      scopes,
      label: input.label ?? null,
      expiresAt: input.expiresAt !== undefined ? input.expiresAt : input.expiresIn ? now + Math.round(input.expiresIn * 1000) : null,
      revokedAt: input.revokedAt ?? null,
      createdAt: now,
      clientId: input.clientId ?? null,
      refreshTokenId: input.refreshTokenId ?? null,
    };
    await insertNew({ field: 'value' }, this.store.tokens.insert(token));
    return { token, value };
  }

  /** Whether some access token (of any org) has this value. */
  async tokenValueKnown(value: string): Promise<boolean> {
    return this.tokenHashKnown(hashToken(value));
  }

  /** Whether some access token (of any org) has a value with this SHA-256. */
  async tokenHashKnown(tokenHash: string): Promise<boolean> {
    return (await this.store.tokens.findPrincipal(tokenHash)) !== undefined;
  }

  async listTokens(orgId: string): Promise<AccessToken[]> {
    await this.org(orgId);
    return this.store.tokens.list(orgId);
  }

  async revokeToken(orgId: string, tokenId: string): Promise<void> {
    if (!(await this.store.tokens.revoke(orgId, tokenId, this.deps.now()))) notFound('token', tokenId);
    this.deps.caches.invalidate();
  }

  /** Deletes every org, user, token, record and blob. */
  async reset(): Promise<void> {
    await this.store.maintenance.reset();
    this.deps.caches.invalidate();
    for await (const blob of this.deps.blobs.list()) await removeBlobQuietly(this.deps.blobs, blob.key, this.deps.log);
  }

  async firstAdmin(orgId: string): Promise<User> {
    const profiles = await this.store.directory.listProfiles(orgId);
    const adminProfiles = new Set(profiles.filter((p) => p.isAdmin).map((p) => p.id));
    const user = (await this.store.directory.listUsers(orgId)).find((u) => adminProfiles.has(u.profileId));
    return user ?? notFound('administrator user', orgId);
  }
}

function checkSharing(sharing: string): Sharing {
  if (!(SHARING_SETTINGS as readonly string[]).includes(sharing)) invalid({ field: 'sharing', allowed: SHARING_SETTINGS });
  return sharing as Sharing;
}

function checkStatus(status: string): User['status'] {
  if (status !== 'active' && status !== 'inactive') invalid({ field: 'status', allowed: ['active', 'inactive'] });
  return status;
}

function checkState(state: string): RecordState {
  if (!(RECORD_STATES as readonly string[]).includes(state)) invalid({ field: 'state', allowed: RECORD_STATES });
  return state as RecordState;
}
