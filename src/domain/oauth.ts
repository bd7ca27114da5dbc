/**
 * The token server (Zoho Accounts' `/oauth/v2/token`): self clients, one-time grant codes, refresh tokens and the
 * access tokens minted from them. Answers use Zoho's shapes, errors included (HTTP 200 with `{"error": "…"}`).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { CacheInvalidation } from './cached-lookups.js';
import type { AccessToken, GrantCode, OAuthClient, RefreshToken } from './entities.js';
import { zohoError } from './errors.js';
import { newZohoId } from './ids.js';
import type { LimitsLookup } from './limits-lookup.js';
import type { MetadataView } from './ports/metadata.js';
import { ScopeSet, isValidScopeList } from './scopes.js';
import { hashToken, newAccessTokenValue } from './tokens.js';

export const GRANT_CODE_LIFETIME_S = 180;
/** Zoho keeps at most 15 access tokens per refresh token alive; the 16th evicts the oldest. */
export const MAX_ACTIVE_TOKENS_PER_REFRESH = 15;

/**
 * The token endpoint's limits that apply with an org's token limits on (limits.ts; docs/zoho-api.md §7.4): at most
 * 20 refresh tokens per user and client (the 21st revokes the oldest, with its access tokens), and at most 10 access
 * tokens minted from one refresh token in any 10 minutes (the 11th is refused with "Access Denied", HTTP 200).
 */
export const MAX_REFRESH_TOKENS_PER_USER_CLIENT = 20;
export const MAX_MINTED_PER_REFRESH_WINDOW = 10;
export const MINT_WINDOW_MS = 10 * 60_000;

export type TokenParams = Record<string, string | undefined>;

export interface TokenSuccess {
  access_token: string;
  refresh_token?: string;
  scope?: string;
  api_domain: string;
  token_type: 'Bearer';
  expires_in: number;
}

export interface TokenFailure {
  error: string;
  error_description?: string;
  status?: string;
}

/**
 * A throttled token request: HTTP 200 with "Access Denied" (Kaizen #43, the v8 token-validity page), in the form
 * third-party clients log from Zoho Accounts (docs/compatibility.md, "OAuth token server").
 */
export const ACCESS_DENIED: TokenFailure = Object.freeze({
  error: 'Access Denied',
  error_description: 'You have made too many requests continuously. Please try again after some time.',
  status: 'failure',
});

export type TokenAnswer = TokenSuccess | TokenFailure;

export interface IssuedClient {
  client: OAuthClient;
  /** Shown once; only its hash is kept. */
  secret: string;
}

const CLIENT_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function newClientId(): string {
  const bytes = randomBytes(30);
  let id = '1000.';
  for (const b of bytes) id += CLIENT_ID_ALPHABET[b % CLIENT_ID_ALPHABET.length];
  return id;
}

export function newClientSecret(): string {
  return randomBytes(21).toString('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

const fail = (error: string): TokenFailure => ({ error });

type OAuthPorts = 'directory' | 'tokens' | 'oauth';

export interface OAuthServiceDeps {
  store: MetadataView<OAuthPorts>;
  caches: CacheInvalidation;
  /** Whether an org's token limits are on. */
  orgLimits: LimitsLookup;
  now: () => number;
  /** Seconds an access token lives (Zoho: 3600). */
  accessTokenLifetimeS: number;
}

export class OAuthService {
  constructor(private readonly deps: OAuthServiceDeps) {}

  private get store(): MetadataView<OAuthPorts> {
    return this.deps.store;
  }

  async createClient(orgId: string, userId: string, name: string): Promise<IssuedClient> {
    if (!(await this.store.directory.getUser(orgId, userId))) throw zohoError('ADMIN_NOT_FOUND', { entity: 'user', key: userId });
    const secret = newClientSecret();
    const client: OAuthClient = {
      id: newClientId(),
      orgId,
      userId,
      name: name.trim() || 'Self Client',
      secretHash: hashToken(secret),
      createdAt: this.deps.now(),
    };
    await this.store.oauth.insertClient(client);
    return { client, secret };
  }

  /** The org and user a client acts for (fault rules matching the token endpoint by org or user). */
  async ownerOf(clientId: string): Promise<{ orgId: string; userId: string } | undefined> {
    const client = await this.store.oauth.getClient(clientId);
    return client && { orgId: client.orgId, userId: client.userId };
  }

  listClients(orgId: string): Promise<OAuthClient[]> {
    return this.store.oauth.listClients(orgId);
  }

  /** Every grant code of the org's clients (used and expired ones too); the codes themselves are never kept. */
  listGrantCodes(orgId: string): Promise<GrantCode[]> {
    return this.store.oauth.listGrantCodes(orgId);
  }

  listRefreshTokens(orgId: string): Promise<RefreshToken[]> {
    return this.store.oauth.listRefreshTokens(orgId);
  }

  async deleteClient(orgId: string, clientId: string): Promise<void> {
    const deleted = await this.store.transaction((tx) => tx.oauth.deleteClient(orgId, clientId, this.deps.now()));
    if (!deleted) throw zohoError('ADMIN_NOT_FOUND', { entity: 'oauth client', key: clientId });
    this.deps.caches.invalidate();
  }

  /**
   * A "self client" grant code (what Zoho's API console generates): one-time, valid `expiresIn` seconds (3 min),
   * for the client's user unless another user of the org is named.
   */
  async createGrantCode(
    orgId: string,
    clientId: string,
    opts: { scopes: string; userId?: string | undefined; expiresIn?: number | undefined },
  ): Promise<{ code: string; expiresAt: number }> {
    const client = await this.store.oauth.getClient(clientId);
    if (!client || client.orgId !== orgId) throw zohoError('ADMIN_NOT_FOUND', { entity: 'oauth client', key: clientId });
    if (!isValidScopeList(opts.scopes)) throw zohoError('INVALID_DATA', { field: 'scopes', reason: 'not a list of ZohoCRM scopes' });
    const userId = opts.userId ?? client.userId;
    if (!(await this.store.directory.getUser(orgId, userId))) throw zohoError('ADMIN_NOT_FOUND', { entity: 'user', key: userId });
    const code = newAccessTokenValue();
    const now = this.deps.now();
    const expiresAt = now + (opts.expiresIn ?? GRANT_CODE_LIFETIME_S) * 1000;
    await this.store.oauth.insertGrantCode({
      codeHash: hashToken(code),
      clientId,
      orgId,
      userId,
      scopes: ScopeSet.parse(opts.scopes).toString(),
      expiresAt,
      usedAt: null,
      createdAt: now,
    });
    return { code, expiresAt };
  }

  /**
   * POST /oauth/v2/token. `apiDomain` is this server's public URL (the SDK then keeps talking to it); `marks` hears
   * of the limits that touched the request (`limit:token-rate`, `limit:refresh-tokens`).
   */
  async token(params: TokenParams, apiDomain: string, marks: string[] = []): Promise<TokenAnswer> {
    const client = params['client_id'] ? await this.store.oauth.getClient(params['client_id']) : undefined;
    if (!client) return fail('invalid_client');
    if (!params['client_secret'] || !sameHash(hashToken(params['client_secret']), client.secretHash)) {
      return fail('invalid_client_secret');
    }
    switch (params['grant_type']) {
      case 'authorization_code':
        return this.exchangeCode(client, params['code'], apiDomain, marks);
      case 'refresh_token':
        return this.refresh(client, params['refresh_token'], apiDomain, marks);
      case 'client_credentials':
        return this.clientCredentials(client, params['scope'], params['soid'], apiDomain);
      default:
        return fail('unsupported_grant_type');
    }
  }

  private async tokenLimits(orgId: string): Promise<boolean> {
    return (await this.deps.orgLimits.effective(orgId)).tokenLimits;
  }

  private async exchangeCode(client: OAuthClient, code: string | undefined, apiDomain: string, marks: string[]): Promise<TokenAnswer> {
    if (!code) return fail('invalid_code');
    const codeHash = hashToken(code);
    const grant = await this.store.oauth.getGrantCode(codeHash);
    const now = this.deps.now();
    if (!grant || grant.clientId !== client.id || grant.expiresAt <= now) return fail('invalid_code');
    const limited = await this.tokenLimits(grant.orgId);
    const answer = await this.store.transaction(async (tx) => {
      // One-time: of two exchanges racing, exactly one marks the code used.
      if (!(await tx.oauth.useGrantCode(codeHash, now))) return fail('invalid_code');
      const refreshValue = newAccessTokenValue();
      const refresh: RefreshToken = {
        id: newZohoId(),
        tokenHash: hashToken(refreshValue),
        clientId: client.id,
        orgId: grant.orgId,
        userId: grant.userId,
        scopes: grant.scopes,
        revokedAt: null,
        createdAt: now,
      };
      await tx.oauth.insertRefreshToken(refresh);
      if (limited) {
        // The 21st refresh token of a user and client revokes the first, and the access tokens made from it.
        const live = await tx.oauth.liveRefreshTokensOf(client.id, grant.userId);
        for (const old of live.slice(0, Math.max(0, live.length - MAX_REFRESH_TOKENS_PER_USER_CLIENT))) {
          await tx.oauth.revokeRefreshToken(old.id, now);
          await tx.tokens.revokeAllOfRefreshToken(old.id, now);
          if (!marks.includes('limit:refresh-tokens')) marks.push('limit:refresh-tokens');
        }
      }
      const access = await this.mint(tx, client, grant.orgId, grant.userId, grant.scopes, refresh.id);
      return {
        access_token: access,
        refresh_token: refreshValue,
        scope: grant.scopes.split(',').join(' '),
        api_domain: apiDomain,
        token_type: 'Bearer',
        expires_in: this.deps.accessTokenLifetimeS,
      } satisfies TokenSuccess;
    });
    // Access tokens of a revoked refresh token stop working here at once, not after the cache's lifetime.
    if (marks.includes('limit:refresh-tokens')) this.deps.caches.invalidate();
    return answer;
  }

  private async refresh(client: OAuthClient, value: string | undefined, apiDomain: string, marks: string[]): Promise<TokenAnswer> {
    if (!value) return fail('invalid_code');
    const refresh = await this.store.oauth.findRefreshToken(hashToken(value));
    if (!refresh || refresh.clientId !== client.id || refresh.revokedAt !== null) return fail('invalid_code');
    const limited = await this.tokenLimits(refresh.orgId);
    const access = await this.store.transaction(async (tx) => {
      // A revoke that commits between the lookup above and this transaction must not leave a fresh token alive.
      if (!(await tx.oauth.holdLiveRefreshToken(refresh.id))) return undefined;
      // Counted while the refresh token's row is held: concurrent refreshes of one token take turns here.
      if (limited && (await tx.tokens.countMintedSince(refresh.id, this.deps.now() - MINT_WINDOW_MS)) >= MAX_MINTED_PER_REFRESH_WINDOW) {
        return ACCESS_DENIED;
      }
      const live = (await tx.tokens.liveOfRefreshToken(refresh.id)).filter((t) => t.expiresAt === null || t.expiresAt > this.deps.now());
      for (const old of live.slice(0, Math.max(0, live.length - (MAX_ACTIVE_TOKENS_PER_REFRESH - 1)))) {
        await tx.tokens.revoke(old.orgId, old.id, this.deps.now());
      }
      return this.mint(tx, client, refresh.orgId, refresh.userId, refresh.scopes, refresh.id);
    });
    if (access === undefined) return fail('invalid_code');
    if (typeof access !== 'string') {
      marks.push('limit:token-rate');
      return access;
    }
    this.deps.caches.invalidate();
    return {
      access_token: access,
      scope: refresh.scopes.split(',').join(' '),
      api_domain: apiDomain,
      token_type: 'Bearer',
      expires_in: this.deps.accessTokenLifetimeS,
    };
  }

  private async clientCredentials(client: OAuthClient, scope: string | undefined, soid: string | undefined, apiDomain: string): Promise<TokenAnswer> {
    if (!soid) return fail('missing_org_info');
    // `soid=ZohoCRM.<org id>`: the org the token is for; a self client serves its own org only.
    const match = /^ZohoCRM\.(\d+)$/i.exec(soid);
    if (!match || match[1] !== client.orgId) return fail('invalid_org_info');
    if (!scope || !isValidScopeList(scope)) return fail('invalid_scope');
    const scopes = ScopeSet.parse(scope).toString();
    const access = await this.store.transaction((tx) => this.mint(tx, client, client.orgId, client.userId, scopes, null));
    return {
      access_token: access,
      scope: scopes.split(',').join(' '),
      api_domain: apiDomain,
      token_type: 'Bearer',
      expires_in: this.deps.accessTokenLifetimeS,
    };
  }

  private async mint(
    tx: Pick<MetadataView<OAuthPorts>, 'tokens'>,
    client: OAuthClient,
    orgId: string,
    userId: string,
    scopes: string,
    refreshTokenId: string | null,
  ): Promise<string> {
    const value = newAccessTokenValue();
    const now = this.deps.now();
    const token: AccessToken = {
      id: newZohoId(),
      orgId,
      userId,
      tokenHash: hashToken(value),
      scopes,
      label: `oauth ${client.name}`,
      expiresAt: now + this.deps.accessTokenLifetimeS * 1000,
      revokedAt: null,
      createdAt: now,
      clientId: client.id,
      refreshTokenId,
    };
    await tx.tokens.insert(token);
    return value;
  }

  /**
   * POST /oauth/v2/token/revoke: a refresh token, with every access token minted from it; or a single access
   * token. Unknown tokens are `invalid_code`.
   */
  async revoke(value: string | undefined): Promise<{ status: 'success' } | TokenFailure> {
    if (!value) return fail('invalid_code');
    const hash = hashToken(value);
    const now = this.deps.now();
    const refresh = await this.store.oauth.findRefreshToken(hash);
    if (refresh) {
      await this.store.transaction(async (tx) => {
        await tx.oauth.revokeRefreshToken(refresh.id, now);
        await tx.tokens.revokeAllOfRefreshToken(refresh.id, now);
      });
      this.deps.caches.invalidate();
      return { status: 'success' };
    }
    const access = await this.store.tokens.findPrincipal(hash);
    if (!access) return fail('invalid_code');
    await this.store.tokens.revoke(access.token.orgId, access.token.id, now);
    this.deps.caches.invalidate();
    return { status: 'success' };
  }
}
