#!/usr/bin/env node
/**
 * Where crm-media's CPU goes in a cell: runs crm-media (sqlite-disk) under `node --cpu-prof`, one fresh server per
 * cell, drives the cell once with the bench's load generator, stops the server (the profile is written at exit) and
 * prints the functions and the modules with the most self time.
 *
 *   npm run build && node bench/profile.mjs [cell id …]      (default: photo-up-1m-c16 photo-get-20k-c64)
 *   BENCH_DURATION=5 (s)   BENCH_KEEP=1 keeps the .cpuprofile files (open them in Chrome DevTools)
 *   PROFILE_SYSTEM=baseline | crm-pg-rgw (crm-media on PostgreSQL + a radosgw started here) | s3-baseline-rgw
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeRunCell } from './lib/cell.mjs';
import { standardSets } from './lib/fixtures.mjs';
import { killAllChildrenSync } from './lib/proc.mjs';
import { startRadosgwStore } from './lib/s3-stores.mjs';
import { BaselineSystem, CRM_NODE_FLAGS, CrmSystem, S3BaselineSystem } from './lib/systems.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const CELLS = {
  'photo-up-1m-c16': { id: 'photo-up-1m-c16', kind: 'photo-up', size: MiB, conc: 16 },
  'photo-up-20k-c16': { id: 'photo-up-20k-c16', kind: 'photo-up', size: 20 * 1024, conc: 16 },
  'photo-up-1m-c1': { id: 'photo-up-1m-c1', kind: 'photo-up', size: MiB, conc: 1 },
  'photo-down-1m-c1': { id: 'photo-down-1m-c1', kind: 'photo-down', size: MiB, conc: 1 },
  'photo-down-1m-c16': { id: 'photo-down-1m-c16', kind: 'photo-down', size: MiB, conc: 16 },
  'photo-down-1m-c64': { id: 'photo-down-1m-c64', kind: 'photo-down', size: MiB, conc: 64 },
  'photo-get-20k-c64': { id: 'photo-get-20k-c64', kind: 'photo-down', size: 20 * 1024, conc: 64 },
  'att-up-8m-c16': { id: 'att-up-8m-c16', kind: 'att-up', size: 8 * MiB, conc: 16 },
  'att-down-8m-c16': { id: 'att-down-8m-c16', kind: 'att-down', size: 8 * MiB, conc: 16 },
};
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : ['photo-up-1m-c16', 'photo-get-20k-c64'];
const tmp = mkdtempSync(join(tmpdir(), 'crm-media-profile-'));
process.on('exit', () => killAllChildrenSync());
const log = (m) => process.stderr.write(`${m}\n`);
const runCell = makeRunCell({ root: ROOT, tmp, warmupMs: 1000, laterWarmupMs: 1000, durationMs: Number(process.env.BENCH_DURATION ?? 5) * 1000, log });
const ctx = { root: ROOT, tmp, sets: standardSets(tmp), pgAdminUrl: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' };
const SYSTEM = process.env.PROFILE_SYSTEM ?? 'crm';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** Self time per function and per module from a .cpuprofile. */
function summarize(file) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map();
  const mod = new Map();
  for (const [id, us] of self) {
    const cf = byId.get(id).callFrame;
    const url = cf.url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '');
    const where = url ? `${url.replace(/^.*node_modules\//, '')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + us);
    const m = !url
      ? cf.functionName.startsWith('(') ? cf.functionName : '(native)'
      : url.includes('node_modules/')
        ? `npm:${url.split('node_modules/').pop().split('/').slice(0, url.split('node_modules/').pop().startsWith('@') ? 2 : 1).join('/')}`
        : url.startsWith('node:')
          ? 'node: internals'
          : url.startsWith('dist/')
            ? `crm-media ${url}`
            : url;
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const top = (m, n) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`)
      .join('\n');
  return `total sampled ${(total / 1e6).toFixed(1)} s\nby module / package (self time):\n${top(mod, 15)}\nby function (self time):\n${top(fn, Number(process.env.PROFILE_TOP ?? 25))}`;
}

async function main() {
  const store = SYSTEM.endsWith('-rgw') ? await startRadosgwStore(ctx) : undefined;
  try {
    await profileCells(store);
  } finally {
    await store?.shutdown();
  }
}

function systemFor(id, profArgs, store) {
  if (SYSTEM === 'baseline') return new BaselineSystem(ctx, { nodeArgs: profArgs });
  if (SYSTEM === 's3-baseline-rgw') {
    const sys = new S3BaselineSystem(ctx, { id: `s3base-prof-${id}`, store });
    sys.nodeArgs = profArgs;
    return sys;
  }
  if (SYSTEM === 'crm-pg-rgw') {
    return new CrmSystem(ctx, { id: `crm-prof-${id}`, label: 'crm-media (PostgreSQL + radosgw, --cpu-prof)', backend: 'pg-s3', s3Store: store, nodeArgs: [...CRM_NODE_FLAGS, ...profArgs] });
  }
  return new CrmSystem(ctx, { id: `crm-prof-${id}`, label: 'crm-media (sqlite-disk, --cpu-prof)', backend: 'sqlite', nodeArgs: [...CRM_NODE_FLAGS, ...profArgs] });
}

async function profileCells(store) {
  for (const id of wanted) {
    const cell = CELLS[id];
    if (!cell) throw new Error(`unknown cell ${id}; known: ${Object.keys(CELLS).join(', ')}`);
    const dir = join(tmp, `prof-${id}`);
    mkdirSync(dir, { recursive: true });
    const profArgs = ['--cpu-prof', '--cpu-prof-dir', dir];
    const sys = systemFor(id, profArgs, store);
    try {
      await sys.start();
      await sys.prepare([cell]);
      const r = await runCell(sys, cell, 1);
      log(`${id}: ${r.na ?? `${r.reqPerSec.toFixed(0)} req/s, server CPU ${r.cpuPct?.toFixed(0)} %, other ${r.otherCpuPct?.toFixed(0)} %, ${r.failed ? `FAILED ${r.failReasons.join('; ')}` : r.verify.detail}`}`);
    } finally {
      await sys.shutdown();
    }
    const prof = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    if (!prof.length) {
      log(`${id}: no profile written`);
      continue;
    }
    process.stdout.write(`\n### ${id} (whole server life: set-up, warm-up, window, verification)\n${summarize(join(dir, prof[0]))}\n`);
    if (process.env.BENCH_KEEP === '1') log(`  profile: ${join(dir, prof[0])}`);
  }
}

main()
  .catch((err) => {
    log(`profile failed: ${err.stack ?? err}`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (process.env.BENCH_KEEP !== '1') rmSync(tmp, { recursive: true, force: true });
  });
