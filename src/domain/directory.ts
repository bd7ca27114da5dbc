/**
 * What the official SDKs ask about around the media calls: the current user, the org, the modules and their
 * fields. Minimal but truthful: every module and field listed is one this server serves.
 */
import type { Principal } from './access.js';
import type { ModuleSetting, Profile, User } from './entities.js';
import { zohoError } from './errors.js';
import type { DirectoryStore } from './ports/directory.js';
import { STANDARD_MODULES, UNSUPPORTED_MODULES, isKnownUnsupportedModule, standardModule } from './modules.js';
import type { ScopeOperation } from './scopes.js';

export interface FieldInfo {
  apiName: string;
  label: string;
  dataType: string;
  jsonType: 'string' | 'jsonobject' | 'double' | 'boolean' | 'integer';
  mandatory: boolean;
  readOnly: boolean;
}

const text = (apiName: string, label: string, mandatory = false): FieldInfo => ({
  apiName,
  label,
  dataType: 'text',
  jsonType: 'string',
  mandatory,
  readOnly: false,
});

const SYSTEM_FIELDS: readonly FieldInfo[] = [
  { apiName: 'Owner', label: 'Owner', dataType: 'ownerlookup', jsonType: 'jsonobject', mandatory: false, readOnly: false },
  { apiName: 'Created_By', label: 'Created By', dataType: 'ownerlookup', jsonType: 'jsonobject', mandatory: false, readOnly: true },
  { apiName: 'Modified_By', label: 'Modified By', dataType: 'ownerlookup', jsonType: 'jsonobject', mandatory: false, readOnly: true },
  { apiName: 'Created_Time', label: 'Created Time', dataType: 'datetime', jsonType: 'string', mandatory: false, readOnly: true },
  { apiName: 'Modified_Time', label: 'Modified Time', dataType: 'datetime', jsonType: 'string', mandatory: false, readOnly: true },
];

const PHOTO_FIELD: FieldInfo = {
  apiName: 'Record_Image',
  label: 'Record Image',
  dataType: 'profileimage',
  jsonType: 'string',
  mandatory: false,
  readOnly: true,
};

/** The name field(s) of each standard module: what a record's display name is made of. */
const NAME_FIELDS: Record<string, readonly FieldInfo[]> = {
  Leads: [text('First_Name', 'First Name'), text('Last_Name', 'Last Name', true), text('Company', 'Company'), text('Email', 'Email')],
  Contacts: [text('First_Name', 'First Name'), text('Last_Name', 'Last Name', true), text('Email', 'Email')],
  Accounts: [text('Account_Name', 'Account Name', true)],
  Deals: [text('Deal_Name', 'Deal Name', true), text('Stage', 'Stage')],
  Campaigns: [text('Campaign_Name', 'Campaign Name', true)],
  Tasks: [text('Subject', 'Subject', true)],
  Cases: [text('Subject', 'Subject', true)],
  Events: [text('Event_Title', 'Title', true)],
  Calls: [text('Subject', 'Subject', true)],
  Solutions: [text('Solution_Title', 'Solution Title', true)],
  Products: [text('Product_Name', 'Product Name', true)],
  Vendors: [text('Vendor_Name', 'Vendor Name', true)],
  Price_Books: [text('Price_Book_Name', 'Price Book Name', true)],
  Quotes: [text('Subject', 'Subject', true)],
  Sales_Orders: [text('Subject', 'Subject', true)],
  Purchase_Orders: [text('Subject', 'Subject', true)],
  Invoices: [text('Subject', 'Subject', true)],
  Appointments__s: [text('Appointment_Name', 'Appointment Name', true)],
  Services__s: [text('Service_Name', 'Service Name', true)],
  Notes: [text('Note_Title', 'Title'), text('Note_Content', 'Note Content', true)],
};
const CUSTOM_NAME_FIELDS: readonly FieldInfo[] = [text('Name', 'Name', true)];

function nameFieldsOf(module: string, custom: boolean): readonly FieldInfo[] {
  return custom ? CUSTOM_NAME_FIELDS : (NAME_FIELDS[module] ?? CUSTOM_NAME_FIELDS);
}

/** The name Zoho shows for a record (in lookups such as an attachment's `Parent_Id`), or null when it has none. */
export function recordDisplayName(module: string, data: Record<string, unknown>): string | null {
  if (module === 'Leads' || module === 'Contacts') {
    const full = [data['First_Name'], data['Last_Name']].filter((v) => typeof v === 'string' && v.length > 0).join(' ');
    if (full) return full;
  }
  for (const f of nameFieldsOf(module, standardModule(module) === undefined)) {
    const v = data[f.apiName];
    if (typeof v === 'string' && v.length > 0) return v;
  }
  return null;
}

export function requireScope(principal: Principal, group: string, resource: string, ops: readonly ScopeOperation[]): void {
  if (!principal.scopes.grantsAny(group, [resource], ops)) throw zohoError('OAUTH_SCOPE_MISMATCH');
}

export interface ModuleListing {
  apiName: string;
  singular: string;
  plural: string;
  apiSupported: boolean;
  custom: boolean;
}

/** Names of the users a response mentions. */
export interface UserNames {
  /** Display name of a user id of the org (the deleted-user fallback is the id itself). */
  nameOf(id: string): string;
  emailOf(id: string): string | undefined;
}

export interface DirectoryUser {
  user: User;
  profile: Profile | undefined;
}

export type UserListType = 'CurrentUser' | 'AllUsers' | 'ActiveUsers' | 'AdminUsers';

export class DirectoryService {
  constructor(private readonly directory: DirectoryStore) {}

  async users(principal: Principal, type: string | undefined): Promise<DirectoryUser[]> {
    requireScope(principal, 'users', '*', ['READ']);
    const kind = (type ?? 'AllUsers') as UserListType;
    if (!['CurrentUser', 'AllUsers', 'ActiveUsers', 'AdminUsers'].includes(kind)) {
      throw zohoError('INVALID_DATA', { param_name: 'type', supported_values: ['CurrentUser', 'AllUsers', 'ActiveUsers', 'AdminUsers'] });
    }
    if (kind === 'CurrentUser') return [{ user: principal.user, profile: principal.profile }];
    const profiles = new Map((await this.directory.listProfiles(principal.org.id)).map((p) => [p.id, p]));
    return (await this.directory.listUsers(principal.org.id))
      .map((user) => ({ user, profile: profiles.get(user.profileId) }))
      .filter(({ user, profile }) =>
        kind === 'ActiveUsers' ? user.status === 'active' : kind === 'AdminUsers' ? profile?.isAdmin === true : true,
      );
  }

  /** Names for the users `ids` of the principal's org; a user since removed shows as their id. */
  async namesOf(principal: Principal, ids: readonly string[]): Promise<UserNames> {
    const users = new Map([[principal.user.id, principal.user]]);
    const others = [...new Set(ids)].filter((id) => !users.has(id));
    // Concurrent lookups: on PostgreSQL each is a round trip, and a page may name several users.
    for (const u of await Promise.all(others.map((id) => this.directory.getUser(principal.org.id, id)))) {
      if (u) users.set(u.id, u);
    }
    return { nameOf: (id) => users.get(id)?.name ?? id, emailOf: (id) => users.get(id)?.email };
  }

  org(principal: Principal) {
    requireScope(principal, 'org', '*', ['READ']);
    return principal.org;
  }

  async modules(principal: Principal): Promise<ModuleListing[]> {
    requireScope(principal, 'settings', 'modules', ['READ']);
    const settings = await this.directory.listModuleSettings(principal.org.id);
    return [
      ...STANDARD_MODULES.map((m) => ({ apiName: m.apiName, singular: m.singular, plural: m.plural, apiSupported: true, custom: false })),
      ...UNSUPPORTED_MODULES.map((m) => ({ apiName: m, singular: m, plural: m, apiSupported: false, custom: false })),
      ...settings.filter((s: ModuleSetting) => s.custom).map((s) => ({ apiName: s.apiName, singular: s.singular, plural: s.plural, apiSupported: true, custom: true })),
    ];
  }

  async fields(principal: Principal, moduleName: string | undefined): Promise<{ module: string; fields: FieldInfo[] }> {
    requireScope(principal, 'settings', 'fields', ['READ']);
    if (!moduleName) throw zohoError('REQUIRED_PARAM_MISSING', { param_name: 'module' });
    const std = standardModule(moduleName);
    const custom = std ? undefined : await this.directory.getModuleSetting(principal.org.id, moduleName);
    if (!std && !custom?.custom) {
      if (isKnownUnsupportedModule(moduleName)) throw zohoError('MODULE_NOT_SUPPORTED');
      throw zohoError('INVALID_MODULE', { param_name: 'module' });
    }
    const apiName = std?.apiName ?? custom!.apiName;
    const photo = !std || std.since.photo !== undefined;
    return { module: apiName, fields: [...nameFieldsOf(apiName, !std), ...SYSTEM_FIELDS, ...(photo ? [PHOTO_FIELD] : [])] };
  }
}
