import { sql } from 'kysely';
import type { FaultRule } from '../../../domain/entities.js';
import type { FaultStore } from '../../../domain/ports/faults.js';
import { type QueryContext, affected } from '../query-context.js';
import { readFaultRule, writeFaultRule } from '../rows.js';

export class FaultQueries implements FaultStore {
  constructor(private readonly q: QueryContext) {}

  async list(): Promise<FaultRule[]> {
    return (await this.q.db.selectFrom('fault_rules').selectAll().orderBy('created_at').orderBy('id').execute()).map(readFaultRule);
  }

  async insert(rule: FaultRule): Promise<void> {
    await this.q.db.insertInto('fault_rules').values(writeFaultRule(rule)).execute();
  }

  async delete(id: string): Promise<boolean> {
    return affected(await this.q.db.deleteFrom('fault_rules').where('id', '=', id).executeTakeFirst()) > 0;
  }

  async deleteAll(): Promise<number> {
    return affected(await this.q.db.deleteFrom('fault_rules').executeTakeFirst());
  }

  async fire(id: string): Promise<boolean> {
    const r = await this.q.db
      .updateTable('fault_rules')
      .set({
        fired: sql<number>`fired + 1`,
        remaining: sql<number | null>`case when remaining is null then null else remaining - 1 end`,
      })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('remaining', 'is', null), eb('remaining', '>', 0)]))
      .executeTakeFirst();
    return affected(r) === 1;
  }
}
