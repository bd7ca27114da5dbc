/**
 * The shapes of admin input, shared by the admin HTTP API and the seed file so that the two cannot drift apart.
 */
import { z } from 'zod';
import { RECORD_STATES, SHARING_SETTINGS, WORKFLOW_EVENTS } from '../domain/entities.js';
import { RESET_POINTS } from '../domain/faults.js';
import { EDITIONS } from '../domain/limits.js';

const permissions = z.object({
  view: z.boolean().default(false),
  create: z.boolean().default(false),
  edit: z.boolean().default(false),
  delete: z.boolean().default(false),
  /** Tab permission; false hides the module (INVALID_MODULE). */
  tab: z.boolean().optional(),
});

export const adminSchemas = {
  org: z.object({ id: z.string().optional(), name: z.string().min(1), time_zone: z.string().optional() }),
  profile: z.object({
    id: z.string().optional(),
    name: z.string().min(1),
    admin: z.boolean().optional(),
    permissions: z.record(z.string(), permissions).optional(),
  }),
  user: z.object({ id: z.string().optional(), name: z.string().min(1), email: z.string(), profile: z.string() }),
  module: z.object({
    api_name: z.string(),
    singular: z.string().optional(),
    plural: z.string().optional(),
    sharing: z.enum(SHARING_SETTINGS).optional(),
  }),
  sharing: z.object({ sharing: z.enum(SHARING_SETTINGS) }),
  record: z.object({
    id: z.string().optional(),
    module: z.string(),
    owner: z.string().optional(),
    state: z.enum(RECORD_STATES).optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  }),
  state: z.object({ state: z.enum(RECORD_STATES) }),
  oauthClient: z.object({ name: z.string().default('Self Client'), user: z.string() }),
  grantCode: z.object({ scopes: z.string(), user: z.string().optional(), expires_in: z.number().int().positive().max(3600).optional() }),
  workflow: z.object({
    name: z.string().min(1),
    module: z.string(),
    event: z.enum(WORKFLOW_EVENTS),
    url: z.string(),
    secret: z.string().min(1).optional(),
    active: z.boolean().optional(),
  }),
  token: z.object({
    user: z.string(),
    scopes: z.string().optional(),
    expires_in: z.number().positive().nullable().optional(),
    value: z.string().optional(),
    label: z.string().optional(),
  }),
};

/** Changes to what exists (admin API `PUT`): only the fields given change. */
export const changeSchemas = {
  org: z.object({ name: z.string().min(1).optional(), time_zone: z.string().optional() }),
  profile: z.object({ name: z.string().min(1).optional(), admin: z.boolean().optional(), permissions: z.record(z.string(), permissions).optional() }),
  user: z.object({
    name: z.string().min(1).optional(),
    email: z.string().optional(),
    profile: z.string().optional(),
    status: z.enum(['active', 'inactive']).optional(),
  }),
};

/** A time in a seed document: ISO 8601 in UTC, as the export writes it. */
const time = z.iso.datetime();
/** Restoring a secret the server keeps only as a hash: its SHA-256 (64 lower-case hex digits), as the export writes it. */
const hash = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lower-case hex');
/** A user by id or email. */
const userRef = z.string().min(1);

const seedPhoto = z.object({
  file_name: z.string().min(1),
  /** The image itself; its type and size are read from the bytes, as on upload. */
  content_base64: z.base64(),
  created_by: userRef.optional(),
  created_at: time.optional(),
});

const seedAttachment = z.object({
  id: z.string().optional(),
  file_name: z.string().min(1),
  title: z.string().nullable().optional(),
  /** A link attachment: the URL, and no content. */
  link_url: z.string().nullable().optional(),
  content_type: z.string().nullable().optional(),
  content_base64: z.base64().optional(),
  owner: userRef.optional(),
  created_by: userRef.optional(),
  created_at: time.optional(),
  modified_by: userRef.optional(),
  modified_at: time.optional(),
});

/**
 * Entries of a seed document beyond what the admin API creates: enough to restore an exported state exactly (ids,
 * times, states, photos and attachments with their bytes, and tokens, client secrets, grant codes and refresh tokens
 * as the hashes the server keeps). Every such field is optional, so hand-written seeds stay short.
 */
export const seedSchemas = {
  org: adminSchemas.org.extend({ created_at: time.optional() }),
  profile: adminSchemas.profile.extend({ created_at: time.optional() }),
  user: adminSchemas.user.extend({ status: z.enum(['active', 'inactive']).optional(), created_at: time.optional() }),
  module: adminSchemas.module.extend({ created_at: time.optional() }),
  record: adminSchemas.record.extend({
    created_at: time.optional(),
    created_by: userRef.optional(),
    modified_at: time.optional(),
    modified_by: userRef.optional(),
    photo: seedPhoto.optional(),
    attachments: z.array(seedAttachment).default([]),
  }),
  token: adminSchemas.token.extend({
    id: z.string().optional(),
    token_hash: hash.optional(),
    expires_at: time.nullable().optional(),
    revoked_at: time.nullable().optional(),
    created_at: time.optional(),
    client_id: z.string().nullable().optional(),
    refresh_token_id: z.string().nullable().optional(),
  }),
  oauthClient: z.object({
    client_id: z.string().regex(/^1000\.[A-Z0-9]{1,64}$/, 'like 1000.<upper-case letters and digits>').optional(),
    name: z.string().default('Self Client'),
    user: userRef,
    /** The secret (hand-written seeds) or its hash (exports); neither: a new secret, reported once. */
    secret: z.string().min(1).optional(),
    secret_hash: hash.optional(),
    created_at: time.optional(),
    grant_codes: z
      .array(
        z.object({
          code: z.string().min(1).optional(),
          code_hash: hash.optional(),
          user: userRef.optional(),
          scopes: z.string(),
          expires_at: time,
          used_at: time.nullable().optional(),
          created_at: time.optional(),
        }),
      )
      .default([]),
    refresh_tokens: z
      .array(
        z.object({
          id: z.string().optional(),
          value: z.string().min(1).optional(),
          token_hash: hash.optional(),
          user: userRef.optional(),
          scopes: z.string(),
          revoked_at: time.nullable().optional(),
          created_at: time.optional(),
        }),
      )
      .default([]),
  }),
  workflow: adminSchemas.workflow.extend({ id: z.string().optional(), created_at: time.optional() }),
};
const count = z.number().int().min(0);

/**
 * An org's limits: `{"edition": "enterprise", "users": 10}`, or explicit figures (`{"credits": 5000, "concurrency":
 * 10, "storage_bytes": 1073741824}`), or an edition with some figures replaced. Shared by the admin API, the seed
 * file, the CLI and `CRM_MEDIA_DEFAULT_LIMITS`.
 */
export const limitsSchema = z
  .object({
    edition: z.enum(EDITIONS).optional(),
    users: z.number().int().min(1).optional(),
    credits: count.optional(),
    concurrency: z.number().int().min(1).optional(),
    sub_concurrency: z.number().int().min(1).optional(),
    storage_bytes: count.optional(),
    record_attachment_bytes: count.optional(),
    token_limits: z.boolean().optional(),
  })
  .strict();

export type LimitsDocument = z.output<typeof limitsSchema>;

/**
 * A fault rule: what it matches, what it does (exactly one action), when it fires. The access token is named by its
 * value (`token`) or its id (`token_id`).
 */
export const faultSchema = z
  .object({
    id: z.string().optional(),
    match: z
      .object({
        operation: z.string().optional(),
        method: z.string().optional(),
        module: z.string().optional(),
        org: z.string().optional(),
        user: z.string().optional(),
        token: z.string().optional(),
        token_id: z.string().optional(),
        client: z.string().optional(),
      })
      .strict()
      .default({}),
    action: z
      .object({
        delay_ms: z.union([z.number().int(), z.tuple([z.number().int(), z.number().int()])]).optional(),
        error: z.string().optional(),
        details: z.record(z.string(), z.unknown()).optional(),
        token_error: z.string().optional(),
        reset: z.enum(RESET_POINTS).optional(),
        truncate_after_bytes: z.number().int().optional(),
        throttle_bytes_per_second: z.number().int().optional(),
      })
      .strict(),
    probability: z.number().min(0).max(1).optional(),
    times: z.number().int().min(1).optional(),
    until: z.union([z.string(), z.number()]).optional(),
  })
  .strict();

export type FaultDocument = z.output<typeof faultSchema>;

/** A fault rule in a seed document: an export also gives the time it was added, which orders the rules. */
export const seedFaultSchema = faultSchema.extend({ created_at: time.optional() });

export const clockAdvanceSchema = z.union([
  z.object({ ms: z.number().int().positive() }).strict(),
  z.object({ by: z.string().min(1) }).strict(),
]);
