import type { AccessToken, GrantCode, OAuthClient, Org, Profile, RefreshToken, User } from '../entities.js';

/** An access token with everything a request needs to know about who presents it, found in one lookup. */
export interface TokenPrincipalRow {
  token: AccessToken;
  user: User;
  profile: Profile;
  org: Org;
}

/** Access tokens (stored as hashes). */
export interface AccessTokenStore {
  insert(token: AccessToken): Promise<void>;
  findPrincipal(tokenHash: string): Promise<TokenPrincipalRow | undefined>;
  list(orgId: string): Promise<AccessToken[]>;
  /** Marks a token revoked; false when no such token exists in the org. */
  revoke(orgId: string, id: string, at: number): Promise<boolean>;
  /** Access tokens minted from a refresh token and not yet revoked, oldest first. */
  liveOfRefreshToken(refreshTokenId: string): Promise<AccessToken[]>;
  revokeAllOfRefreshToken(refreshTokenId: string, at: number): Promise<number>;
  /** Access tokens minted from a refresh token at or after `since`, revoked or not. */
  countMintedSince(refreshTokenId: string, since: number): Promise<number>;
}

/** The token server's clients, one-time grant codes and refresh tokens. */
export interface OAuthStore {
  insertClient(client: OAuthClient): Promise<void>;
  /** By client id alone: the token endpoint learns the org from the client. */
  getClient(id: string): Promise<OAuthClient | undefined>;
  listClients(orgId: string): Promise<OAuthClient[]>;
  /** Deletes a client with its grant codes and refresh tokens, revoking every access token the client minted. */
  deleteClient(orgId: string, id: string, at: number): Promise<boolean>;

  insertGrantCode(code: GrantCode): Promise<void>;
  getGrantCode(codeHash: string): Promise<GrantCode | undefined>;
  /** Marks an unused code used; false when it was already used (one-time codes under concurrency). */
  useGrantCode(codeHash: string, at: number): Promise<boolean>;
  /** Every grant code of an org's clients, used and expired ones too, oldest first. */
  listGrantCodes(orgId: string): Promise<GrantCode[]>;

  insertRefreshToken(token: RefreshToken): Promise<void>;
  findRefreshToken(tokenHash: string): Promise<RefreshToken | undefined>;
  /** Every refresh token of an org, revoked ones too, oldest first. */
  listRefreshTokens(orgId: string): Promise<RefreshToken[]>;
  /**
   * Inside a transaction: locks the refresh token's row until the transaction ends (a concurrent revoke waits, or is
   * waited for) and says whether it is still live, i.e. not revoked or deleted.
   */
  holdLiveRefreshToken(id: string): Promise<boolean>;
  /** The refresh tokens of one user and client that are not revoked, oldest first. */
  liveRefreshTokensOf(clientId: string, userId: string): Promise<RefreshToken[]>;
  revokeRefreshToken(id: string, at: number): Promise<void>;
}
