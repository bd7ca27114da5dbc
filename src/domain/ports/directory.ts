import type { ModuleSetting, Org, Profile, User } from '../entities.js';

/** Orgs and who and what is in them: profiles, users, module settings. */
export interface DirectoryStore {
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
}
