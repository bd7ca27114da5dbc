/**
 * The shapes of admin input, shared by the admin HTTP API and the seed file so that the two cannot drift apart.
 */
import { z } from 'zod';
import { RECORD_STATES, SHARING_SETTINGS, WORKFLOW_EVENTS } from '../domain/entities.js';

const permissions = z.object({
  view: z.boolean().default(false),
  create: z.boolean().default(false),
  edit: z.boolean().default(false),
  delete: z.boolean().default(false),
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
