import { sql } from 'kysely';
import type { ClockStore } from '../../../domain/ports/clock.js';
import type { QueryContext } from '../query-context.js';

/** The one row of `test_clock` (id 1). */
const ROW = 1;

export class ClockQueries implements ClockStore {
  constructor(private readonly q: QueryContext) {}

  async offset(): Promise<number> {
    const r = await this.q.db.selectFrom('test_clock').select('offset_ms').where('id', '=', ROW).executeTakeFirst();
    return r ? Number(r.offset_ms) : 0;
  }

  async advance(ms: number): Promise<number> {
    const r = await this.q.db
      .insertInto('test_clock')
      .values({ id: ROW, offset_ms: ms })
      .onConflict((oc) => oc.column('id').doUpdateSet({ offset_ms: sql<number>`test_clock.offset_ms + excluded.offset_ms` }))
      .returning('offset_ms')
      .executeTakeFirstOrThrow();
    return Number(r.offset_ms);
  }

  async reset(): Promise<void> {
    await this.q.db.deleteFrom('test_clock').where('id', '=', ROW).execute();
  }
}
