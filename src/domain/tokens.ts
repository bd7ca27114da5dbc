/**
 * OAuth access token values in Zoho's format (`1000.<32 hex>.<32 hex>`). Only the SHA-256 of a value is stored:
 * the values carry 256 random bits, so a fast hash is enough and lets the lookup be a single indexed query.
 */
import { createHash, randomBytes } from 'node:crypto';

export function newAccessTokenValue(): string {
  return `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
}

export function hashToken(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Values a client may present: printable, no whitespace, bounded (anything else is a garbled header). */
export function isPlausibleTokenValue(value: string): boolean {
  return value.length > 0 && value.length <= 512 && /^[\x21-\x7e]+$/.test(value);
}

/** A stored hash as a seed document carries it: SHA-256, 64 lower-case hex digits. */
export function isTokenHash(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}
