/**
 * Zoho-style ids: decimal strings of up to 19 digits that fit a signed 64-bit integer (Zoho's Java SDK reads them
 * as Long, the TypeScript SDK as BigInt). New ids are random 19-digit numbers so that several instances can mint
 * them without coordination; the unique keys of the store catch the negligible chance of a collision.
 */
import { randomBytes } from 'node:crypto';
import { zohoError } from './errors.js';
import type { OperationName } from './operations.js';

const MIN = 10n ** 18n;
const SPAN = 8n * 10n ** 18n;
const MAX_LONG = 9223372036854775807n;

export function newZohoId(): string {
  return (MIN + (randomBytes(8).readBigUInt64BE() % SPAN)).toString();
}

export function isZohoId(s: string): boolean {
  return /^[0-9]{1,19}$/.test(s) && BigInt(s) <= MAX_LONG;
}

/**
 * An `ids` query parameter (comma-separated, blanks ignored) as a list of at least one and at most `max` entries;
 * entries are not checked here, each gets its own answer.
 */
export function idList(raw: string | undefined, max: number, op: OperationName): string[] {
  const ids = (raw ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (ids.length === 0) throw zohoError('REQUIRED_PARAM_MISSING', { param_name: 'ids' }, op);
  if (ids.length > max) throw zohoError('LIMIT_EXCEEDED', { param_name: 'ids', limit: max }, op);
  return ids;
}
