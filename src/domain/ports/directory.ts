import type { ModuleSetting, Org, Profile, User } from '../entities.js';

/** Orgs and who and what is in them: profiles, users, module settings. */
export interface DirectoryStore {
  insertOrg(org: Org): Promise<void>;
  getOrg(id: string): Promise<Org | undefined>;
  listOrgs(): Promise<Org[]>;
  /** Replaces an org's name and time zone; false when there is no such org. */
  updateOrg(org: Org): Promise<boolean>;

  insertProfile(profile: Profile): Promise<void>;
  listProfiles(orgId: string): Promise<Profile[]>;
  /** Replaces a profile's name, administrator flag and permissions; false when the org has no such profile. */
  updateProfile(profile: Profile): Promise<boolean>;

  insertUser(user: User): Promise<void>;
  getUser(orgId: string, id: string): Promise<User | undefined>;
  listUsers(orgId: string): Promise<User[]>;
  /** Replaces a user's name, email, profile and status; false when the org has no such user. */
  updateUser(user: User): Promise<boolean>;

  upsertModuleSetting(setting: ModuleSetting): Promise<void>;
  getModuleSetting(orgId: string, apiName: string): Promise<ModuleSetting | undefined>;
  listModuleSettings(orgId: string): Promise<ModuleSetting[]>;
}
