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

export const clockAdvanceSchema = z.union([
  z.object({ ms: z.number().int().positive() }).strict(),
  z.object({ by: z.string().min(1) }).strict(),
]);
