/**
 * Workflow rules: per module, on photo uploaded / photo deleted / attachment added / attachment deleted, a webhook
 * action. Matching rules turn a change into outbox events inside the change's own transaction, so an event exists
 * exactly when its change was committed; the webhook deliverer (webhooks/) sends them afterwards.
 */
import { type Principal, resolveModule } from './access.js';
import type { CacheInvalidation } from './cached-lookups.js';
import type { DeliveryAttempt, OutboxEvent, OutboxStatus, User, WorkflowEvent, WorkflowRule } from './entities.js';
import { WORKFLOW_EVENTS } from './entities.js';
import { zohoError } from './errors.js';
import { isZohoId, newZohoId } from './ids.js';
import { isHttpLink } from './links.js';
import type { MetadataPorts, MetadataView } from './ports/metadata.js';
import type { Page } from './ports/page.js';
import type { WorkflowRuleStore } from './ports/workflows.js';
import { formatZohoTime } from './time.js';

export interface ChangeEvent {
  orgId: string;
  timeZone: string;
  module: string;
  recordId: string;
  event: WorkflowEvent;
  user: Pick<User, 'id' | 'name' | 'email'>;
  occurredAt: number;
  /** Event-specific facts: the photo or the attachment. */
  subject: Record<string, unknown>;
}

/** The change `principal` made to a record of `module`, as the workflow rules hear of it. */
export function changeEvent(
  principal: Principal,
  change: Pick<ChangeEvent, 'module' | 'recordId' | 'event' | 'occurredAt' | 'subject'>,
): ChangeEvent {
  return { orgId: principal.org.id, timeZone: principal.org.timeZone, user: principal.user, ...change };
}

/**
 * The active rules a change triggers (cached: cached-lookups.ts); on a miss they are read through `rules`, the port
 * of the transaction the change runs in (on single-connection SQLite, a read outside it would wait for it for ever).
 */
export type ActiveRules = (rules: WorkflowRuleStore, orgId: string, module: string, event: WorkflowEvent) => Promise<WorkflowRule[]>;

/** Records the outbox events for `change`, one per rule of `rules`, in the caller's transaction. */
export async function queueWorkflowEvents(tx: Pick<MetadataPorts, 'outbox'>, change: ChangeEvent, rules: readonly WorkflowRule[]): Promise<number> {
  for (const rule of rules) {
    const id = newZohoId();
    const payload = {
      id,
      event: change.event,
      occurred_at: formatZohoTime(change.occurredAt, change.timeZone),
      org_id: change.orgId,
      module: change.module,
      record_id: change.recordId,
      rule: { id: rule.id, name: rule.name },
      user: { id: change.user.id, name: change.user.name, email: change.user.email },
      ...change.subject,
    };
    await tx.outbox.insert({
      id,
      orgId: change.orgId,
      ruleId: rule.id,
      event: change.event,
      payload: JSON.stringify(payload),
      status: 'pending',
      attempts: 0,
      nextAttemptAt: change.occurredAt,
      lockedUntil: null,
      lastError: null,
      createdAt: change.occurredAt,
      deliveredAt: null,
    });
  }
  return rules.length;
}

export interface NewWorkflowRule {
  name: string;
  module: string;
  event: string;
  url: string;
  secret?: string | undefined;
  active?: boolean | undefined;
  /** Restoring an exported rule: its id and when it was made. */
  id?: string | undefined;
  createdAt?: number | undefined;
}

export interface DeliveryRecord {
  event: OutboxEvent;
  attempts: DeliveryAttempt[];
}

/** Administration of rules and inspection of deliveries (admin API and CLI). */
export class WorkflowAdmin {
  constructor(
    private readonly store: MetadataView<'directory' | 'workflows' | 'outbox'>,
    /** The rules a change triggers are cached (cached-lookups.ts): a change of them here is seen at once. */
    private readonly caches: CacheInvalidation,
    private readonly now: () => number,
  ) {}

  async createRule(orgId: string, input: NewWorkflowRule): Promise<WorkflowRule> {
    if (!(await this.store.directory.getOrg(orgId))) throw zohoError('ADMIN_NOT_FOUND', { entity: 'org', key: orgId });
    if (!(WORKFLOW_EVENTS as readonly string[]).includes(input.event)) {
      throw zohoError('INVALID_DATA', { field: 'event', allowed: WORKFLOW_EVENTS });
    }
    const module = (await resolveModule(this.store.directory, orgId, input.module))?.module.apiName;
    if (!module) throw zohoError('INVALID_DATA', { field: 'module', reason: 'no such module in this org' });
    if (!isHttpLink(input.url)) throw zohoError('INVALID_DATA', { field: 'url', reason: 'an absolute http(s) URL' });
    if (!input.name.trim()) throw zohoError('INVALID_DATA', { field: 'name', reason: 'empty' });
    if (input.id !== undefined && !isZohoId(input.id)) throw zohoError('INVALID_DATA', { field: 'id', reason: 'must be a string of up to 19 digits' });
    const rule: WorkflowRule = {
      id: input.id ?? newZohoId(),
      orgId,
      name: input.name,
      module,
      event: input.event as WorkflowEvent,
      webhookUrl: new URL(input.url).toString(),
      secret: input.secret ?? null,
      active: input.active ?? true,
      createdAt: input.createdAt ?? this.now(),
    };
    await this.store.workflows.insert(rule);
    this.caches.invalidate();
    return rule;
  }

  /** The same administration working inside a transaction (seeding). */
  within(store: MetadataView<'directory' | 'workflows' | 'outbox'>): WorkflowAdmin {
    return new WorkflowAdmin(store, this.caches, this.now);
  }

  /** How many events are pending, delivered and failed, of one org or of all. */
  deliveryCounts(orgId?: string): Promise<Record<OutboxStatus, number>> {
    return this.store.outbox.countByStatus(orgId);
  }

  listRules(orgId: string): Promise<WorkflowRule[]> {
    return this.store.workflows.list(orgId);
  }

  async deleteRule(orgId: string, id: string): Promise<void> {
    if (!(await this.store.workflows.delete(orgId, id))) throw zohoError('ADMIN_NOT_FOUND', { entity: 'workflow rule', key: id });
    this.caches.invalidate();
  }

  /** Events with every delivery attempt, newest first; `status` narrows to pending, delivered or failed. */
  async deliveries(orgId: string, status: OutboxStatus | undefined, page: Page): Promise<DeliveryRecord[]> {
    const events = await this.store.outbox.list(orgId, { status }, page);
    return Promise.all(events.map(async (event) => ({ event, attempts: await this.store.outbox.listAttempts(event.id) })));
  }
}
