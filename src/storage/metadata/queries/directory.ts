import type { ModuleSetting, Org, Profile, User } from '../../../domain/entities.js';
import type { DirectoryStore } from '../../../domain/ports/directory.js';
import { type QueryContext, affected, insertingUnique } from '../query-context.js';
import { readModuleSetting, readOrg, readProfile, readUser, writeModuleSetting, writeOrg, writeProfile, writeUser } from '../rows.js';

export class DirectoryQueries implements DirectoryStore {
  constructor(private readonly q: QueryContext) {}

  async insertOrg(org: Org): Promise<void> {
    await insertingUnique(this.q.db.insertInto('orgs').values(writeOrg(org)).execute());
  }
  async getOrg(id: string): Promise<Org | undefined> {
    const r = await this.q.db.selectFrom('orgs').selectAll().where('id', '=', id).executeTakeFirst();
    return r && readOrg(r);
  }
  async listOrgs(): Promise<Org[]> {
    return (await this.q.db.selectFrom('orgs').selectAll().orderBy('created_at').orderBy('id').execute()).map(readOrg);
  }

  async updateOrg(org: Org): Promise<boolean> {
    const row = writeOrg(org);
    const r = await this.q.db.updateTable('orgs').set({ name: row.name, time_zone: row.time_zone }).where('id', '=', org.id).executeTakeFirst();
    return affected(r) > 0;
  }

  async insertProfile(profile: Profile): Promise<void> {
    await insertingUnique(this.q.db.insertInto('profiles').values(writeProfile(profile)).execute());
  }
  async listProfiles(orgId: string): Promise<Profile[]> {
    const rows = await this.q.db.selectFrom('profiles').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute();
    return rows.map(readProfile);
  }

  async updateProfile(profile: Profile): Promise<boolean> {
    const row = writeProfile(profile);
    const r = await this.q.db
      .updateTable('profiles')
      .set({ name: row.name, is_admin: row.is_admin, permissions: row.permissions })
      .where('org_id', '=', profile.orgId)
      .where('id', '=', profile.id)
      .executeTakeFirst();
    return affected(r) > 0;
  }

  async insertUser(user: User): Promise<void> {
    await insertingUnique(this.q.db.insertInto('users').values(writeUser(user)).execute());
  }
  async getUser(orgId: string, id: string): Promise<User | undefined> {
    const [r] = await this.q.compiledOnce(
      'directory.getUser',
      () => this.q.db.selectFrom('users').selectAll().where('org_id', '=', orgId).where('id', '=', id),
      [orgId, id],
    );
    return r && readUser(r);
  }
  async listUsers(orgId: string): Promise<User[]> {
    const rows = await this.q.db.selectFrom('users').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute();
    return rows.map(readUser);
  }

  async updateUser(user: User): Promise<boolean> {
    const row = writeUser(user);
    const r = await this.q.db
      .updateTable('users')
      .set({ name: row.name, email: row.email, profile_id: row.profile_id, status: row.status })
      .where('org_id', '=', user.orgId)
      .where('id', '=', user.id)
      .executeTakeFirst();
    return affected(r) > 0;
  }

  async upsertModuleSetting(setting: ModuleSetting): Promise<void> {
    const row = writeModuleSetting(setting);
    await this.q.db
      .insertInto('module_settings')
      .values(row)
      .onConflict((oc) => oc.columns(['org_id', 'api_name_lower']).doUpdateSet({ sharing: row.sharing, singular: row.singular, plural: row.plural }))
      .execute();
  }
  async getModuleSetting(orgId: string, apiName: string): Promise<ModuleSetting | undefined> {
    const lower = apiName.toLowerCase();
    const [r] = await this.q.compiledOnce(
      'directory.getModuleSetting',
      () => this.q.db.selectFrom('module_settings').selectAll().where('org_id', '=', orgId).where('api_name_lower', '=', lower),
      [orgId, lower],
    );
    return r && readModuleSetting(r);
  }
  async listModuleSettings(orgId: string): Promise<ModuleSetting[]> {
    const rows = await this.q.db
      .selectFrom('module_settings')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('created_at')
      .orderBy('api_name_lower')
      .execute();
    return rows.map(readModuleSetting);
  }
}
