import type { AccessToken, GrantCode, OAuthClient, RefreshToken } from '../../../domain/entities.js';
import type { AccessTokenStore, OAuthStore, TokenPrincipalRow } from '../../../domain/ports/tokens.js';
import { type QueryContext, affected, aliased, insertingUnique, unaliasing } from '../query-context.js';
import {
  readAccessToken,
  readGrantCode,
  readOAuthClient,
  readOrg,
  readProfile,
  readRefreshToken,
  readUser,
  writeAccessToken,
  writeGrantCode,
  writeOAuthClient,
  writeRefreshToken,
} from '../rows.js';
import { type AccessTokensTable, COLUMNS, type OrgsTable, type ProfilesTable, type UsersTable } from '../schema.js';

const tokenOfJoin = unaliasing<AccessTokensTable>('t', COLUMNS.access_tokens);
const userOfJoin = unaliasing<UsersTable>('u', COLUMNS.users);
const profileOfJoin = unaliasing<ProfilesTable>('p', COLUMNS.profiles);
const orgOfJoin = unaliasing<OrgsTable>('o', COLUMNS.orgs);

export class AccessTokenQueries implements AccessTokenStore {
  constructor(private readonly q: QueryContext) {}

  async insert(token: AccessToken): Promise<void> {
    await insertingUnique(this.q.db.insertInto('access_tokens').values(writeAccessToken(token)).execute());
  }

  async findPrincipal(tokenHash: string): Promise<TokenPrincipalRow | undefined> {
    // One round trip: this runs for every request whose token is not in the authenticator's cache.
    const joined = (await this.q.db
      .selectFrom('access_tokens as t')
      .innerJoin('users as u', (j) => j.onRef('u.id', '=', 't.user_id').onRef('u.org_id', '=', 't.org_id'))
      .innerJoin('profiles as p', (j) => j.onRef('p.id', '=', 'u.profile_id').onRef('p.org_id', '=', 't.org_id'))
      .innerJoin('orgs as o', 'o.id', 't.org_id')
      .select([
        ...aliased('t', COLUMNS.access_tokens),
        ...aliased('u', COLUMNS.users),
        ...aliased('p', COLUMNS.profiles),
        ...aliased('o', COLUMNS.orgs),
      ])
      .where('t.token_hash', '=', tokenHash)
      .executeTakeFirst()) as Record<string, unknown> | undefined;
    if (!joined) return undefined;
    return {
      token: readAccessToken(tokenOfJoin(joined)),
      user: readUser(userOfJoin(joined)),
      profile: readProfile(profileOfJoin(joined)),
      org: readOrg(orgOfJoin(joined)),
    };
  }

  async list(orgId: string): Promise<AccessToken[]> {
    const rows = await this.q.db.selectFrom('access_tokens').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute();
    return rows.map(readAccessToken);
  }

  async revoke(orgId: string, id: string, at: number): Promise<boolean> {
    const r = await this.q.db.updateTable('access_tokens').set({ revoked_at: at }).where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return affected(r) > 0;
  }

  async liveOfRefreshToken(refreshTokenId: string): Promise<AccessToken[]> {
    const rows = await this.q.db
      .selectFrom('access_tokens')
      .selectAll()
      .where('refresh_token_id', '=', refreshTokenId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(readAccessToken);
  }

  async countMintedSince(refreshTokenId: string, since: number): Promise<number> {
    const r = await this.q.db
      .selectFrom('access_tokens')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('refresh_token_id', '=', refreshTokenId)
      .where('created_at', '>=', since)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async revokeAllOfRefreshToken(refreshTokenId: string, at: number): Promise<number> {
    const r = await this.q.db
      .updateTable('access_tokens')
      .set({ revoked_at: at })
      .where('refresh_token_id', '=', refreshTokenId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return affected(r);
  }
}

export class OAuthQueries implements OAuthStore {
  constructor(private readonly q: QueryContext) {}

  async insertClient(client: OAuthClient): Promise<void> {
    await this.q.db.insertInto('oauth_clients').values(writeOAuthClient(client)).execute();
  }
  async getClient(id: string): Promise<OAuthClient | undefined> {
    const r = await this.q.db.selectFrom('oauth_clients').selectAll().where('id', '=', id).executeTakeFirst();
    return r && readOAuthClient(r);
  }
  async listClients(orgId: string): Promise<OAuthClient[]> {
    return (await this.q.db.selectFrom('oauth_clients').selectAll().where('org_id', '=', orgId).orderBy('created_at').execute()).map(readOAuthClient);
  }
  async deleteClient(orgId: string, id: string, at: number): Promise<boolean> {
    const db = this.q.db;
    await db.deleteFrom('grant_codes').where('client_id', '=', id).where('org_id', '=', orgId).execute();
    // Revoked first, for the row locks: a refresh under way either finishes before the access tokens are revoked
    // below (and its token is revoked with them) or waits and then finds its refresh token gone.
    await db
      .updateTable('refresh_tokens')
      .set({ revoked_at: at })
      .where('client_id', '=', id)
      .where('org_id', '=', orgId)
      .where('revoked_at', 'is', null)
      .execute();
    const refresh = db.selectFrom('refresh_tokens').select('id').where('client_id', '=', id).where('org_id', '=', orgId);
    await db
      .updateTable('access_tokens')
      .set({ revoked_at: at })
      .where((eb) => eb.or([eb('refresh_token_id', 'in', refresh), eb('client_id', '=', id)]))
      .where('org_id', '=', orgId)
      .where('revoked_at', 'is', null)
      .execute();
    await db.deleteFrom('refresh_tokens').where('client_id', '=', id).where('org_id', '=', orgId).execute();
    return affected(await db.deleteFrom('oauth_clients').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()) > 0;
  }

  async insertGrantCode(code: GrantCode): Promise<void> {
    await this.q.db.insertInto('grant_codes').values(writeGrantCode(code)).execute();
  }
  async getGrantCode(codeHash: string): Promise<GrantCode | undefined> {
    const r = await this.q.db.selectFrom('grant_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
    return r && readGrantCode(r);
  }
  async useGrantCode(codeHash: string, at: number): Promise<boolean> {
    const r = await this.q.db
      .updateTable('grant_codes')
      .set({ used_at: at })
      .where('code_hash', '=', codeHash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return affected(r) === 1;
  }

  async listGrantCodes(orgId: string): Promise<GrantCode[]> {
    const rows = await this.q.db.selectFrom('grant_codes').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('code_hash').execute();
    return rows.map(readGrantCode);
  }

  async insertRefreshToken(token: RefreshToken): Promise<void> {
    await this.q.db.insertInto('refresh_tokens').values(writeRefreshToken(token)).execute();
  }
  async findRefreshToken(tokenHash: string): Promise<RefreshToken | undefined> {
    const r = await this.q.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return r && readRefreshToken(r);
  }
  async listRefreshTokens(orgId: string): Promise<RefreshToken[]> {
    const rows = await this.q.db.selectFrom('refresh_tokens').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute();
    return rows.map(readRefreshToken);
  }
  async holdLiveRefreshToken(id: string): Promise<boolean> {
    // A write that changes nothing, for its row lock: PostgreSQL re-checks the condition after waiting for a
    // concurrent revoke, and SQLite has one writer anyway.
    const r = await this.q.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: null })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return affected(r) === 1;
  }
  async liveRefreshTokensOf(clientId: string, userId: string): Promise<RefreshToken[]> {
    const rows = await this.q.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('client_id', '=', clientId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(readRefreshToken);
  }
  async revokeRefreshToken(id: string, at: number): Promise<void> {
    await this.q.db.updateTable('refresh_tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  }
}
