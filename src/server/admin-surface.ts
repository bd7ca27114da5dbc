/**
 * The admin surface: the admin API under `/_admin` and the web console under `/_console`, behind one gate (the admin
 * key, or a console session). Served by the main listener, or by a listener of its own (`--admin-port`).
 */
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';
import { AdminGate } from './admin-gate.js';
import type { RequestJournal } from './request-journal.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerJournalRoutes } from './routes/admin-journal.js';
import { registerMediaRoutes } from './routes/admin-media.js';
import { adminRouter } from './routes/admin-router.js';
import { registerStateRoutes } from './routes/admin-state.js';
import { registerConsoleRoutes } from './routes/console.js';

export interface AdminSurface {
  /** Ends the waits in progress (shutdown), so that they do not hold the server open until their timeouts. */
  stopWaits(): void;
}

export function registerAdminSurface(app: FastifyInstance, rt: Runtime, opts: { adminKey: string; journal: RequestJournal }): AdminSurface {
  const c = rt.config;
  const gate = new AdminGate({
    adminKey: opts.adminKey,
    sessionIdleMs: c.consoleSessionIdleMs,
    sessionMaxMs: c.consoleSessionMaxMs,
    maxFailures: c.adminAuthMaxFailures,
    failureWindowMs: c.adminAuthWindowMs,
    publicUrl: c.publicUrl,
    now: Date.now,
    log: rt.log,
  });
  const stopping = new AbortController();
  registerAdminRoutes(app, rt, gate);
  const route = adminRouter(app, gate);
  registerJournalRoutes(route, rt, opts.journal, stopping.signal);
  registerStateRoutes(route, rt);
  registerMediaRoutes(route, rt);
  registerConsoleRoutes(app, gate);
  return {
    stopWaits() {
      stopping.abort();
      opts.journal.close();
    },
  };
}
