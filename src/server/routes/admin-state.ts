/**
 * Admin routes for looking at and changing the state as a whole:
 *   GET /_admin/export                          the state as a seed document (`?media=false`: without bytes)
 *   PUT /_admin/orgs/:org                       name, time zone
 *   PUT /_admin/orgs/:org/profiles/:id          name, administrator, permissions
 *   PUT /_admin/orgs/:org/users/:id             name, email, profile, status (an inactive user's tokens stop working)
 *   GET /_admin/orgs/:org/grant-codes           every grant code of the org's clients (never the codes)
 *   GET /_admin/orgs/:org/refresh-tokens        every refresh token (never the values)
 */
import { exportSeed } from '../../admin/seed-export.js';
import { changeSchemas } from '../../admin/schemas.js';
import { grantCodeJson, orgJson, profileJson, refreshTokenJson, userJson } from '../../admin/views.js';
import { zohoError } from '../../domain/errors.js';
import type { Runtime } from '../../runtime.js';
import { queryParam } from '../http.js';
import { type AdminRoute, adminBody } from './admin-router.js';

export function registerStateRoutes(route: AdminRoute, rt: Runtime): void {
  const a = rt.admin;
  route('GET', '/export', async (req, reply) => {
    const media = queryParam(req.query, 'media');
    if (media !== undefined && media !== 'true' && media !== 'false') throw zohoError('INVALID_DATA', { param_name: 'media', allowed: ['true', 'false'] });
    const doc = await exportSeed(rt, { media: media !== 'false' });
    const stamp = new Date(rt.now()).toISOString().slice(0, 19).replace(/[:T]/g, '-');
    // Opened in a browser (the console's Export link), the document is saved as a file.
    reply.header('content-disposition', `attachment; filename="crm-media-seed-${stamp}.json"`);
    return doc;
  });
  route('PUT', '/orgs/:org', async (req) => {
    const b = await adminBody(req, changeSchemas.org);
    return orgJson(await a.updateOrg(req.params['org']!, { name: b.name, timeZone: b.time_zone }));
  });
  route('PUT', '/orgs/:org/profiles/:id', async (req) => {
    const b = await adminBody(req, changeSchemas.profile);
    return profileJson(await a.updateProfile(req.params['org']!, req.params['id']!, { name: b.name, isAdmin: b.admin, permissions: b.permissions }));
  });
  route('PUT', '/orgs/:org/users/:id', async (req) => userJson(await a.updateUser(req.params['org']!, req.params['id']!, await adminBody(req, changeSchemas.user))));
  route('GET', '/orgs/:org/grant-codes', async (req) => {
    await a.org(req.params['org']!);
    const now = rt.now();
    return { grant_codes: (await rt.oauth.listGrantCodes(req.params['org']!)).map((g) => grantCodeJson(g, now)) };
  });
  route('GET', '/orgs/:org/refresh-tokens', async (req) => {
    await a.org(req.params['org']!);
    return { refresh_tokens: (await rt.oauth.listRefreshTokens(req.params['org']!)).map(refreshTokenJson) };
  });
}
