/**
 * Who may do what to which record. The checks run in a fixed order, the order in which Zoho reports failures:
 * module (and the profile's tab permission for it) → module supports the operation in this API version → scope →
 * profile permission → record id → record exists in the caller's org → sharing → record state.
 */
import type { ModuleCall, RecordCall } from './calls.js';
import type { CrmRecord, ModuleSetting, Org, Photo, Profile, Sharing, User } from './entities.js';
import { zohoError } from './errors.js';
import { isZohoId } from './ids.js';
import {
  type ResolvedModule,
  isKnownUnsupportedModule,
  moduleSupports,
  resolvedCustom,
  resolvedStandard,
  standardModule,
} from './modules.js';
import { OPERATIONS, type OperationName } from './operations.js';
import type { ScopeSet } from './scopes.js';

export interface Principal {
  org: Org;
  user: User;
  profile: Profile;
  scopes: ScopeSet;
  tokenId: string;
  /** The OAuth client that minted the token, if the token server did. */
  clientId: string | null;
}

/** What the guard needs from storage: module settings and records of one org. */
export interface AccessLookups {
  getModuleSetting(orgId: string, apiName: string): Promise<ModuleSetting | undefined>;
  getRecord(orgId: string, id: string): Promise<CrmRecord | undefined>;
  /** The record and its photo in one lookup (a photo download). */
  getRecordWithPhoto(orgId: string, id: string): Promise<{ record: CrmRecord; photo: Photo | undefined } | undefined>;
}

export interface ModuleAccess {
  module: ResolvedModule;
  sharing: Sharing;
}

export interface RecordAccess extends ModuleAccess {
  record: CrmRecord;
}

const DEFAULT_SHARING: Sharing = 'public_read_write';

export async function resolveModule(
  lookups: Pick<AccessLookups, 'getModuleSetting'>,
  orgId: string,
  name: string,
): Promise<{ module: ResolvedModule; sharing: Sharing } | undefined> {
  const std = standardModule(name);
  const setting = await lookups.getModuleSetting(orgId, name);
  if (std) return { module: resolvedStandard(std), sharing: setting?.sharing ?? DEFAULT_SHARING };
  if (setting?.custom) {
    return { module: resolvedCustom(setting.apiName, setting.singular, setting.plural), sharing: setting.sharing };
  }
  return undefined;
}

/** Module, API-version support, scope and profile permission: everything that does not need the record. */
export async function authorizeModule(lookups: AccessLookups, call: ModuleCall): Promise<ModuleAccess> {
  const { principal, operation: op, version } = call;
  const rule = OPERATIONS[op];
  const resolved = await resolveModule(lookups, principal.org.id, call.module);
  if (!resolved) {
    if (isKnownUnsupportedModule(call.module)) throw zohoError('MODULE_NOT_SUPPORTED', {}, op);
    throw zohoError('INVALID_MODULE', { resource_path_index: 0 }, op);
  }
  // A module whose tab the profile lacks does not exist for the user: the attachment pages name "no tab
  // permission" under this INVALID_MODULE (docs/zoho-api.md §3.1).
  if (!hasTabPermission(principal.profile, resolved.module.apiName)) throw zohoError('INVALID_MODULE', { resource_path_index: 0 }, op);
  if (!moduleSupports(resolved.module, rule.family, version)) throw zohoError('MODULE_NOT_SUPPORTED', {}, op);
  checkScope(principal, op, resolved.module);
  checkPermission(principal, op, resolved.module);
  return resolved;
}

export function checkScope(principal: Principal, op: OperationName, module: ResolvedModule): void {
  const rule = OPERATIONS[op];
  const scopes = principal.scopes;
  const moduleGranted = scopes.grantsAny('modules', module.scopeNames, rule.scopeOps);
  // ZohoCRM.modules.ALL covers the attachments scope as well; a per-module scope needs its attachments partner.
  const attachmentsGranted =
    !rule.needsAttachmentScope || scopes.grants('modules', '*', 'ALL') || scopes.grantsAny('modules', ['attachments'], rule.scopeOps);
  if (!moduleGranted || !attachmentsGranted) throw zohoError('OAUTH_SCOPE_MISMATCH', {}, op);
}

export function checkPermission(principal: Principal, op: OperationName, module: ResolvedModule): void {
  const permission = OPERATIONS[op].permission;
  if (hasModulePermission(principal.profile, module.apiName, permission)) return;
  throw zohoError('NO_PERMISSION', { permissions: [`${module.apiName}.${permission}`] }, op);
}

export function hasTabPermission(profile: Profile, apiName: string): boolean {
  if (profile.isAdmin) return true;
  const lower = apiName.toLowerCase();
  for (const [name, perms] of Object.entries(profile.permissions)) {
    if (name.toLowerCase() === lower) return perms.tab !== false;
  }
  return profile.permissions['*']?.tab !== false;
}

export function hasModulePermission(profile: Profile, apiName: string, permission: Exclude<keyof Profile['permissions'][string], 'tab'>): boolean {
  if (profile.isAdmin) return true;
  const lower = apiName.toLowerCase();
  for (const [name, perms] of Object.entries(profile.permissions)) {
    if (name.toLowerCase() === lower) return perms[permission] === true;
  }
  return profile.permissions['*']?.[permission] === true;
}

/**
 * The full guard for an operation on one record. `recordIdDetails` are the details of the error for a bad record
 * id, which differ between the photo endpoints and the attachment endpoints.
 */
export function authorizeRecord(lookups: AccessLookups, call: RecordCall, recordIdDetails: Record<string, unknown>): Promise<RecordAccess>;
/**
 * The same, with the record read by `load` along with what the caller needs of it (`{ record, photo }`): one lookup
 * instead of two, and what it found comes back beside the access.
 */
export function authorizeRecord<T extends { record: CrmRecord }>(
  lookups: AccessLookups,
  call: RecordCall,
  recordIdDetails: Record<string, unknown>,
  load: (orgId: string, recordId: string) => Promise<T | undefined>,
): Promise<RecordAccess & T>;
export async function authorizeRecord(
  lookups: AccessLookups,
  call: RecordCall,
  recordIdDetails: Record<string, unknown>,
  load?: (orgId: string, recordId: string) => Promise<{ record: CrmRecord } | undefined>,
): Promise<RecordAccess> {
  const { principal, operation: op } = call;
  const access = await authorizeModule(lookups, call);
  let found: { record: CrmRecord } | undefined;
  if (isZohoId(call.recordId)) {
    if (load) found = await load(principal.org.id, call.recordId);
    else {
      const record = await lookups.getRecord(principal.org.id, call.recordId);
      found = record && { record };
    }
  }
  const record = found?.record;
  if (!record || record.module.toLowerCase() !== access.module.apiName.toLowerCase()) {
    throw zohoError('INVALID_RELATED_ID', recordIdDetails, op);
  }
  checkRecordSharing(principal, op, record, access.sharing);
  checkRecordState(op, record);
  return { ...access, ...found, record };
}

export function checkRecordSharing(principal: Principal, op: OperationName, record: CrmRecord, sharing: Sharing): void {
  if (principal.profile.isAdmin || record.ownerId === principal.user.id) return;
  if (sharing === 'public_read_write') return;
  if (sharing === 'public_read_only' && !OPERATIONS[op].writes) return;
  throw zohoError('AUTHORIZATION_FAILED', {}, op);
}

/**
 * Locks and approvals (docs/zoho-api.md §8). Zia image validation in progress and a running merge lock the
 * record for its photo and for record changes; a record awaiting approval refuses photo changes and downloads; a
 * photo rejected by Zia cannot be downloaded but may be replaced or deleted, which is how the user recovers.
 * Attachment endpoints document neither error and are not affected.
 */
export function checkRecordState(op: OperationName, record: CrmRecord): void {
  const family = OPERATIONS[op].family;
  if (family === 'attachment') return;
  if (family === 'record' && !OPERATIONS[op].writes) return;
  switch (record.state) {
    case 'normal':
      return;
    case 'zia_vision_processing':
      throw zohoError('RECORD_LOCKED', { id: record.id, action: 'zia_vision_processing' }, op);
    case 'merge_in_progress':
      throw zohoError('RECORD_UNDER_MERGE', { id: record.id, action: 'merge_duplicates' }, op);
    case 'awaiting_approval':
      throw zohoError('NOT_APPROVED', { id: record.id }, op);
    case 'photo_rejected':
      if (op === 'photo.download') throw zohoError('NOT_APPROVED', { id: record.id, action: 'zia_vision_rejected' }, op);
      return;
  }
}
