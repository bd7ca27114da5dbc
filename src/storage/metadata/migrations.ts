/**
 * Numbered schema migrations, shared by SQLite and PostgreSQL. Never edit a migration that has shipped: add the
 * next number. They are compiled in (not read from a folder) so that the built CLI needs no source tree.
 */
import { type Kysely, type Migration, type MigrationProvider, SqliteAdapter, sql } from 'kysely';

const m0001_initial: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('orgs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('time_zone', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('profiles')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('is_admin', 'integer', (c) => c.notNull())
      .addColumn('permissions', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('profiles_org_name', ['org_id', 'name'])
      .execute();

    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('profile_id', 'text', (c) => c.notNull().references('profiles.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('users_org_email', ['org_id', 'email'])
      .execute();

    await db.schema
      .createTable('module_settings')
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('api_name', 'text', (c) => c.notNull())
      .addColumn('api_name_lower', 'text', (c) => c.notNull())
      .addColumn('custom', 'integer', (c) => c.notNull())
      .addColumn('singular', 'text', (c) => c.notNull())
      .addColumn('plural', 'text', (c) => c.notNull())
      .addColumn('sharing', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('module_settings_pk', ['org_id', 'api_name_lower'])
      .execute();

    await db.schema
      .createTable('access_tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('label', 'text')
      .addColumn('expires_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('access_tokens_org').on('access_tokens').columns(['org_id']).execute();

    await db.schema
      .createTable('records')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('module', 'text', (c) => c.notNull())
      .addColumn('owner_id', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('modified_by', 'text', (c) => c.notNull())
      .addColumn('modified_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('records_org_module').on('records').columns(['org_id', 'module', 'created_at']).execute();

    await db.schema
      .createTable('photos')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('record_id', 'text', (c) => c.primaryKey())
      .addColumn('blob_key', 'text', (c) => c.notNull())
      .addColumn('file_name', 'text', (c) => c.notNull())
      .addColumn('content_type', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('width', 'integer', (c) => c.notNull())
      .addColumn('height', 'integer', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('photos_blob_key').on('photos').columns(['blob_key']).execute();

    await db.schema
      .createTable('attachments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('record_id', 'text', (c) => c.notNull())
      .addColumn('module', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('file_name', 'text', (c) => c.notNull())
      .addColumn('title', 'text')
      .addColumn('link_url', 'text')
      .addColumn('content_type', 'text')
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('blob_key', 'text')
      .addColumn('sha256', 'text')
      .addColumn('owner_id', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('modified_by', 'text', (c) => c.notNull())
      .addColumn('modified_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('attachments_record')
      .on('attachments')
      .columns(['org_id', 'record_id', 'created_at'])
      .execute();
    await db.schema.createIndex('attachments_blob_key').on('attachments').columns(['blob_key']).execute();
  },
  async down(db: Kysely<unknown>) {
    for (const t of ['attachments', 'photos', 'records', 'access_tokens', 'module_settings', 'users', 'profiles', 'orgs']) {
      await sql`drop table if exists ${sql.table(t)}`.execute(db);
    }
  },
};

/** OAuth clients, grant codes and refresh tokens (the token server); workflow rules and their durable outbox. */
const m0002_oauth_workflows: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('oauth_clients')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('oauth_clients_org').on('oauth_clients').columns(['org_id']).execute();

    await db.schema
      .createTable('grant_codes')
      .addColumn('code_hash', 'text', (c) => c.primaryKey())
      .addColumn('client_id', 'text', (c) => c.notNull().references('oauth_clients.id'))
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('refresh_tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('client_id', 'text', (c) => c.notNull().references('oauth_clients.id'))
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema.alterTable('access_tokens').addColumn('client_id', 'text').execute();
    await db.schema.alterTable('access_tokens').addColumn('refresh_token_id', 'text').execute();
    await db.schema.createIndex('access_tokens_refresh').on('access_tokens').columns(['refresh_token_id']).execute();

    await db.schema
      .createTable('workflow_rules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('module', 'text', (c) => c.notNull())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('webhook_url', 'text', (c) => c.notNull())
      .addColumn('secret', 'text')
      .addColumn('active', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('workflow_rules_trigger').on('workflow_rules').columns(['org_id', 'module', 'event']).execute();

    await db.schema
      .createTable('outbox_events')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('rule_id', 'text', (c) => c.notNull())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('locked_until', 'bigint')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('delivered_at', 'bigint')
      .execute();
    await db.schema.createIndex('outbox_due').on('outbox_events').columns(['status', 'next_attempt_at']).execute();
    await db.schema.createIndex('outbox_org').on('outbox_events').columns(['org_id', 'created_at']).execute();

    await db.schema
      .createTable('delivery_attempts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('duration_ms', 'integer', (c) => c.notNull())
      .addColumn('status_code', 'integer')
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('delivery_attempts_event').on('delivery_attempts').columns(['event_id', 'attempt']).execute();
  },
  async down(db: Kysely<unknown>) {
    for (const t of ['delivery_attempts', 'outbox_events', 'workflow_rules', 'refresh_tokens', 'grant_codes', 'oauth_clients']) {
      await sql`drop table if exists ${sql.table(t)}`.execute(db);
    }
    await db.schema.alterTable('access_tokens').dropColumn('refresh_token_id').execute();
    await db.schema.alterTable('access_tokens').dropColumn('client_id').execute();
  },
};

/**
 * Content hashes become optional (computing SHA-256 of every upload is off by default: the ETag comes from the
 * blob key, which never changes its bytes). PostgreSQL drops the NOT NULL; SQLite cannot alter a column's
 * constraints, so the photos table is rebuilt with the same columns and index.
 */
const m0003_optional_photo_hash: Migration = {
  async up(db: Kysely<unknown>) {
    if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
      await sql`alter table photos alter column sha256 drop not null`.execute(db);
      return;
    }
    await db.schema
      .createTable('photos_v3')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('record_id', 'text', (c) => c.primaryKey())
      .addColumn('blob_key', 'text', (c) => c.notNull())
      .addColumn('file_name', 'text', (c) => c.notNull())
      .addColumn('content_type', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('width', 'integer', (c) => c.notNull())
      .addColumn('height', 'integer', (c) => c.notNull())
      .addColumn('sha256', 'text')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await sql`insert into photos_v3 (org_id, record_id, blob_key, file_name, content_type, size, width, height, sha256, created_by, created_at)
      select org_id, record_id, blob_key, file_name, content_type, size, width, height, sha256, created_by, created_at from photos`.execute(db);
    await db.schema.dropTable('photos').execute();
    await db.schema.alterTable('photos_v3').renameTo('photos').execute();
    await db.schema.createIndex('photos_blob_key').on('photos').columns(['blob_key']).execute();
  },
  async down() {
    throw new Error('0003 cannot be undone: photos without a hash would violate NOT NULL');
  },
};

/**
 * Limits, faults and the movable clock: per-org limit settings and their counters (credits per hourly bucket,
 * calls in flight per user and client, the instances' leases), file storage per org (counted from the rows already
 * there), fault rules, and the clock's offset.
 */
const m0004_limits_faults_clock: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('org_limits')
      .addColumn('org_id', 'text', (c) => c.primaryKey().references('orgs.id'))
      .addColumn('edition', 'text')
      .addColumn('users', 'bigint')
      .addColumn('credits', 'bigint')
      .addColumn('concurrency', 'bigint')
      .addColumn('sub_concurrency', 'bigint')
      .addColumn('storage_bytes', 'bigint')
      .addColumn('record_attachment_bytes', 'bigint')
      .addColumn('token_limits', 'integer')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();

    let credits = db.schema
      .createTable('api_credits')
      .addColumn('org_id', 'text', (c) => c.primaryKey())
      .addColumn('last_bucket', 'bigint', (c) => c.notNull());
    // 25 hourly buckets: CREDIT_BUCKETS in domain/limits.ts (a later change of it needs a migration).
    for (let i = 0; i < 25; i++) credits = credits.addColumn(`c${i}`, 'bigint', (c) => c.notNull().defaultTo(0));
    await credits.execute();

    await db.schema
      .createTable('concurrency_slots')
      .addColumn('scope_key', 'text', (c) => c.primaryKey())
      .addColumn('in_flight', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('instance_leases')
      .addColumn('instance_id', 'text', (c) => c.primaryKey())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('holdings', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('org_storage')
      .addColumn('org_id', 'text', (c) => c.primaryKey())
      .addColumn('used_bytes', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('photos_org').on('photos').columns(['org_id']).execute();
    await sql`insert into org_storage (org_id, used_bytes)
      select org_id, sum(size) from (select org_id, size from photos union all select org_id, size from attachments) as media
      group by org_id`.execute(db);

    await db.schema
      .createTable('fault_rules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('match', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('probability', 'double precision')
      .addColumn('remaining', 'bigint')
      .addColumn('until', 'bigint')
      .addColumn('fired', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('test_clock')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('offset_ms', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('photos_org').execute();
    for (const t of ['test_clock', 'fault_rules', 'org_storage', 'instance_leases', 'concurrency_slots', 'api_credits', 'org_limits']) {
      await sql`drop table if exists ${sql.table(t)}`.execute(db);
    }
  },
};

export const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': m0001_initial,
  '0002_oauth_workflows': m0002_oauth_workflows,
  '0003_optional_photo_hash': m0003_optional_photo_hash,
  '0004_limits_faults_clock': m0004_limits_faults_clock,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
