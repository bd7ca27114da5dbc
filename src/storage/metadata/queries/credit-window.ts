/**
 * The SQL of the credit window: a ring of CREDIT_BUCKETS hourly counters in one row per org (schema.ts
 * `api_credits`). One UPDATE expires the buckets that left the window, checks that the live ones plus the cost stay
 * within the limit, spends, and returns the new total; the row's lock serializes concurrent spenders on PostgreSQL
 * (which re-evaluates the whole condition on the row it waited for) and SQLite has a single writer, so the limit is
 * exact on both, across instances. Portable SQL: CASE, integer `%`, RETURNING.
 *
 * Which bucket a column holds is known from `last_bucket` (the newest bucket written): column i holds
 * `last_bucket - ((last_bucket - i) mod N)`, which is live while it is more than N - 1 buckets older than the newest.
 * A clock that went back (the movable clock reset) never brings spent credits back: the newest bucket is the later
 * of `last_bucket` and the current one.
 */
import { type RawBuilder, sql } from 'kysely';
import { CREDIT_BUCKETS } from '../../../domain/ports/limits.js';

export interface CreditValues {
  org: string;
  cost: number;
  limit: number;
  bucket: number;
}

/** A piece of SQL: text, or the name of a value passed as a parameter. */
type Piece = string | { param: keyof CreditValues };
const param = (name: keyof CreditValues): Piece => ({ param: name });

const N = CREDIT_BUCKETS;
export const CREDIT_COLUMNS = Array.from({ length: N }, (_, i) => `c${i}`);

const newest: Piece[] = ['(case when last_bucket > ', param('bucket'), ' then last_bucket else ', param('bucket'), ' end)'];

function live(i: number): Piece[] {
  return [`(case when (last_bucket - ((last_bucket - ${i}) % ${N})) <= `, ...newest, ` - ${N} then 0 else c${i} end)`];
}

function liveTotal(): Piece[] {
  return CREDIT_COLUMNS.flatMap((_, i) => (i === 0 ? live(i) : [' + ', ...live(i)]));
}

const SPEND: Piece[] = [
  'update api_credits set ',
  ...CREDIT_COLUMNS.flatMap((c, i) => [`${c} = `, ...live(i), ' + (case when ', ...newest, ` % ${N} = ${i} then `, param('cost'), ' else 0 end), ']),
  'last_bucket = ',
  ...newest,
  ' where org_id = ',
  param('org'),
  ' and ',
  ...liveTotal(),
  ' + ',
  param('cost'),
  ' <= ',
  param('limit'),
  ` returning ${CREDIT_COLUMNS.join(' + ')} as used`,
];

const USED: Piece[] = ['select ', ...liveTotal(), ' as used from api_credits where org_id = ', param('org')];

function build(pieces: readonly Piece[], values: CreditValues): RawBuilder<unknown> {
  return sql.join(
    pieces.map((p) => (typeof p === 'string' ? sql.raw(p) : sql`${values[p.param]}`)),
    sql.raw(''),
  );
}

function params(pieces: readonly Piece[], values: CreditValues): unknown[] {
  const out: unknown[] = [];
  for (const p of pieces) if (typeof p !== 'string') out.push(values[p.param]);
  return out;
}

/** The spending UPDATE (returns `used` when it spent) and its parameters. */
export function spendQuery(values: CreditValues): { build: () => RawBuilder<unknown>; params: unknown[] } {
  return { build: () => build(SPEND, values), params: params(SPEND, values) };
}

/** The live total (no row: the org has spent nothing yet). */
export function usedQuery(values: CreditValues): { build: () => RawBuilder<unknown>; params: unknown[] } {
  return { build: () => build(USED, values), params: params(USED, values) };
}
