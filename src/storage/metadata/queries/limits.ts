import { type Compilable, type RawBuilder, sql } from 'kysely';
import type { OrgLimitSettings } from '../../../domain/entities.js';
import type { Holdings, LimitStore } from '../../../domain/ports/limits.js';
import { type QueryContext, affected } from '../query-context.js';
import { readOrgLimits, writeOrgLimits } from '../rows.js';
import { CREDIT_COLUMNS, type CreditValues, spendQuery, usedQuery } from './credit-window.js';

/** Bounds the retries of a spender that raced the creation of the org's row (its UPDATE saw none). */
const CREATE_ATTEMPTS = 4;

export class LimitQueries implements LimitStore {
  constructor(private readonly q: QueryContext) {}

  private compilable<R>(raw: () => RawBuilder<R>): () => Compilable<R> {
    return () => ({ compile: () => raw().compile(this.q.db) });
  }

  async getSettings(orgId: string): Promise<OrgLimitSettings | undefined> {
    const r = await this.q.db.selectFrom('org_limits').selectAll().where('org_id', '=', orgId).executeTakeFirst();
    return r && readOrgLimits(r);
  }

  async putSettings(settings: OrgLimitSettings): Promise<void> {
    const row = writeOrgLimits(settings);
    const { org_id: _key, ...update } = row;
    await this.q.db.insertInto('org_limits').values(row).onConflict((oc) => oc.column('org_id').doUpdateSet(update)).execute();
  }

  async deleteSettings(orgId: string): Promise<boolean> {
    return affected(await this.q.db.deleteFrom('org_limits').where('org_id', '=', orgId).executeTakeFirst()) > 0;
  }

  async spendCredits(orgId: string, cost: number, limit: number, bucket: number): Promise<{ spent: boolean; used: number }> {
    const values: CreditValues = { org: orgId, cost, limit, bucket };
    const spend = spendQuery(values);
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
      const [row] = await this.q.compiledOnce<{ used: number | string }>('credits.spend', this.compilable(spend.build as () => RawBuilder<{ used: number | string }>), spend.params);
      if (row) return { spent: true, used: Number(row.used) };
      const used = await this.liveUsed(values);
      if (used !== undefined && used + cost > limit) return { spent: false, used };
      // Room after all: the row was made by a first spender after this one's UPDATE looked. Spend again.
      if (used !== undefined) continue;
      // The org's first spending: the row is made here; a spender that made it first wins, and this one tries again.
      if (cost > limit) return { spent: false, used: 0 };
      const column = CREDIT_COLUMNS[bucket % CREDIT_COLUMNS.length] as `c${number}`;
      const created = await this.q.db
        .insertInto('api_credits')
        .values({ org_id: orgId, last_bucket: bucket, ...({ [column]: cost } as Record<`c${number}`, number>) })
        .onConflict((oc) => oc.column('org_id').doNothing())
        .executeTakeFirst();
      if (Number(created.numInsertedOrUpdatedRows ?? 0) > 0) return { spent: true, used: cost };
    }
    throw new Error(`spending credits of org ${orgId}: the counter row could not be created`);
  }

  private async liveUsed(values: CreditValues): Promise<number | undefined> {
    const used = usedQuery(values);
    const [row] = await this.q.compiledOnce<{ used: number | string }>('credits.used', this.compilable(used.build as () => RawBuilder<{ used: number | string }>), used.params);
    return row ? Number(row.used) : undefined;
  }

  async creditsUsed(orgId: string, bucket: number): Promise<number> {
    return (await this.liveUsed({ org: orgId, cost: 0, limit: 0, bucket })) ?? 0;
  }

  async resetCredits(orgId: string): Promise<void> {
    await this.q.db.deleteFrom('api_credits').where('org_id', '=', orgId).execute();
  }

  async acquireSlot(key: string, limit: number): Promise<boolean> {
    const rows = await this.q.compiledOnce(
      'slots.acquire',
      () =>
        this.q.db
          .insertInto('concurrency_slots')
          .values({ scope_key: key, in_flight: 1 })
          .onConflict((oc) =>
            oc
              .column('scope_key')
              .doUpdateSet({ in_flight: sql<number>`concurrency_slots.in_flight + 1` })
              .where('concurrency_slots.in_flight', '<', limit),
          )
          .returning('in_flight'),
      [key, 1, limit],
    );
    return rows.length === 1;
  }

  async releaseSlots(key: string, count: number): Promise<void> {
    await this.q.compiledOnce(
      'slots.release',
      () =>
        this.q.db
          .updateTable('concurrency_slots')
          .set({ in_flight: sql<number>`case when in_flight > ${count} then in_flight - ${count} else 0 end` })
          .where('scope_key', '=', key),
      [count, count, key],
    );
  }

  async slotsInUse(prefix: string): Promise<Record<string, number>> {
    const rows = await this.q.db
      .selectFrom('concurrency_slots')
      .selectAll()
      .where(sql<string>`substr(scope_key, 1, ${prefix.length})`, '=', prefix)
      .where('in_flight', '>', 0)
      .orderBy('scope_key')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.scope_key, Number(r.in_flight)]));
  }

  async heartbeat(instanceId: string, expiresAt: number, holdings: Holdings): Promise<void> {
    const row = { instance_id: instanceId, expires_at: expiresAt, holdings: JSON.stringify(holdings) };
    await this.q.db
      .insertInto('instance_leases')
      .values(row)
      .onConflict((oc) => oc.column('instance_id').doUpdateSet({ expires_at: row.expires_at, holdings: row.holdings }))
      .execute();
  }

  async takeExpiredLease(now: number): Promise<{ instanceId: string; holdings: Holdings } | undefined> {
    // Bounded: each pass either takes a lease or sees one that another instance took meanwhile.
    for (let attempt = 0; attempt < 8; attempt++) {
      const expired = await this.q.db.selectFrom('instance_leases').selectAll().where('expires_at', '<', now).orderBy('expires_at').limit(1).executeTakeFirst();
      if (!expired) return undefined;
      const taken = await this.q.db.deleteFrom('instance_leases').where('instance_id', '=', expired.instance_id).where('expires_at', '<', now).executeTakeFirst();
      if (affected(taken) === 1) return { instanceId: expired.instance_id, holdings: JSON.parse(expired.holdings) as Holdings };
    }
    return undefined;
  }

  async dropLease(instanceId: string): Promise<void> {
    await this.q.db.deleteFrom('instance_leases').where('instance_id', '=', instanceId).execute();
  }
}
