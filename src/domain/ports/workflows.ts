import type { DeliveryAttempt, OutboxEvent, OutboxStatus, WorkflowEvent, WorkflowRule } from '../entities.js';
import type { Page } from './page.js';

/** Workflow rules: which webhook hears of which change in which module. */
export interface WorkflowRuleStore {
  insert(rule: WorkflowRule): Promise<void>;
  list(orgId: string): Promise<WorkflowRule[]>;
  get(orgId: string, id: string): Promise<WorkflowRule | undefined>;
  delete(orgId: string, id: string): Promise<boolean>;
  /** The active rules that a change of `event` in `module` triggers, oldest first. */
  activeFor(orgId: string, module: string, event: WorkflowEvent): Promise<WorkflowRule[]>;
}

/** Webhook events waiting for delivery or delivered, written in the transaction of the change that caused them. */
export interface OutboxStore {
  insert(event: OutboxEvent): Promise<void>;
  /**
   * Takes up to `limit` pending events that are due and not held by anyone, holding each until `lockUntil`.
   * Several instances calling this at once never take the same event.
   */
  claimDue(now: number, lockUntil: number, limit: number): Promise<OutboxEvent[]>;
  update(id: string, change: Pick<OutboxEvent, 'status' | 'attempts' | 'nextAttemptAt' | 'lastError' | 'deliveredAt'>): Promise<void>;
  list(orgId: string, filter: { status?: OutboxStatus | undefined }, page: Page): Promise<OutboxEvent[]>;
  /** How many events are in each state, of one org or (without `orgId`) of all. */
  countByStatus(orgId?: string): Promise<Record<OutboxStatus, number>>;
  insertAttempt(attempt: DeliveryAttempt): Promise<void>;
  listAttempts(eventId: string): Promise<DeliveryAttempt[]>;
}
