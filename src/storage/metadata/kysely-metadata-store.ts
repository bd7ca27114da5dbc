/**
 * The metadata store over Kysely: one implementation for SQLite and PostgreSQL. The SQL is portable; what differs
 * between the engines (the per-record lock, SKIP LOCKED, durability) comes in through `EngineHooks`. Each port is
 * its own group of queries (queries/); a transaction hands out the same groups bound to it.
 */
import { type Kysely, type Transaction, sql } from 'kysely';
import { CommitOutcomeUnknownError } from '../../domain/ports/metadata-errors.js';
import type { MetadataPorts, MetadataStore, MetadataView } from '../../domain/ports/metadata.js';
import { AttachmentQueries } from './queries/attachments.js';
import { ClockQueries } from './queries/clock.js';
import { DirectoryQueries } from './queries/directory.js';
import { FaultQueries } from './queries/faults.js';
import { LimitQueries } from './queries/limits.js';
import { MaintenanceQueries } from './queries/maintenance.js';
import { PhotoQueries } from './queries/photos.js';
import { RecordQueries } from './queries/records.js';
import { StorageQueries } from './queries/storage.js';
import { AccessTokenQueries, OAuthQueries } from './queries/tokens.js';
import { OutboxQueries, WorkflowRuleQueries } from './queries/workflows.js';
import { type EngineHooks, QueryContext } from './query-context.js';
import type { Database } from './schema.js';

/** Every port, bound to the database or to one transaction. */
class KyselyPorts implements MetadataView<keyof MetadataPorts> {
  readonly records;
  readonly photos;
  readonly attachments;
  readonly directory;
  readonly tokens;
  readonly oauth;
  readonly workflows;
  readonly outbox;
  readonly maintenance;
  readonly limits;
  readonly storage;
  readonly faults;
  readonly clock;

  constructor(protected readonly context: QueryContext) {
    this.records = new RecordQueries(context);
    this.photos = new PhotoQueries(context);
    this.attachments = new AttachmentQueries(context);
    this.directory = new DirectoryQueries(context);
    this.tokens = new AccessTokenQueries(context);
    this.oauth = new OAuthQueries(context);
    this.workflows = new WorkflowRuleQueries(context);
    this.outbox = new OutboxQueries(context);
    this.maintenance = new MaintenanceQueries(context);
    this.limits = new LimitQueries(context);
    this.storage = new StorageQueries(context);
    this.faults = new FaultQueries(context);
    this.clock = new ClockQueries(context);
  }

  async transaction<T>(fn: (tx: MetadataView<keyof MetadataPorts>) => Promise<T>): Promise<T> {
    if (this.context.inTransaction) return fn(this);
    let bodyDone = false;
    try {
      return await this.context.db.transaction().execute(async (trx: Transaction<Database>) => {
        const result = await fn(new KyselyPorts(this.context.within(trx)));
        bodyDone = true;
        return result;
      });
    } catch (err) {
      // The body succeeded, so COMMIT itself failed: over a network the database may have applied it anyway.
      throw bodyDone ? new CommitOutcomeUnknownError(err) : err;
    }
  }
}

export class KyselyMetadataStore extends KyselyPorts implements MetadataStore {
  constructor(db: Kysely<Database>, engine: EngineHooks) {
    super(new QueryContext(db, engine, false));
  }

  durable(): Promise<void> {
    return this.context.engine.durable();
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.context.db);
  }

  async close(): Promise<void> {
    await this.context.engine.close();
  }
}
