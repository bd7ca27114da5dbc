import type { DeliveryAttempt, OutboxEvent, OutboxStatus, WorkflowEvent, WorkflowRule } from '../../../domain/entities.js';
import type { Page } from '../../../domain/ports/page.js';
import type { OutboxStore, WorkflowRuleStore } from '../../../domain/ports/workflows.js';
import { type QueryContext, affected } from '../query-context.js';
import { readDeliveryAttempt, readOutboxEvent, readWorkflowRule, writeDeliveryAttempt, writeOutboxEvent, writeWorkflowRule } from '../rows.js';

export class WorkflowRuleQueries implements WorkflowRuleStore {
  constructor(private readonly q: QueryContext) {}

  async insert(rule: WorkflowRule): Promise<void> {
    await this.q.db.insertInto('workflow_rules').values(writeWorkflowRule(rule)).execute();
  }
  async list(orgId: string): Promise<WorkflowRule[]> {
    const rows = await this.q.db.selectFrom('workflow_rules').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute();
    return rows.map(readWorkflowRule);
  }
  async get(orgId: string, id: string): Promise<WorkflowRule | undefined> {
    const r = await this.q.db.selectFrom('workflow_rules').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return r && readWorkflowRule(r);
  }
  async delete(orgId: string, id: string): Promise<boolean> {
    return affected(await this.q.db.deleteFrom('workflow_rules').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()) > 0;
  }
  async activeFor(orgId: string, module: string, event: WorkflowEvent): Promise<WorkflowRule[]> {
    const rows = await this.q.compiledOnce(
      'workflows.activeFor',
      () =>
        this.q.db
          .selectFrom('workflow_rules')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('module', '=', module)
          .where('event', '=', event)
          .where('active', '=', 1)
          .orderBy('created_at'),
      [orgId, module, event, 1],
    );
    return rows.map(readWorkflowRule);
  }
}

export class OutboxQueries implements OutboxStore {
  constructor(private readonly q: QueryContext) {}

  async insert(event: OutboxEvent): Promise<void> {
    await this.q.db.insertInto('outbox_events').values(writeOutboxEvent(event)).execute();
  }

  async claimDue(now: number, lockUntil: number, limit: number): Promise<OutboxEvent[]> {
    const claim = async (db: QueryContext['db']) => {
      let due = db
        .selectFrom('outbox_events')
        .selectAll()
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
        .orderBy('next_attempt_at')
        .limit(limit);
      // PostgreSQL: rows another instance is claiming right now are skipped, not waited for or taken twice.
      // SQLite has one writer: the transaction alone excludes a concurrent claim.
      if (this.q.engine.rowLocks) due = due.forUpdate().skipLocked();
      const rows = await due.execute();
      if (rows.length === 0) return [];
      await db
        .updateTable('outbox_events')
        .set({ locked_until: lockUntil })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      return rows.map((r) => readOutboxEvent({ ...r, locked_until: lockUntil }));
    };
    return this.q.inTransaction ? claim(this.q.db) : this.q.db.transaction().execute(claim);
  }

  async update(id: string, change: Pick<OutboxEvent, 'status' | 'attempts' | 'nextAttemptAt' | 'lastError' | 'deliveredAt'>): Promise<void> {
    await this.q.db
      .updateTable('outbox_events')
      .set({
        status: change.status,
        attempts: change.attempts,
        next_attempt_at: change.nextAttemptAt,
        last_error: change.lastError,
        delivered_at: change.deliveredAt,
        locked_until: null,
      })
      .where('id', '=', id)
      .execute();
  }

  async list(orgId: string, filter: { status?: OutboxStatus | undefined }, page: Page): Promise<OutboxEvent[]> {
    let q = this.q.db.selectFrom('outbox_events').selectAll().where('org_id', '=', orgId);
    if (filter.status) q = q.where('status', '=', filter.status);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute();
    return rows.map(readOutboxEvent);
  }

  async countByStatus(orgId?: string): Promise<Record<OutboxStatus, number>> {
    let q = this.q.db.selectFrom('outbox_events').select((eb) => ['status', eb.fn.countAll().as('n')]).groupBy('status');
    if (orgId !== undefined) q = q.where('org_id', '=', orgId);
    const counts: Record<OutboxStatus, number> = { pending: 0, delivered: 0, failed: 0 };
    for (const r of await q.execute()) counts[r.status as OutboxStatus] = Number(r.n);
    return counts;
  }

  async insertAttempt(attempt: DeliveryAttempt): Promise<void> {
    await this.q.db.insertInto('delivery_attempts').values(writeDeliveryAttempt(attempt)).execute();
  }

  async listAttempts(eventId: string): Promise<DeliveryAttempt[]> {
    const rows = await this.q.db.selectFrom('delivery_attempts').selectAll().where('event_id', '=', eventId).orderBy('attempt').execute();
    return rows.map(readDeliveryAttempt);
  }
}
