#!/usr/bin/env node
/**
 * The after-a-burst GC experiment behind `--initial-old-space-size=64` (docs/architecture.md, "Node flags"): one
 * crm-media (sqlite-disk, pinned like the bench) runs a sequence of bench cells, with idle pauses, and prints each
 * cell's rate and the server's major GCs per second. The default sequence is what the bench's later rounds do to
 * the c=1 upload cell: uploads, a burst of small GETs and 8 MiB attachments, 40 s of idle, uploads again.
 *
 *   npm run build && node bench/idle-gc/after-burst.mjs
 *   SEQ=up1,get20k,attup,attdown,sleep40,up1   the cells (up1, up16, up64, down1, down16, get20k, attup, attdown) and pauses (sleepN)
 *   BENCH_CRM_NODE_OPTIONS='--no-memory-reducer --max-semi-space-size=32'   the flags to try (default: the shipped ones)
 *   SERVER_LOG=FILE   copies the server's output there (add --trace-gc to the flags to see every collection)
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeRunCell } from '../lib/cell.mjs';
import { standardSets } from '../lib/fixtures.mjs';
import { killAllChildrenSync } from '../lib/proc.mjs';
import { CRM_NODE_FLAGS, CrmSystem } from '../lib/systems.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 1024 * 1024;
const CELLS = {
  up1: { id: 'photo-up-1m-c1', kind: 'photo-up', size: MiB, conc: 1 },
  up16: { id: 'photo-up-1m-c16', kind: 'photo-up', size: MiB, conc: 16 },
  up64: { id: 'photo-up-1m-c64', kind: 'photo-up', size: MiB, conc: 64 },
  down1: { id: 'photo-down-1m-c1', kind: 'photo-down', size: MiB, conc: 1 },
  down16: { id: 'photo-down-1m-c16', kind: 'photo-down', size: MiB, conc: 16 },
  get20k: { id: 'photo-get-20k-c64', kind: 'photo-down', size: 20 * 1024, conc: 64 },
  attup: { id: 'att-up-8m-c16', kind: 'att-up', size: 8 * MiB, conc: 16 },
  attdown: { id: 'att-down-8m-c16', kind: 'att-down', size: 8 * MiB, conc: 16 },
};
const steps = (process.env.SEQ ?? 'up1,get20k,attup,attdown,sleep40,up1').split(',');
for (const s of steps) {
  if (!CELLS[s] && !/^sleep\d+$/.test(s)) throw new Error(`unknown step ${s}: cells ${Object.keys(CELLS).join(', ')} or sleepN`);
}
const tmp = mkdtempSync(join(tmpdir(), 'crm-media-after-burst-'));
process.on('exit', () => killAllChildrenSync());
const log = (m) => process.stderr.write(`${m}\n`);
const runCell = makeRunCell({ root: ROOT, tmp, warmupMs: 1000, laterWarmupMs: 500, durationMs: 5000, log: () => {} });
const ctx = { root: ROOT, tmp, sets: standardSets(tmp), pgAdminUrl: '' };
const sys = new CrmSystem(ctx, { id: 'crm-after-burst', label: 'crm-media (sqlite-disk)', backend: 'sqlite' });
log(`flags: ${CRM_NODE_FLAGS.join(' ')}`);
try {
  await sys.start();
  if (process.env.SERVER_LOG) {
    const copy = createWriteStream(process.env.SERVER_LOG);
    for (const s of [sys.child.stdout, sys.child.stderr]) s.on('data', (d) => copy.write(d));
  }
  await sys.prepare([...new Set(steps.filter((s) => CELLS[s]).map((s) => CELLS[s]))]);
  let round = 1;
  for (const s of steps) {
    if (!CELLS[s]) {
      await new Promise((r) => setTimeout(r, Number(s.slice(5)) * 1000));
      continue;
    }
    if (process.env.SERVER_LOG) process.stderr.write(`${s} starts at ${(performance.now() / 1000).toFixed(1)} s\n`);
    const r = await runCell(sys, CELLS[s], round++);
    const gc = r.gc ? `major GCs ${r.gc.majorPerS.toFixed(1)}/s (${r.gc.majorMsPerS.toFixed(0)} ms/s)` : 'major GCs n/a';
    log(`${s.padEnd(8)} ${r.reqPerSec.toFixed(0).padStart(6)} req/s  server CPU ${r.cpuPct?.toFixed(0)} %  ${gc}  ${r.failed ? `FAILED ${r.failReasons.join('; ')}` : r.verify.detail}`);
  }
} finally {
  await sys.shutdown();
  rmSync(tmp, { recursive: true, force: true });
}
