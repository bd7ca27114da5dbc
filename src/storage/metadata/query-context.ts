/**
 * What every group of queries shares: the connection (or the transaction) to run on, the engine's own behaviour, and
 * the SQL of the queries that run on every request, compiled once.
 */
import { type Compilable, CompiledQuery, type Kysely, type RawBuilder } from 'kysely';
import { DuplicateKeyError } from '../../domain/ports/metadata-errors.js';
import type { Database } from './schema.js';

/** What differs between the engines; everything else is the same SQL. */
export interface EngineHooks {
  /**
   * A statement that takes the lock named `name` until the transaction ends; undefined where the engine has a single
   * writer and the transaction alone serializes everything.
   */
  namedLock: ((name: string) => RawBuilder<unknown>) | undefined;
  /**
   * Whether the engine has row locks (`SELECT … FOR NO KEY UPDATE`, `FOR UPDATE SKIP LOCKED`: PostgreSQL); without
   * them it has one writer at a time.
   */
  rowLocks: boolean;
  /** Resolves once everything committed so far survives power loss. */
  durable(): Promise<void>;
  close(): Promise<void>;
}

export class QueryContext {
  constructor(
    /** The database, or the transaction the queries are bound to. */
    readonly db: Kysely<Database>,
    readonly engine: EngineHooks,
    readonly inTransaction: boolean,
    /** SQL of the queries compiled once, by name (shared by the store and every transaction bound to it). */
    private readonly compiledSql: Map<string, string> = new Map(),
  ) {}

  /** The same engine and compiled queries, bound to a transaction. */
  within(trx: Kysely<Database>): QueryContext {
    return new QueryContext(trx, this.engine, true, this.compiledSql);
  }

  /**
   * The rows of a query that runs on every request: Kysely would build and compile it anew each time, which costs
   * more than SQLite takes to run it. `build` runs once per store; `params` must be its parameters in order (checked
   * when it is compiled).
   */
  async compiledOnce<R>(name: string, build: () => Compilable<R>, params: readonly unknown[]): Promise<R[]> {
    let text = this.compiledSql.get(name);
    if (text === undefined) {
      const c = build().compile();
      if (c.parameters.length !== params.length || c.parameters.some((p, i) => p !== params[i])) {
        throw new Error(`compiled query ${name}: parameters do not follow the query's order`);
      }
      text = c.sql;
      this.compiledSql.set(name, text);
    }
    return (await this.db.executeQuery<R>(CompiledQuery.raw(text, [...params]))).rows;
  }
}

/** An insert whose unique key is taken fails with the engine-neutral DuplicateKeyError (SQLite's or PostgreSQL's code). */
export async function insertingUnique(insert: Promise<unknown>): Promise<void> {
  try {
    await insert;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new DuplicateKeyError(err);
    }
    throw err;
  }
}

/** Rows an UPDATE or DELETE touched, whatever the driver's bigint type. */
export function affected(result: { numUpdatedRows: bigint } | { numDeletedRows: bigint }): number {
  return Number('numUpdatedRows' in result ? result.numUpdatedRows : result.numDeletedRows);
}

/** `alias.column as alias_column` for every column of a table: one join can then return several rows side by side. */
export function aliased<C extends string, A extends string>(alias: A, columns: readonly C[]): `${A}.${C} as ${A}_${C}`[] {
  return columns.map((c) => `${alias}.${c} as ${alias}_${c}` as `${A}.${C} as ${A}_${C}`);
}

/**
 * Reads one table's row out of a joined row selected with `aliased`. Made once per query: the aliased keys are
 * built here, not on every row (a photo download reads two tables this way).
 */
export function unaliasing<T>(alias: string, columns: readonly (keyof T & string)[]): (joined: Record<string, unknown>) => T {
  const pairs = columns.map((c) => [c, `${alias}_${c}`] as const);
  return (joined) => {
    const row = {} as Record<keyof T, unknown>;
    for (const [column, key] of pairs) row[column] = joined[key];
    return row as T;
  };
}

/** Limits an `IN (...)` list so that no engine's bound-parameter limit is reached. */
export const IN_LIST_CHUNK = 500;
