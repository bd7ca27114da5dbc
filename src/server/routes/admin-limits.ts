/**
 * The admin API of limits, faults and the movable clock (under `/_admin/`, behind the admin key):
 *
 *   GET|PUT|DELETE /orgs/{org}/limits      an org's limits and usage (credits, storage, calls in flight)
 *   POST /orgs/{org}/limits/reset-credits  a fresh 24 hours of credits
 *   GET|POST|DELETE /faults, DELETE /faults/{id}
 *   GET|DELETE /clock, POST /clock/advance {"by": "25h"} or {"ms": 90000}
 */
import { clockJson, faultInput, faultRuleJson, limitInput, limitReportJson } from '../../admin/limit-documents.js';
import { clockAdvanceSchema, faultSchema, limitsSchema } from '../../admin/schemas.js';
import { parseDuration } from '../../domain/clock.js';
import { zohoError } from '../../domain/errors.js';
import type { Runtime } from '../../runtime.js';
import { type AdminRoute, adminBody as body } from './admin-router.js';

export function registerAdminLimitRoutes(route: AdminRoute, rt: Runtime): void {
  const admin = rt.limitsAdmin;
  route('GET', '/orgs/:org/limits', async (req) => limitReportJson(await admin.report(req.params['org']!)));
  route('PUT', '/orgs/:org/limits', async (req) => limitReportJson(await admin.setLimits(req.params['org']!, limitInput(await body(req, limitsSchema)))));
  route('DELETE', '/orgs/:org/limits', async (req) => {
    await admin.clearLimits(req.params['org']!);
    return limitReportJson(await admin.report(req.params['org']!));
  });
  route('POST', '/orgs/:org/limits/reset-credits', async (req) => {
    await admin.resetCredits(req.params['org']!);
    return limitReportJson(await admin.report(req.params['org']!));
  });

  route('GET', '/faults', async () => ({ faults: (await admin.listFaults()).map(faultRuleJson) }));
  route('POST', '/faults', async (req) => {
    const { input, tokenValue } = faultInput(await body(req, faultSchema));
    const rule = await admin.addFault(input, tokenValue);
    // In force here before the answer; other instances within a control poll.
    await rt.faults.refresh();
    return faultRuleJson(rule);
  });
  route('DELETE', '/faults/:id', async (req) => {
    await admin.removeFault(req.params['id']!);
    await rt.faults.refresh();
    return { deleted: req.params['id'] };
  });
  route('DELETE', '/faults', async () => {
    const deleted = await admin.clearFaults();
    await rt.faults.refresh();
    return { deleted };
  });

  const movable = () => {
    if (!rt.clock) throw zohoError('ADMIN_CLOCK_OFF');
  };
  route('GET', '/clock', async () => clockJson(await admin.clockStatus()));
  route('POST', '/clock/advance', async (req) => {
    movable();
    const b = await body(req, clockAdvanceSchema);
    const ms = 'ms' in b ? b.ms : parseDuration(b.by);
    if (ms === undefined) throw zohoError('INVALID_DATA', { field: 'by', reason: 'a duration such as 90s, 15m, 25h, 2d or 1h30m' });
    return clockJson(await admin.advanceClock(ms));
  });
  route('DELETE', '/clock', async () => {
    movable();
    return clockJson(await admin.resetClock());
  });
}
