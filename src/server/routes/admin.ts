/**
 * The admin API under `/_admin/`, apart from Zoho's surface: seeding orgs, users, profiles, modules, records and
 * tokens; putting records into awkward states; reset. Protected by the admin key (`X-Admin-Key: <key>` or
 * `Authorization: Bearer <key>`) or a console session (admin-gate.ts).
 */
import type { FastifyInstance } from 'fastify';
import {
  deliveryJson,
  moduleJson,
  oauthClientJson,
  orgJson,
  profileJson,
  recordJson,
  tokenJson,
  userJson,
  workflowRuleJson,
} from '../../admin/views.js';
import { adminSchemas as schemas } from '../../admin/schemas.js';
import type { OutboxStatus } from '../../domain/entities.js';
import { zohoError } from '../../domain/errors.js';
import type { Runtime } from '../../runtime.js';
import { applySeed, parseSeed } from '../../admin/seed.js';
import type { AdminGate } from '../admin-gate.js';
import { queryParam, readJsonBody } from '../http.js';
import { registerAdminLimitRoutes } from './admin-limits.js';
import { adminBody as body, adminRouter } from './admin-router.js';

/** Seed documents carry photos and attachments inline (base64): a larger bound than other admin bodies. */
export const MAX_SEED_BODY = 64 * 1024 * 1024;

export function registerAdminRoutes(app: FastifyInstance, rt: Runtime, gate: AdminGate): void {
  const route = adminRouter(app, gate);

  const a = rt.admin;
  route('GET', '/orgs', async () => ({ orgs: (await a.listOrgs()).map(orgJson) }));
  route('POST', '/orgs', async (req) => {
    const b = await body(req, schemas.org);
    return orgJson(await a.createOrg({ id: b.id, name: b.name, timeZone: b.time_zone }));
  });
  route('GET', '/orgs/:org/profiles', async (req) => ({ profiles: (await a.listProfiles(req.params['org']!)).map(profileJson) }));
  route('POST', '/orgs/:org/profiles', async (req) => {
    const b = await body(req, schemas.profile);
    return profileJson(await a.createProfile(req.params['org']!, { id: b.id, name: b.name, isAdmin: b.admin, permissions: b.permissions }));
  });
  route('GET', '/orgs/:org/users', async (req) => ({ users: (await a.listUsers(req.params['org']!)).map(userJson) }));
  route('POST', '/orgs/:org/users', async (req) => userJson(await a.createUser(req.params['org']!, await body(req, schemas.user))));
  route('GET', '/orgs/:org/modules', async (req) => ({ modules: (await a.listModuleSettings(req.params['org']!)).map(moduleJson) }));
  route('POST', '/orgs/:org/modules', async (req) => {
    const b = await body(req, schemas.module);
    return moduleJson(
      await a.createCustomModule(req.params['org']!, { apiName: b.api_name, singular: b.singular, plural: b.plural, sharing: b.sharing }),
    );
  });
  route('PUT', '/orgs/:org/modules/:module/sharing', async (req) => {
    const b = await body(req, schemas.sharing);
    return moduleJson(await a.setModuleSharing(req.params['org']!, req.params['module']!, b.sharing));
  });
  route('GET', '/orgs/:org/records', async (req) => {
    const module = queryParam(req.query, 'module');
    if (!module) throw zohoError('REQUIRED_PARAM_MISSING', { param_name: 'module' });
    const limit = Math.min(Number(queryParam(req.query, 'limit') ?? 200) || 200, 1000);
    const offset = Math.max(Number(queryParam(req.query, 'offset') ?? 0) || 0, 0);
    return { records: (await a.listRecords(req.params['org']!, module, limit, offset)).map(recordJson) };
  });
  route('POST', '/orgs/:org/records', async (req) => recordJson(await a.createRecord(req.params['org']!, await body(req, schemas.record))));
  route('PUT', '/orgs/:org/records/:id/state', async (req) => {
    const b = await body(req, schemas.state);
    return recordJson(await a.setRecordState(req.params['org']!, req.params['id']!, b.state));
  });
  route('DELETE', '/orgs/:org/records/:id', async (req) => {
    await a.deleteRecord(req.params['org']!, req.params['id']!);
    return { deleted: req.params['id'] };
  });
  route('GET', '/orgs/:org/tokens', async (req) => ({ tokens: (await a.listTokens(req.params['org']!)).map(tokenJson) }));
  route('POST', '/orgs/:org/tokens', async (req) => {
    const b = await body(req, schemas.token);
    const issued = await a.issueToken(req.params['org']!, {
      user: b.user,
      scopes: b.scopes,
      expiresIn: b.expires_in,
      value: b.value,
      label: b.label,
    });
    return { ...tokenJson(issued.token), access_token: issued.value };
  });
  route('DELETE', '/orgs/:org/tokens/:id', async (req) => {
    await a.revokeToken(req.params['org']!, req.params['id']!);
    return { revoked: req.params['id'] };
  });
  route('GET', '/orgs/:org/oauth-clients', async (req) => ({
    clients: (await rt.oauth.listClients(req.params['org']!)).map(oauthClientJson),
  }));
  route('POST', '/orgs/:org/oauth-clients', async (req) => {
    const b = await body(req, schemas.oauthClient);
    const user = await a.findUser(req.params['org']!, b.user);
    const issued = await rt.oauth.createClient(req.params['org']!, user.id, b.name);
    return { ...oauthClientJson(issued.client), client_secret: issued.secret };
  });
  route('DELETE', '/orgs/:org/oauth-clients/:client', async (req) => {
    await rt.oauth.deleteClient(req.params['org']!, req.params['client']!);
    return { deleted: req.params['client'] };
  });
  route('POST', '/orgs/:org/oauth-clients/:client/grant-codes', async (req) => {
    const b = await body(req, schemas.grantCode);
    const org = req.params['org']!;
    const userId = b.user ? (await a.findUser(org, b.user)).id : undefined;
    const g = await rt.oauth.createGrantCode(org, req.params['client']!, { scopes: b.scopes, userId, expiresIn: b.expires_in });
    return { code: g.code, expires_at: new Date(g.expiresAt).toISOString() };
  });
  route('GET', '/orgs/:org/workflows', async (req) => ({ rules: (await rt.workflows.listRules(req.params['org']!)).map(workflowRuleJson) }));
  route('POST', '/orgs/:org/workflows', async (req) => workflowRuleJson(await rt.workflows.createRule(req.params['org']!, await body(req, schemas.workflow))));
  route('DELETE', '/orgs/:org/workflows/:id', async (req) => {
    await rt.workflows.deleteRule(req.params['org']!, req.params['id']!);
    return { deleted: req.params['id'] };
  });
  route('GET', '/orgs/:org/workflow-deliveries', async (req) => {
    const status = queryParam(req.query, 'status');
    if (status !== undefined && !['pending', 'delivered', 'failed'].includes(status)) {
      throw zohoError('INVALID_DATA', { param_name: 'status', allowed: ['pending', 'delivered', 'failed'] });
    }
    const limit = Math.min(Number(queryParam(req.query, 'limit') ?? 100) || 100, 1000);
    const offset = Math.max(Number(queryParam(req.query, 'offset') ?? 0) || 0, 0);
    const list = await rt.workflows.deliveries(req.params['org']!, status as OutboxStatus | undefined, { limit, offset });
    return { deliveries: list.map(deliveryJson) };
  });
  route('POST', '/reset', async () => {
    await a.reset();
    // Limits and fault rules went too: in force here before the answer, as with their own routes.
    await rt.limitsChanged();
    return { reset: true };
  });
  route(
    'POST',
    '/seed',
    async (req) => {
      const seed = parseSeed(await readJsonBody(req.raw, MAX_SEED_BODY));
      return applySeed(rt, seed);
    },
    { bodyLimit: MAX_SEED_BODY },
  );
  route('POST', '/sweep', async () => {
    // Removals already decided come first: a sweep answers "nothing unreferenced is left".
    await rt.janitor.settled();
    return rt.sweeper.sweep();
  });
  registerAdminLimitRoutes(route, rt);
}
