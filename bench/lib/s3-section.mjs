/**
 * The S3 section (`BENCH_S3=1`): crm-media on PostgreSQL + S3 against the S3 baseline (bench/s3-baseline-server.mjs)
 * on the same store, in the same rounds — on s3rver, on radosgw, and on radosgw through the latency proxy — then the
 * round trips one request of each cell makes (PostgreSQL statements and S3 requests, counted at proxies), and the
 * memory bound on radosgw. Environment:
 *   BENCH_S3_CELLS (photo-up-1m-c16,photo-down-1m-c16,photo-get-20k-c64)  BENCH_S3_STORES (s3rver,rgw)
 *   BENCH_S3_LATENCY_MS (20; 0 = no proxied systems)  BENCH_S3_COUNT (64 requests per cell; 0 = no counting)
 *   BENCH_S3_MEMORY (1; 0 = no memory cell)
 *   BENCH_S3_CRM_ENV (JSON settings for every crm-media of the section)  BENCH_S3_VARIANT_ROOT (another checkout,
 *   built) and/or BENCH_S3_VARIANT_ENV (JSON settings): add crm-variant-<store>, that crm-media, in the same rounds —
 *   to measure a change on the S3 path
 */
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { behindProxy, pgCounter, startRadosgwStore, startS3rver } from './s3-stores.mjs';
import { LOAD_CPU, spawnPinned, stopChild } from './proc.mjs';
import { aggregate, fmtMs, fmtRate, mdTable } from './report.mjs';
import { CrmSystem, S3BaselineSystem } from './systems.mjs';

const env = process.env;
const num = (v, d) => (v === undefined || v === '' ? d : Number(v));
const GOAL = 0.8;
const CRM_ENV = env.BENCH_S3_CRM_ENV ? JSON.parse(env.BENCH_S3_CRM_ENV) : {};
const VARIANT_ROOT = env.BENCH_S3_VARIANT_ROOT || undefined;
const VARIANT_ENV = env.BENCH_S3_VARIANT_ENV ? JSON.parse(env.BENCH_S3_VARIANT_ENV) : undefined;
const crmOpts = { extraEnv: CRM_ENV };

/** Exactly `n` requests of `cell` over one connection, outside any measured window; true when all were 2xx. */
async function runFixed(ctx, sys, cell, n) {
  const plan = sys.plan(cell);
  if (plan.na) return { ok: false, why: plan.na };
  const spec = { ...plan, origin: sys.origin, connections: 1, warmupMs: 0, durationMs: 300_000, drainMs: 60_000, variantOffset: 0, maxRequestsPerConnection: n };
  const specFile = join(ctx.tmp, `count-${sys.id}-${cell.id}.json`);
  const resultFile = join(ctx.tmp, `count-${sys.id}-${cell.id}-result.json`);
  writeFileSync(specFile, JSON.stringify(spec));
  const child = spawnPinned('loadgen', LOAD_CPU, process.execPath, [join(ctx.root, 'bench/loadgen.mjs'), specFile, resultFile], { cwd: ctx.root });
  const limit = setTimeout(() => stopChild(child, 2_000), 360_000);
  await child.exited;
  clearTimeout(limit);
  if (!existsSync(resultFile)) return { ok: false, why: `load generator failed: ${child.output().slice(-200)}` };
  const r = JSON.parse(readFileSync(resultFile, 'utf8'));
  const all = Object.values(r.stats);
  const ok = all.reduce((k, s) => k + Object.entries(s.statuses).reduce((m, [st, c]) => m + (Number(st) < 300 ? c : 0), 0), 0);
  return ok === n ? { ok: true } : { ok: false, why: `${ok}/${n} requests answered 2xx` };
}

/** Per request: counts divided by n, largest first; `{}` for none. */
const perRequest = (counts, n) =>
  Object.fromEntries(
    Object.entries(counts ?? {})
      .map(([k, c]) => [k, c / n])
      .sort((a, b) => b[1] - a[1]),
  );
const total = (o) => Object.values(o).reduce((a, b) => a + b, 0);
const fmtCount = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2));

export async function runS3Section({ ctx, log, runCell, rounds, allCells, extraSystems, runMemory }) {
  const out = { stores: [], systems: [], skipped: [], records: [], counts: [], memory: [] };
  const wantedCells = (env.BENCH_S3_CELLS ?? 'photo-up-1m-c16,photo-down-1m-c16,photo-get-20k-c64').split(',').map((s) => s.trim());
  const cells = allCells.filter((c) => wantedCells.includes(c.id));
  out.cells = cells;
  const latencyMs = num(env.BENCH_S3_LATENCY_MS, 20);
  const countN = num(env.BENCH_S3_COUNT, 64);
  const stores = [];
  const cleanup = [];
  try {
    for (const id of (env.BENCH_S3_STORES ?? 's3rver,rgw').split(',').map((s) => s.trim())) {
      try {
        const store = id === 'rgw' ? await startRadosgwStore(ctx) : await startS3rver(ctx);
        cleanup.push(store);
        stores.push(store);
        log(`  S3 store ${store.label} at ${store.endpoint}`);
        if (id === 'rgw' && latencyMs > 0) {
          const slow = await behindProxy(store, latencyMs);
          cleanup.push(slow);
          stores.push(slow);
        }
      } catch (err) {
        out.skipped.push(`${id}: ${err.message.split('\n')[0]}`);
        log(`  SKIPPED store ${id}: ${err.message}`);
      }
    }
    out.stores = stores.map((s) => ({ id: s.id, label: s.label }));

    // Per store: the S3 baseline, then crm-media; the ratio divides crm-media by the baseline of the same round.
    const systems = [];
    for (const store of stores) {
      const base = new S3BaselineSystem(ctx, { id: `s3base-${store.id}`, store });
      const crm = new CrmSystem(ctx, { ...crmOpts, id: `crm-pg-${store.id}`, label: `crm-media (PostgreSQL + ${store.id})`, backend: 'pg-s3', s3Store: store, baselineId: base.id });
      const variant =
        (VARIANT_ROOT || VARIANT_ENV) &&
        new CrmSystem(ctx, {
          id: `crm-variant-${store.id}`,
          label: `crm-media${VARIANT_ROOT ? ` built in ${VARIANT_ROOT}` : ''}${VARIANT_ENV ? ` with ${JSON.stringify(VARIANT_ENV)}` : ''} (PostgreSQL + ${store.id})`,
          backend: 'pg-s3',
          s3Store: store,
          baselineId: base.id,
          serverRoot: VARIANT_ROOT,
          extraEnv: { ...CRM_ENV, ...VARIANT_ENV },
        });
      for (const sys of [base, crm, ...(variant ? [variant] : [])]) {
        extraSystems.push(sys);
        const t = Date.now();
        try {
          await sys.start();
          await sys.prepare(cells);
          systems.push(sys);
          log(`  started ${sys.id} at ${sys.origin}, fixtures ready in ${((Date.now() - t) / 1000).toFixed(1)} s`);
        } catch (err) {
          out.skipped.push(`${sys.id}: could not start (${err.message.split('\n')[0]})`);
          log(`  SKIPPED ${sys.id}: ${err.stack}`);
        }
      }
    }
    out.systems = systems.map((s) => ({ id: s.id, note: s.note, baselineId: s.baselineId }));
    for (let round = 1; round <= rounds; round++) {
      for (const sys of systems) {
        for (const cell of cells) {
          const r = await runCell(sys, cell, round);
          out.records.push(r);
          log(`  S3 round ${round} ${sys.id.padEnd(20)} ${cell.id.padEnd(18)} ${r.na ?? `${fmtRate(r.reqPerSec).padStart(7)} req/s  p50 ${fmtMs(r.p50)} p99 ${fmtMs(r.p99)} ms  cpu ${Math.round(r.cpuPct ?? 0)}% (+${Math.round(r.auxCpuPct ?? 0)} aux)  other ${Math.round(r.otherCpuPct ?? 0)}%  ${r.failed ? `FAILED ${r.failReasons.join('; ')}` : r.verify.detail}`}`);
        }
      }
    }
    const baselineOf = new Map(systems.map((s) => [s.id, s.baselineId ?? s.id]));
    out.summary = [...aggregate(out.records, (id) => baselineOf.get(id)).values()];
    for (const sys of systems) await sys.shutdown();

    const real = stores.find((s) => s.id === 'rgw');
    if (countN > 0 && real) out.counts = await countRoundTrips({ ctx, log, cells, store: real, n: countN, extraSystems, cleanup });
    if (num(env.BENCH_S3_MEMORY, 1) && real && runMemory) {
      out.memory = await runMemory((cellId) => new CrmSystem(ctx, { ...crmOpts, id: `crm-pg-rgw-${cellId}`, label: 'crm-media (PostgreSQL + rgw, fresh process)', backend: 'pg-s3', s3Store: real }), 'crm-media on PostgreSQL + radosgw');
    }
  } finally {
    for (const s of cleanup.reverse()) await s.shutdown?.().catch((e) => log(`  shutdown of ${s.id}: ${e.message}`));
  }
  return out;
}

/**
 * Round trips per request: a crm-media (and an S3 baseline) whose store is reached through a counting proxy and
 * whose database through a statement counter runs `n` requests of each cell on one connection after a warm-up
 * (8 requests, or one upload to every target of an upload cell, so that every counted upload replaces a photo);
 * counts are divided by `n`. The webhook poller is slowed to once an hour so that it adds nothing.
 */
async function countRoundTrips({ ctx, log, cells, store, n, extraSystems, cleanup }) {
  const counted = await behindProxy(store, 0);
  cleanup.push(counted);
  const pgc = await pgCounter(ctx.pgAdminUrl);
  cleanup.push(pgc);
  const crm = new CrmSystem(ctx, {
    id: 'crm-pg-rgw-counted',
    label: 'crm-media (PostgreSQL + rgw, counted)',
    backend: 'pg-s3',
    s3Store: counted,
    pgCounter: pgc,
    extraEnv: { ...CRM_ENV, CRM_MEDIA_WEBHOOK_POLL_MS: '3600000' },
  });
  const base = new S3BaselineSystem(ctx, { id: 's3base-rgw-counted', store: counted });
  const rows = [];
  for (const sys of [base, crm]) {
    extraSystems.push(sys);
    try {
      await sys.start();
      await sys.prepare(cells);
    } catch (err) {
      rows.push({ system: sys.id, error: err.message.split('\n')[0] });
      continue;
    }
    for (const cell of cells) {
      const plan = sys.plan(cell);
      const warm = await runFixed(ctx, sys, cell, cell.kind.endsWith('-up') && !plan.na ? Math.max(8, plan.targets.length) : 8);
      await new Promise((r) => setTimeout(r, 300));
      await counted.resetCounts();
      await pgc.resetCounts();
      const run = warm.ok ? await runFixed(ctx, sys, cell, n) : warm;
      // Work a request leaves behind (removing a replaced photo's blob) finishes just after its answer.
      await new Promise((r) => setTimeout(r, 500));
      const s3 = perRequest((await counted.counts()).counts, n);
      const pgq = sys === crm ? perRequest((await pgc.counts()).counts, n) : {};
      rows.push({ system: sys.id, cell: cell.id, n, ok: run.ok, why: run.why, s3, pg: pgq });
      log(`  counted ${sys.id} ${cell.id}: ${run.ok ? '' : `(${run.why}) `}S3 ${fmtCount(total(s3))}/req ${JSON.stringify(s3)}  PG ${fmtCount(total(pgq))}/req`);
    }
    await sys.shutdown();
  }
  return rows;
}

export function renderS3Section(s3, meta) {
  const L = [];
  L.push(`### S3 path: crm-media on PostgreSQL + S3 against the S3 baseline on the same store (BENCH_S3=1)`);
  L.push('');
  L.push(
    `Same rounds (${meta.rounds} × ${meta.durationS} s), same pinning (the stores' processes on the servers' CPU; the latency proxy, standing for the network, on the load generator's). The ratio divides crm-media's req/s by the S3 baseline's on the same store in the same round; goal ≥ ${GOAL}×.`,
  );
  L.push('');
  for (const s of s3.stores) L.push(`- store **${s.id}**: ${s.label}`);
  for (const s of s3.systems) L.push(`- **${s.id}**: ${s.note}`);
  for (const s of s3.skipped) L.push(`- skipped ${s}`);
  L.push('');
  const rows = [];
  const byKey = new Map((s3.summary ?? []).map((x) => [`${x.system}|${x.cell}`, x]));
  for (const cell of s3.cells) {
    for (const sys of s3.systems) {
      const x = byKey.get(`${sys.id}|${cell.id}`);
      if (!x) continue;
      if (x.na) {
        rows.push([cell.label, sys.id, x.na, '', '', '', '', '', '']);
        continue;
      }
      const isCrm = sys.id.startsWith('crm');
      rows.push([
        cell.label,
        sys.id,
        `${fmtRate(x.rps.median)} (${fmtRate(x.rps.min)}–${fmtRate(x.rps.max)})`,
        `${fmtMs(x.p50)} / ${fmtMs(x.p99)}`,
        `${Math.round(x.cpu ?? 0)} (+${Math.round(x.auxCpu ?? 0)})`,
        `${Math.round(x.loadgenCpu ?? 0)} / ${Math.round(x.otherCpu ?? 0)}`,
        isCrm && x.ratio ? `${x.ratio.median.toFixed(2)}× (${x.ratio.min.toFixed(2)}–${x.ratio.max.toFixed(2)})` : '—',
        isCrm && x.ratio ? (x.ratio.median >= GOAL ? 'met' : '**not met**') : '',
        x.failed ? `**FAILED**: ${x.failReasons.join('; ')}` : `ok (${x.verify})`,
      ]);
    }
  }
  L.push(mdTable(['cell', 'system', 'req/s median (min–max)', 'p50 / p99 ms', 'server CPU % (+store, postgres)', 'load-gen / other CPU %', 'crm-media ÷ S3 baseline', `≥ ${GOAL}×`, 'verified'], rows));
  if (s3.counts?.length) {
    L.push('');
    L.push(`#### Round trips per request (radosgw, ${s3.counts[0].n ?? ''} requests per cell on one connection after a warm-up that gave every upload target a photo; counted at a proxy in front of the store and one in front of PostgreSQL)`);
    L.push('');
    const crows = s3.counts.map((r) =>
      r.error
        ? [r.system, '', `could not run: ${r.error}`, '', '']
        : [
            r.cell,
            r.system,
            r.system.startsWith('crm') ? `${fmtCount(total(r.pg))}: ${Object.entries(r.pg).map(([q, c]) => `${fmtCount(c)} × \`${q}\``).join('; ') || '—'}` : '— (no database)',
            `${fmtCount(total(r.s3))}: ${Object.entries(r.s3).map(([op, c]) => `${fmtCount(c)} ${op}`).join(', ') || '—'}`,
            r.ok ? 'all 2xx' : `**${r.why}**`,
          ],
    );
    L.push(mdTable(['cell', 'system', 'PostgreSQL statements per request', 'S3 requests per request', 'answers'], crows));
  }
  if (s3.memory?.length) {
    L.push('');
    L.push('#### Memory bound on PostgreSQL + radosgw (a fresh crm-media process; target: peak RSS < 200 MiB)');
    L.push('');
    L.push(
      mdTable(
        ['cell', 'peak RSS', 'load', 'vs target', 'verified'],
        s3.memory.map((r) =>
          r.na
            ? [r.label ?? r.cell, 'n/a', '', '', r.na]
            : [r.label, `${Math.round(r.peak)} MiB`, `${r.requests} req in ${r.seconds.toFixed(1)} s, p99 ${r.p99?.toFixed(0)} ms`, r.verdict, r.failed ? r.failReasons.join('; ') : r.verify.detail],
        ),
      ),
    );
  }
  return L.join('\n');
}
