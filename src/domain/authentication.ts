/**
 * Access token → Principal. A bounded cache in front of the store keeps token lookups off the hot path; its
 * staleness is bounded by `cacheTtlMs`: a token revoked by another process (the CLI, another instance) stops
 * working within that time, and at once when revoked through this process.
 */
import type { Principal } from './access.js';
import { zohoError } from './errors.js';
import type { AccessTokenStore } from './ports/tokens.js';
import { ScopeSet } from './scopes.js';
import { hashToken } from './tokens.js';
import { TtlCache } from './ttl-cache.js';

interface CacheEntry {
  principal: Principal;
  expiresAt: number | null;
}

export interface AuthenticatorOptions {
  cacheTtlMs: number;
  maxEntries: number;
  now: () => number;
}

export class Authenticator {
  // Keyed by the presented value so that a cache hit costs no hashing; entries hold no more than the store does.
  private readonly cache: TtlCache<string, CacheEntry>;

  constructor(
    private readonly tokens: Pick<AccessTokenStore, 'findPrincipal'>,
    private readonly opts: AuthenticatorOptions,
  ) {
    this.cache = new TtlCache(opts.cacheTtlMs, opts.maxEntries, opts.now);
  }

  /** The principal for a presented token value; INVALID_TOKEN when unknown, expired, revoked or its user inactive. */
  async principalFor(tokenValue: string): Promise<Principal> {
    const now = this.opts.now();
    const hit = this.cache.get(tokenValue);
    if (hit) {
      if (hit.expiresAt !== null && hit.expiresAt <= now) throw zohoError('INVALID_TOKEN');
      return hit.principal;
    }
    const entry = await this.cache.load(tokenValue, async () => {
      const row = await this.tokens.findPrincipal(hashToken(tokenValue));
      if (
        !row ||
        row.token.revokedAt !== null ||
        (row.token.expiresAt !== null && row.token.expiresAt <= now) ||
        row.user.status !== 'active'
      ) {
        this.cache.delete(tokenValue);
        throw zohoError('INVALID_TOKEN');
      }
      const principal: Principal = {
        org: row.org,
        user: row.user,
        profile: row.profile,
        scopes: ScopeSet.parse(row.token.scopes),
        tokenId: row.token.id,
        clientId: row.token.clientId,
      };
      return { principal, expiresAt: row.token.expiresAt };
    });
    return entry.principal;
  }

  /** Forget everything cached (after a revocation or a change of users, profiles or orgs in this process). */
  invalidate(): void {
    this.cache.clear();
  }
}
