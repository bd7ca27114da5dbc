/**
 * Who may use the admin surface (`/_admin`, `/_console`): a caller presenting the admin key (`X-Admin-Key`, or
 * `Authorization: Bearer`), or the web console's session. A console session starts with the key posted once to the
 * login form and lives in an HttpOnly, SameSite=Strict cookie; it ends after a while without requests and after a
 * maximum age. Changes made with a session must carry the session's CSRF token in a header and come from the server's
 * own origin, so that a page elsewhere (same site or not) cannot make the browser change anything. Wrong keys are
 * counted per client address: past a limit, that address is refused for a while, even with the right key, and every
 * refusal is logged — without the key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type ZohoError, zohoError } from '../domain/errors.js';
import type { DomainLogger } from '../domain/ports/logger.js';

export const SESSION_COOKIE = 'crm_media_console';
export const CSRF_HEADER = 'x-csrf-token';

export interface AdminGateOptions {
  adminKey: string;
  sessionIdleMs: number;
  sessionMaxMs: number;
  maxFailures: number;
  failureWindowMs: number;
  /** This server's public URL, if configured: its origin counts as the server's own. */
  publicUrl?: string | undefined;
  now: () => number;
  log: DomainLogger;
}

interface Session {
  csrf: string;
  createdAt: number;
  lastSeen: number;
}

interface Failures {
  count: number;
  windowStart: number;
  blockedUntil: number;
}

/** Clients remembered for throttling; beyond this the longest-remembered are forgotten (bounded memory). */
const MAX_TRACKED_CLIENTS = 10_000;
const MAX_SESSIONS = 1_000;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Compares digests so that neither the length nor the content of a secret leaks through timing. */
function sameSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

export interface Admitted {
  /** How the caller proved itself. */
  via: 'key' | 'session';
}

export class AdminGate {
  private readonly key: Buffer;
  private readonly sessions = new Map<string, Session>();
  private readonly failures = new Map<string, Failures>();

  constructor(private readonly opts: AdminGateOptions) {
    this.key = digest(opts.adminKey);
  }

  /** The key the request presents, if any (an empty header counts as a wrong key). */
  private presentedKey(request: FastifyRequest): string | undefined {
    const h = request.headers;
    if (typeof h['x-admin-key'] === 'string') return h['x-admin-key'];
    return /^Bearer\s+(\S+)$/i.exec(h.authorization ?? '')?.[1];
  }

  /** Admits the request or throws the Zoho-shaped refusal (401, 403 or 429). */
  admit(request: FastifyRequest, reply: FastifyReply): Admitted {
    const given = this.presentedKey(request);
    if (given !== undefined) {
      this.checkKey(request, reply, given);
      return { via: 'key' };
    }
    const id = sessionIdOf(request);
    const session = id === undefined ? undefined : this.liveSession(id);
    if (!session) {
      if (id !== undefined) {
        clearSessionCookie(reply);
        throw zohoError('ADMIN_SESSION_EXPIRED');
      }
      throw zohoError('ADMIN_UNAUTHORIZED');
    }
    if (!SAFE_METHODS.has(request.method)) this.checkCsrf(request, session);
    session.lastSeen = this.opts.now();
    return { via: 'session' };
  }

  /** The console's login: the key, checked and throttled like any other, starts a session. */
  login(request: FastifyRequest, reply: FastifyReply, key: string): { csrf: string; expiresAt: number } {
    this.checkOrigin(request);
    this.checkKey(request, reply, key);
    const now = this.opts.now();
    this.dropExpired(now);
    // Bounded: the oldest session goes first.
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const session: Session = { csrf: randomBytes(32).toString('base64url'), createdAt: now, lastSeen: now };
    this.sessions.set(id, session);
    const secure = request.protocol === 'https' || this.opts.publicUrl?.startsWith('https:') === true;
    reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(this.opts.sessionMaxMs / 1000)}${secure ? '; Secure' : ''}`,
    );
    return { csrf: session.csrf, expiresAt: this.expiresAt(session) };
  }

  /** The session of this request, for the console's start page: its CSRF token and when it ends. */
  session(request: FastifyRequest): { csrf: string; expiresAt: number } | undefined {
    const id = sessionIdOf(request);
    const session = id === undefined ? undefined : this.liveSession(id);
    if (!session) return undefined;
    session.lastSeen = this.opts.now();
    return { csrf: session.csrf, expiresAt: this.expiresAt(session) };
  }

  logout(request: FastifyRequest, reply: FastifyReply): void {
    const id = sessionIdOf(request);
    if (id !== undefined) {
      const session = this.liveSession(id);
      if (session) this.checkCsrf(request, session);
      this.sessions.delete(id);
    }
    clearSessionCookie(reply);
  }

  private expiresAt(s: Session): number {
    return Math.min(s.lastSeen + this.opts.sessionIdleMs, s.createdAt + this.opts.sessionMaxMs);
  }

  private liveSession(id: string): Session | undefined {
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (this.expiresAt(s) <= this.opts.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  private dropExpired(now: number): void {
    for (const [id, s] of this.sessions) if (this.expiresAt(s) <= now) this.sessions.delete(id);
  }

  private checkKey(request: FastifyRequest, reply: FastifyReply, given: string): void {
    const address = request.ip;
    const now = this.opts.now();
    const f = this.failures.get(address);
    if (f && f.blockedUntil > now) {
      reply.header('retry-after', String(Math.ceil((f.blockedUntil - now) / 1000)));
      this.opts.log.warn({ address, method: request.method, path: pathOf(request) }, 'admin key attempt refused: too many wrong keys from this address');
      throw zohoError('ADMIN_THROTTLED');
    }
    if (sameSecret(given, this.key)) {
      this.failures.delete(address);
      return;
    }
    const failures = this.recordFailure(address, now);
    this.opts.log.warn({ address, method: request.method, path: pathOf(request), failures }, 'wrong admin key');
    throw zohoError('ADMIN_UNAUTHORIZED');
  }

  private recordFailure(address: string, now: number): number {
    let f = this.failures.get(address);
    if (!f || now - f.windowStart > this.opts.failureWindowMs) {
      this.failures.delete(address);
      if (this.failures.size >= MAX_TRACKED_CLIENTS) this.failures.delete(this.failures.keys().next().value!);
      f = { count: 0, windowStart: now, blockedUntil: 0 };
      this.failures.set(address, f);
    }
    f.count++;
    if (f.count >= this.opts.maxFailures) f.blockedUntil = now + this.opts.failureWindowMs;
    return f.count;
  }

  private checkCsrf(request: FastifyRequest, session: Session): void {
    this.checkOrigin(request);
    const token = request.headers[CSRF_HEADER];
    if (typeof token !== 'string' || !sameSecret(token, digest(session.csrf))) {
      throw forbidden('missing or wrong CSRF token');
    }
  }

  /**
   * A change must come from this server's own pages: browsers send `Origin` with every POST, PUT and DELETE, and a
   * page of another origin (another port of the same host included) cannot forge it.
   */
  private checkOrigin(request: FastifyRequest): void {
    const origin = request.headers.origin;
    if (origin === undefined) throw forbidden('no Origin header');
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      throw forbidden('unreadable Origin header');
    }
    const own = request.headers.host;
    const publicHost = this.opts.publicUrl ? new URL(this.opts.publicUrl).host : undefined;
    if (host !== own && host !== publicHost) throw forbidden('cross-origin request');
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function forbidden(reason: string): ZohoError {
  return zohoError('ADMIN_FORBIDDEN', { reason });
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?', 1)[0]!;
}

function sessionIdOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

function clearSessionCookie(reply: FastifyReply): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
}
