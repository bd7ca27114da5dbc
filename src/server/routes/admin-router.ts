/**
 * How every admin route is mounted: under `/_admin`, admitted by the gate (key or console session), its JSON body
 * read with a bound and checked against a schema, its result sent as JSON, its refusals in Zoho's shape.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { SeedError } from '../../admin/seed.js';
import { isZohoError, zohoError } from '../../domain/errors.js';
import type { AdminGate } from '../admin-gate.js';
import { readJsonBody, rejectRequest, sendError, sendJson } from '../http.js';

export const MAX_ADMIN_BODY = 16 * 1024 * 1024;

export type AdminParams = Record<string, string>;
export type AdminHandler = (request: FastifyRequest<{ Params: AdminParams }>, reply: FastifyReply) => Promise<unknown>;
export type AdminRoute = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, handler: AdminHandler, opts?: { bodyLimit?: number }) => void;

/** The request's JSON body checked against `schema`; a mismatch is INVALID_DATA naming each problem. */
export async function adminBody<T extends z.ZodType>(request: FastifyRequest, schema: T, maxBytes = MAX_ADMIN_BODY): Promise<z.output<T>> {
  const parsed = schema.safeParse(await readJsonBody(request.raw, maxBytes));
  if (!parsed.success) {
    throw zohoError('INVALID_DATA', {
      problems: parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
    });
  }
  return parsed.data;
}

export function adminRouter(app: FastifyInstance, gate: AdminGate): AdminRoute {
  return (method, url, handler, opts = {}) => {
    const maxBytes = opts.bodyLimit ?? MAX_ADMIN_BODY;
    app.route<{ Params: AdminParams }>({
      method,
      url: `/_admin${url}`,
      handler: async (request, reply) => {
        request.operation = 'admin';
        try {
          gate.admit(request, reply);
          const result = await handler(request, reply);
          return reply.sent ? reply : sendJson(reply, method === 'POST' ? 201 : 200, result);
        } catch (err) {
          if (err instanceof SeedError) return sendError(reply, zohoError('INVALID_DATA', { reason: err.message }));
          if (!isZohoError(err)) throw err;
          return rejectRequest(request, reply, err, { maxBytes, maxMs: 5_000 });
        }
      },
    });
  };
}
