/**
 * Secrets out of every text that leaves the process as a log line or an error message: passwords in URLs
 * (`postgres://user:secret@…`), query values (`?access_token=…`), credentials after an auth scheme
 * (`Zoho-oauthtoken …`, `Bearer …`), Zoho-format token values, and the secret values this process was configured
 * with (admin key, dev token, the database password, AWS keys), wherever a library's error message happens to put
 * them. Applied by the logger (every message and error), the CLI (every error line) and webhook delivery (the error
 * text it stores and logs).
 */
import { redactedQuery } from '../server/request-journal.js';

const REDACTED = 'REDACTED';

/** Values shorter than this are not registered: replacing them would mangle ordinary words. */
const MIN_SECRET_LENGTH = 8;
const known = new Set<string>();

/** Registers a value to be redacted wherever it appears from now on (configuration secrets). */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= MIN_SECRET_LENGTH) known.add(value);
}

/** The secrets of a configuration: admin key, dev token, the database URL's password, AWS keys from the environment. */
export function registerConfigSecrets(config: { adminKey?: string | undefined; devToken?: string | undefined; database?: string | undefined }, env: NodeJS.ProcessEnv): void {
  registerSecret(config.adminKey);
  registerSecret(config.devToken);
  if (config.database) {
    try {
      const password = new URL(config.database).password;
      registerSecret(password);
      registerSecret(decodeURIComponent(password));
    } catch {
      // Not a URL: the userinfo pattern below still catches a password written in one.
    }
  }
  registerSecret(env['AWS_SECRET_ACCESS_KEY']);
  registerSecret(env['AWS_SESSION_TOKEN']);
  registerSecret(env['PGPASSWORD']);
}

/** `scheme://user:password@` → `scheme://user:REDACTED@`. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*):([^\s/?#@]+)@/gi;
/** A query string anywhere in the text, up to whitespace, a quote or a fragment. */
const QUERY = /\?([^\s"'<>#`]+)/g;
/** Credentials after an HTTP auth scheme (a token-like word, so that prose such as "Basic usage" is left alone). */
const AUTH_SCHEME = /\b(Zoho-oauthtoken|Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi;
/** Access, refresh and grant-code values in Zoho's format (domain/tokens.ts). */
const ZOHO_TOKEN = /\b1000\.[0-9a-f]{32}\.[0-9a-f]{32}\b/gi;

export function redactSecrets(text: string): string {
  let out = text;
  if (out.includes('://')) out = out.replace(USERINFO, `$1$2:${REDACTED}@`);
  if (out.includes('?')) out = out.replace(QUERY, (_m, query: string) => `?${redactedQuery(`?${query}`)}`);
  if (out.includes('1000.')) out = out.replace(ZOHO_TOKEN, REDACTED);
  out = out.replace(AUTH_SCHEME, `$1$2${REDACTED}`);
  for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/** The same for every string inside a (serialized) error or log object, a few levels deep. */
export function redactDeep<T>(value: T, depth = 6): T {
  if (typeof value === 'string') return redactSecrets(value) as T;
  if (depth <= 0 || value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth - 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, depth - 1);
  return out as T;
}
