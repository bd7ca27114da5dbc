#!/usr/bin/env node
/**
 * `npm run bench`: crm-media against a node:http baseline and Azurite, on this machine, with verification.
 * See bench/README.md. Environment:
 *   BENCH_ROUNDS (3)  BENCH_DURATION (5 s per cell)  BENCH_WARMUP (1 s; 0.5 s after the first round)
 *   BENCH_SYSTEMS=crm-sqlite,baseline,azurite,crm-pg-s3   BENCH_CELLS=photo-up,photo-get-20k-c64,…  (ids or prefixes)
 *   BENCH_MEMORY=0 (skip the memory-bound cells)  BENCH_LARGE=1 (100k-record store)  BENCH_NGINX=1 (X-Accel-Redirect)
 *   BENCH_S3=1 (the S3 section: crm-media on PostgreSQL + S3 against an S3 baseline, bench/lib/s3-section.mjs)
 *   BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/postgres)  BENCH_KEEP=1 (keep the temp directory)
 *   BENCH_ORDER=cell (systems take turns on each cell instead of running all their cells in a row)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeRunCell } from './lib/cell.mjs';
import { standardSets, tenMegabytePhotos } from './lib/fixtures.mjs';
import { pad, png, sha256 } from './lib/images.mjs';
import { HAS_TASKSET, LOAD_CPU, NICE, SERVER_CPU, hwmKiB, killAllChildrenSync, liveChildren, spawnPinned } from './lib/proc.mjs';
import { MAIN_HEADER, aggregate, fmtMs, fmtRate, mdTable, median, rowCells } from './lib/report.mjs';
import { renderStartup, runStartupCells } from './lib/startup.mjs';
import { AzuriteSystem, BaselineSystem, CRM_NODE_FLAGS, CrmSystem } from './lib/systems.mjs';
import { runNginxCells } from './lib/nginx.mjs';
import { renderS3Section, runS3Section } from './lib/s3-section.mjs';

// Verification opens the S3 store in this process; the SDK's Node-version notice is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const num = (v, d) => (v === undefined || v === '' ? d : Number(v));
const ROUNDS = Math.max(1, Math.floor(num(env.BENCH_ROUNDS, 3)));
const ORDER = env.BENCH_ORDER === 'cell' ? 'cell' : 'system';
const DURATION_MS = Math.max(500, num(env.BENCH_DURATION, 5) * 1000);
const WARMUP_MS = Math.max(0, num(env.BENCH_WARMUP, 1) * 1000);
const LATER_WARMUP_MS = Math.min(WARMUP_MS, 500);
const MEMORY = env.BENCH_MEMORY !== '0';
const LARGE = env.BENCH_LARGE === '1';
const NGINX = env.BENCH_NGINX === '1';
const S3 = env.BENCH_S3 === '1';
// Start-up cells (bench/lib/startup.mjs): BENCH_STARTUP=0 skips them; BENCH_STARTUP_ROUNDS starts of each system.
const STARTUP = env.BENCH_STARTUP !== '0';
const STARTUP_ROUNDS = Math.max(1, Math.floor(num(env.BENCH_STARTUP_ROUNDS, 5)));
// BENCH_STARTUP_TREE=0: without the unbundled dist/cli.js beside the package's bundle.
const STARTUP_TREE = env.BENCH_STARTUP_TREE !== '0';
const LARGE_COUNT = Math.floor(num(env.BENCH_LARGE_COUNT, 100_000));
// PostgreSQL's cost-growth cells (with BENCH_LARGE=1): the LARGE_COUNT store, and a store of this many records for
// the small-GET cell (0 = none).
const LARGE_PG = (env.BENCH_LARGE_BACKENDS ?? 'sqlite,pg').split(',').includes('pg');
const LARGE_SQLITE = (env.BENCH_LARGE_BACKENDS ?? 'sqlite,pg').split(',').includes('sqlite');
const HUGE_PG_COUNT = Math.floor(num(env.BENCH_LARGE_PG_HUGE_COUNT, 1_000_000));
const PG_ADMIN_URL = env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MiB = 1024 * 1024;
const KiB = 1024;
const MEMORY_TARGET_MIB = 200;

const ALL_CELLS = [
  { id: 'photo-up-1m-c1', kind: 'photo-up', size: MiB, conc: 1, label: 'photo upload 1 MiB (multipart), c=1' },
  { id: 'photo-up-1m-c16', kind: 'photo-up', size: MiB, conc: 16, label: 'photo upload 1 MiB (multipart), c=16' },
  { id: 'photo-up-1m-c64', kind: 'photo-up', size: MiB, conc: 64, label: 'photo upload 1 MiB (multipart), c=64' },
  { id: 'photo-down-1m-c1', kind: 'photo-down', size: MiB, conc: 1, label: 'photo download 1 MiB, c=1' },
  { id: 'photo-down-1m-c16', kind: 'photo-down', size: MiB, conc: 16, label: 'photo download 1 MiB, c=16' },
  { id: 'photo-down-1m-c64', kind: 'photo-down', size: MiB, conc: 64, label: 'photo download 1 MiB, c=64' },
  { id: 'photo-get-20k-c64', kind: 'photo-down', size: 20 * KiB, conc: 64, label: 'photo GET 20 KiB, c=64' },
  { id: 'att-up-8m-c16', kind: 'att-up', size: 8 * MiB, conc: 16, label: 'attachment upload 8 MiB (multipart), c=16' },
  { id: 'att-down-8m-c16', kind: 'att-down', size: 8 * MiB, conc: 16, label: 'attachment download 8 MiB, c=16' },
];
// `BENCH_VARIANT_ENV='{"CRM_MEDIA_X":"y"}'`, `BENCH_VARIANT_ROOT=DIR` (another checkout, built) and/or
// `BENCH_VARIANT_NODE_OPTIONS='--flag …'` (instead of BENCH_CRM_NODE_OPTIONS' flags) add crm-variant: crm-media
// (sqlite-disk) with those settings, that build or those node flags, measured in the same rounds as crm-sqlite and
// the baseline, so that the effect of a change is not lost in run-to-run noise.
const VARIANT_ENV = env.BENCH_VARIANT_ENV ? JSON.parse(env.BENCH_VARIANT_ENV) : undefined;
const VARIANT_ROOT = env.BENCH_VARIANT_ROOT ? resolve(env.BENCH_VARIANT_ROOT) : undefined;
const VARIANT_NODE_OPTIONS = env.BENCH_VARIANT_NODE_OPTIONS?.split(/\s+/).filter(Boolean);
const SYSTEM_IDS = ['crm-sqlite', 'baseline', 'azurite', 'crm-pg-s3', ...(VARIANT_ENV || VARIANT_ROOT || VARIANT_NODE_OPTIONS ? ['crm-variant'] : [])];

const pickList = (value, all, key) => {
  if (!value) return all;
  if (value === 'none') return [];
  const wanted = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = wanted.filter((w) => !all.some((x) => (key ? x[key] : x).startsWith(w)));
  if (unknown.length) throw new Error(`unknown ${key ? 'cell' : 'system'}(s): ${unknown.join(', ')}; known: ${all.map((x) => (key ? x[key] : x)).join(', ')}`);
  return all.filter((x) => wanted.some((w) => (key ? x[key] : x).startsWith(w)));
};
const CELLS = pickList(env.BENCH_CELLS, ALL_CELLS, 'id');
const SYSTEMS = pickList(env.BENCH_SYSTEMS, SYSTEM_IDS);

// ---- lifecycle ----------------------------------------------------------------------------------

const tmp = mkdtempSync(join(tmpdir(), 'crm-media-bench-'));
const systems = [];
const extraSystems = [];
let cleaningUp;
async function cleanup() {
  cleaningUp ??= (async () => {
    for (const s of [...systems, ...extraSystems]) await s.shutdown?.().catch((e) => log(`  shutdown of ${s.id}: ${e.message}`));
    killAllChildrenSync();
    if (env.BENCH_KEEP !== '1') rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  })();
  return cleaningUp;
}
process.on('exit', () => killAllChildrenSync());
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    log(`\n${sig}: stopping ${liveChildren().join(', ') || 'nothing'}`);
    const force = setTimeout(() => process.exit(130), 15_000);
    force.unref();
    cleanup().finally(() => process.exit(130));
  });
}

function log(msg) {
  process.stderr.write(`${msg}\n`);
}

// ---- fixtures -----------------------------------------------------------------------------------

const runCell = makeRunCell({ root: ROOT, tmp, warmupMs: WARMUP_MS, laterWarmupMs: LATER_WARMUP_MS, durationMs: DURATION_MS, log });

// ---- main ---------------------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  // The bundle is what the start-up cells start; the throughput cells run the build's modules.
  for (const built of ['dist/cli.js', ...(STARTUP ? ['dist/bundle/cli.js'] : [])]) {
    if (!existsSync(join(ROOT, built))) throw new Error(`${built} is missing: run \`npm run build\` (npm run bench does)`);
  }
  if (HAS_TASKSET) {
    // This orchestrator (and its verification passes) share the load generator's CPU, never the servers'.
    execFileSync('taskset', ['-a', '-p', '-c', String(LOAD_CPU), String(process.pid)], { stdio: 'ignore' });
  }
  const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? cpus()[0]?.model ?? 'unknown';
  const benchEnv = Object.entries(env)
    .filter(([k]) => k.startsWith('BENCH_'))
    .map(([k, v]) => [k, /\s/.test(v) ? `'${v}'` : v])
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const command = `${benchEnv ? `${benchEnv} ` : ''}${env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node bench/run.mjs'}`;
  const meta = {
    date: new Date().toISOString(),
    command,
    machine: { nproc: cpus().length, cpuModel, node: process.version, kernel: release() },
    pinning: `${HAS_TASKSET ? `servers on CPU ${SERVER_CPU}, load generator and orchestrator on CPU ${LOAD_CPU} (taskset -c)` : 'UNPINNED: taskset is missing, figures are less comparable'}${NICE !== undefined ? `, servers and load generator at nice ${NICE}` : ''}`,
    rounds: ROUNDS,
    durationS: DURATION_MS / 1000,
    warmupS: WARMUP_MS / 1000,
    laterWarmupS: LATER_WARMUP_MS / 1000,
  };
  log(`crm-media bench: ${CELLS.length} cells × ${SYSTEMS.length} systems × ${ROUNDS} rounds of ${DURATION_MS / 1000} s; ${meta.pinning}`);

  // First, before any other server runs: start-up time and idle memory of the in-memory modes.
  let startup;
  if (STARTUP) {
    try {
      startup = await runStartupCells({ root: ROOT, rounds: STARTUP_ROUNDS, crmNodeFlags: CRM_NODE_FLAGS, tree: STARTUP_TREE, log });
    } catch (err) {
      log(`  start-up cells failed: ${err.stack}`);
    }
  }

  const needs = new Set(CELLS.map((c) => c.id));
  const ctx = {
    root: ROOT,
    tmp,
    pgAdminUrl: PG_ADMIN_URL,
    sets: standardSets(tmp),
  };
  const notes = [];
  const skipped = [];
  const makers = {
    'crm-sqlite': () => new CrmSystem(ctx, { id: 'crm-sqlite', label: 'crm-media (sqlite-disk)', backend: 'sqlite' }),
    'crm-variant': () =>
      new CrmSystem(ctx, {
        id: 'crm-variant',
        label: `crm-media (sqlite-disk${VARIANT_ENV ? `, ${JSON.stringify(VARIANT_ENV)}` : ''}${VARIANT_ROOT ? `, built in ${VARIANT_ROOT}` : ''}${VARIANT_NODE_OPTIONS ? `, node ${VARIANT_NODE_OPTIONS.join(' ')}` : ''})`,
        backend: 'sqlite',
        extraEnv: VARIANT_ENV,
        serverRoot: VARIANT_ROOT,
        nodeArgs: VARIANT_NODE_OPTIONS,
      }),
    baseline: () => new BaselineSystem(ctx),
    azurite: () => new AzuriteSystem(ctx),
    'crm-pg-s3': () => new CrmSystem(ctx, { id: 'crm-pg-s3', label: 'crm-media (postgres-s3)', backend: 'pg-s3' }),
  };
  for (const id of SYSTEMS) {
    const sys = makers[id]();
    const t = Date.now();
    try {
      await sys.start();
      await sys.prepare(CELLS);
      systems.push(sys);
      log(`  started ${sys.label} at ${sys.origin} (pid ${sys.mainPids().join(',')}), fixtures ready in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    } catch (err) {
      skipped.push(`${id}: could not start (${err.message.split('\n')[0]})`);
      log(`  SKIPPED ${id}: ${err.stack}`);
      await sys.shutdown?.().catch(() => {});
    }
  }

  // Rounds: every system, every cell, in the same order each round; ratios compare within one round. With
  // BENCH_ORDER=cell the systems take turns on each cell (their order rotating from round to round), so that the
  // windows compared are seconds apart rather than minutes: on a machine whose other load changes, that is what keeps
  // a variant's ratio from measuring the load instead of the variant.
  const records = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const turn = (round - 1) % Math.max(1, systems.length);
    const rotated = [...systems.slice(turn), ...systems.slice(0, turn)];
    const pairs = ORDER === 'cell' ? CELLS.flatMap((cell) => rotated.map((sys) => [sys, cell])) : systems.flatMap((sys) => CELLS.map((cell) => [sys, cell]));
    for (const [sys, cell] of pairs) {
      const r = await runCell(sys, cell, round);
      records.push(r);
      log(
        `  round ${round} ${sys.id.padEnd(10)} ${cell.id.padEnd(18)} ${
          r.na ? r.na : `${fmtRate(r.reqPerSec).padStart(7)} req/s  cpu ${Math.round(r.cpuPct ?? 0)}%  loadgen ${Math.round(r.loadgenCpuPct ?? 0)}%  other ${Math.round(r.otherCpuPct ?? 0)}%  rss ${Math.round(r.peakRssMiB ?? 0)} MiB  usr/sys ${Math.round(r.serverDetail?.userPct ?? 0)}/${Math.round(r.serverDetail?.sysPct ?? 0)}% majflt ${r.serverDetail?.majflt ?? 0} disk-read ${Math.round(r.serverDetail?.readMiB ?? 0)} MiB iowait ${Math.round(r.serverDetail?.iowaitPct ?? 0)}%${r.gc ? ` major-GC ${r.gc.majorPerS.toFixed(1)}/s heap ${Math.round(r.gc.heapTotalMiBBefore)} MiB` : ''}  [${r.wallS?.toFixed(1)} s]  ${r.failed ? `FAILED ${r.failReasons.join('; ')}` : r.verify.detail}`
        }`,
      );
    }
  }
  const summary = aggregate(records);

  // Memory bound: a fresh crm-media (sqlite-disk) process, so VmHWM is the peak of its whole life.
  const memory = [];
  if (MEMORY && SYSTEMS.includes('crm-sqlite')) memory.push(...(await runMemoryCells(ctx)));

  // The S3 path against its own baseline, on s3rver and radosgw, with and without store latency.
  let s3;
  if (S3) {
    s3 = await runS3Section({
      ctx,
      log,
      runCell,
      rounds: ROUNDS,
      allCells: ALL_CELLS,
      extraSystems,
      runMemory: MEMORY ? (makeSystem, label) => runMemoryCells(ctx, { makeSystem, label, cellIds: ['mem-photo-up-10mb-c64'] }) : undefined,
    });
  }

  // Cost growth: the same download cells on a store of LARGE_COUNT records with photos.
  const large = [];
  if (LARGE) {
    const twoCells = ALL_CELLS.filter((c) => c.id === 'photo-down-1m-c64' || c.id === 'photo-get-20k-c64');
    const getCell = ALL_CELLS.filter((c) => c.id === 'photo-get-20k-c64');
    if (LARGE_SQLITE) large.push(await runLargeCells(ctx, { backend: 'sqlite', count: LARGE_COUNT, cells: twoCells }));
    if (LARGE_PG) {
      large.push(await runLargeCells(ctx, { backend: 'pg-disk', count: LARGE_COUNT, cells: twoCells }));
      // A million photo files would be 20 GB: the million records share 4,096 files, so the figure is the metadata's.
      if (HUGE_PG_COUNT > 0) large.push(await runLargeCells(ctx, { backend: 'pg-disk', count: HUGE_PG_COUNT, cells: getCell, blobs: 4096 }));
    }
  }

  let nginx;
  if (NGINX) nginx = await runNginxCells({ ctx, tmp, log, runCell, CrmSystem, rounds: ROUNDS, extraSystems, summary });

  const elapsedS = (Date.now() - t0) / 1000;
  const md = renderMarkdown({ meta, summary, records, memory, large, nginx, s3, skipped, notes, elapsedS, systems }) + (startup ? `\n\n${renderStartup(startup)}` : '');
  process.stdout.write(`\n${md}\n`);
  const resultsDir = join(ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const outName = /^[\w.-]+$/.test(env.BENCH_OUT ?? '') ? env.BENCH_OUT : 'latest';
  writeFileSync(join(resultsDir, `${outName}.md`), `${md}\n`);
  writeFileSync(
    join(resultsDir, `${outName}.json`),
    `${JSON.stringify({ meta: { ...meta, elapsedS }, systems: systems.map((s) => ({ id: s.id, label: s.label, note: s.note })), skipped, cells: CELLS, records, summary: [...summary.values()], memory, large, nginx, s3, startup }, null, 2)}\n`,
  );
  log(`wrote bench/results/${outName}.md and ${outName}.json (${elapsedS.toFixed(0)} s)`);
}

// ---- memory bound -------------------------------------------------------------------------------

/**
 * The memory-bound cells, each on a fresh process from `makeSystem(cellId)` (default: crm-media on SQLite + disk);
 * `cellIds` picks some of them.
 */
async function runMemoryCells(ctx, { makeSystem, label = 'crm-media (sqlite-disk)', cellIds } = {}) {
  const out = [];
  ctx.sets.p10m ??= tenMegabytePhotos(tmp);
  const memCells = [
    [{ id: 'mem-photo-up-10mb-c64', kind: 'photo-up', size: 10_000_000, conc: 64, label: '64 concurrent 10 MB photo uploads (2 per connection)' }, { warmupMs: 0, durationMs: 120_000, maxRequestsPerConnection: 2 }],
    [{ id: 'mem-att-down-8m-c64', kind: 'att-down', size: 8 * MiB, conc: 64, label: '64 concurrent 8 MiB attachment downloads' }, { warmupMs: 0, durationMs: Math.min(DURATION_MS, 5_000) }],
  ].filter(([cell]) => !cellIds || cellIds.includes(cell.id));
  makeSystem ??= (cellId) => new CrmSystem(ctx, { id: `crm-sqlite-${cellId}`, label: 'crm-media (sqlite-disk, fresh process)', backend: 'sqlite' });
  // One fresh process per cell, so that its VmHWM is the peak of exactly that cell (plus start-up and fixtures).
  for (const [cell, opts] of memCells) {
    const sys = makeSystem(cell.id);
    extraSystems.push(sys);
    try {
      await sys.start();
      await sys.prepare([cell]);
      log(`  memory cell ${cell.id} on a fresh ${sys.label} (pid ${sys.child.pid}) — ${label}`);
      const r = await runCell(sys, cell, 1, opts);
      out.push({ ...r, label: cell.label, lifetimePeakMiB: r.na ? undefined : (hwmKiB(sys.child.pid) ?? 0) / 1024 });
    } catch (err) {
      out.push({ cell: cell.id, label: cell.label, na: `could not run: ${err.message.split('\n')[0]}` });
    } finally {
      await sys.shutdown();
    }
  }
  for (const r of out) {
    if (r.na) continue;
    const peak = Math.max(r.lifetimePeakMiB ?? 0, r.peakRssMiB ?? 0);
    r.verdict = r.failed ? 'FAILED (run)' : peak < MEMORY_TARGET_MIB ? 'PASS' : 'FAIL';
    r.peak = peak;
    log(`  ${r.cell}: peak RSS ${peak.toFixed(0)} MiB (target < ${MEMORY_TARGET_MIB}) → ${r.verdict}${r.failed ? ` ${r.failReasons.join('; ')}` : ''}`);
  }
  return out;
}

// ---- cost growth --------------------------------------------------------------------------------

/**
 * One large store against its small twin: `count` records with 20 KiB photos on `backend` (sqlite: SQLite + disk,
 * seeded by bench/seed-large.mjs; pg-disk: PostgreSQL + disk blobs, seeded in bulk by bench/seed-large-pg.mjs, with
 * `blobs` distinct photo files when fewer than the records).
 */
async function runLargeCells(ctx, { backend, count, cells, blobs = count }) {
  // The large store and a small twin (a fresh server with only the fixtures) run the same cells alternately in each
  // round, so both see the same idle gaps and the same machine.
  const name = backend === 'sqlite' ? 'sqlite-disk' : 'PostgreSQL + disk blobs';
  const tag = `${backend === 'sqlite' ? 'crm-sqlite' : 'crm-pg'}-${count >= 1_000_000 ? `${count / 1_000_000}m` : `${Math.round(count / 1000)}k`}`;
  const big = new CrmSystem(ctx, { id: tag, label: `crm-media (${name}, ${count.toLocaleString('en-US')} records)`, backend });
  const small = new CrmSystem(ctx, { id: `${tag}-small`, label: `crm-media (${name}, fixtures only)`, backend });
  extraSystems.push(big, small);
  const result = { count, backend: name, blobs, rows: [] };
  try {
    const t = Date.now();
    await big.start(); // first start bootstraps the org, admin and token
    await big.stop();
    const photo = pad(png(64, 48), 20 * KiB);
    const photoFile = join(tmp, 'seed-photo.png');
    writeFileSync(photoFile, photo);
    const idsFile = join(tmp, `seed-ids-${tag}.json`);
    const seedArgs =
      backend === 'sqlite'
        ? ['bench/seed-large.mjs', '--data', big.dataDir, '--count', String(count), '--photo', photoFile, '--out', idsFile]
        : ['bench/seed-large-pg.mjs', '--database', big.databaseUrl, '--data', big.dataDir, '--count', String(count), '--blobs', String(blobs), '--photo', photoFile, '--out', idsFile];
    log(`  seeding ${count} records + photos (20 KiB) on ${name} (${seedArgs[0]})…`);
    const seeder = spawnPinned('seed', null, process.execPath, seedArgs, { cwd: ROOT });
    const code = await seeder.exited;
    if (code !== 0) throw new Error(`seeding failed: ${seeder.output().slice(-500)}`);
    const seeded = JSON.parse(readFileSync(idsFile, 'utf8'));
    result.seedSeconds = seeded.seconds;
    if (seeded.tableBytes) result.tables = { mib: seeded.tableBytes / MiB, sharedBuffers: seeded.sharedBuffers };
    await big.start();
    await big.prepare(cells.filter((c) => c.size === MiB));
    await small.start();
    await small.prepare(cells);
    // In the large store the 20 KiB GET reads the seeded photos, every record once in random order (not a hot set).
    const shuffled = seeded.ids.slice();
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const seededTargets = shuffled.map((id) => `/crm/v8/Leads/${id}/photo`);
    const seededHash = sha256(photo);
    big.targetsFor = (cell) => (cell.size === 20 * KiB ? seededTargets : undefined);
    const origExpected = big.expectedDownload.bind(big);
    big.expectedDownload = (cell, i) => (cell.size === 20 * KiB ? seededHash : origExpected(cell, i));
    result.setupSeconds = (Date.now() - t) / 1000;
    log(`  ${big.label} ready in ${result.setupSeconds.toFixed(0)} s (seeding ${seeded.seconds.toFixed(0)} s)`);
    const records = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const cell of cells) {
        for (const sys of [small, big]) {
          const r = await runCell(sys, cell, round);
          records.push(r);
          log(`  round ${round} ${sys.id} ${cell.id}: ${fmtRate(r.reqPerSec)} req/s ${r.failed ? `FAILED ${r.failReasons.join('; ')}` : r.verify.detail}`);
        }
      }
    }
    const agg = aggregate(records);
    for (const cell of cells) result.rows.push({ cell, small: agg.get(`${small.id}|${cell.id}`), large: agg.get(`${big.id}|${cell.id}`) });
    result.records = records;
  } catch (err) {
    result.error = err.message.split('\n')[0];
    log(`  large-store cells failed: ${err.stack}`);
  } finally {
    await big.shutdown();
    await small.shutdown();
  }
  return result;
}

// ---- report -------------------------------------------------------------------------------------

function renderMarkdown({ meta, summary, records, memory, large, nginx, s3, skipped, notes, elapsedS, systems: syss }) {
  const L = [];
  L.push(`## crm-media bench — ${meta.date}`);
  L.push('');
  L.push(`- machine: ${meta.machine.nproc} CPUs (nproc), ${meta.machine.cpuModel}, Node ${meta.machine.node}, Linux ${meta.machine.kernel}`);
  L.push(`- command: \`${meta.command}\` (${elapsedS.toFixed(0)} s)`);
  L.push(`- pinning: ${meta.pinning}; PostgreSQL is a system service and runs unpinned`);
  L.push('- before every cell the page cache is flushed (`sync`), so no cell pays for the writeback of the one before it');
  L.push(
    `- each cell: ${meta.rounds} round(s) × ${meta.durationS} s measured after a ${meta.warmupS} s warm-up (${meta.laterWarmupS} s in later rounds); median over rounds, req/s spread min–max; p50/p99 are medians of the per-round percentiles; peak RSS is the largest over rounds`,
  );
  L.push('- server CPU % = utime+stime of the server process over the window, 100 = one core; MiB/s counts request bodies for uploads and response bodies for downloads');
  L.push(
    '- load-gen / other CPU %: the load generator\'s CPU (near 100 = it, not the server, is the limit) and the CPU used during the window by processes that are not part of the bench (another test run on this machine, kernel threads): a high "other" means that round was disturbed',
  );
  for (const s of syss) L.push(`- **${s.id}**: ${s.note}`);
  for (const s of skipped) L.push(`- skipped ${s}`);
  L.push('');
  const rows = [];
  for (const cell of CELLS) {
    for (const sys of syss) {
      const s = summary.get(`${sys.id}|${cell.id}`);
      if (!s) continue;
      rows.push([cell.label, sys.id, ...rowCells(s)]);
    }
  }
  if (rows.length) L.push(mdTable(MAIN_HEADER, rows));

  // A variant's effect: its req/s over crm-sqlite's in the same round (with BENCH_ORDER=cell, seconds apart).
  if (syss.some((s) => s.id === 'crm-variant') && syss.some((s) => s.id === 'crm-sqlite')) {
    const vs = aggregate(records, 'crm-sqlite');
    const vrows = CELLS.flatMap((cell) => {
      const r = vs.get(`crm-variant|${cell.id}`)?.ratio;
      return r ? [[cell.label, `${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})`]] : [];
    });
    L.push('');
    L.push('### crm-variant ÷ crm-sqlite (req/s, same round)');
    L.push('');
    L.push(mdTable(['cell', 'median (min–max)'], vrows));
  }

  if (memory.length) {
    L.push('');
    L.push(`### Memory bound (crm-media sqlite-disk, a fresh process per cell; target: peak RSS < ${MEMORY_TARGET_MIB} MiB)`);
    L.push('');
    const mrows = memory.map((r) =>
      r.na
        ? [r.label ?? r.cell, 'n/a', '', '', r.na]
        : [
            r.label,
            `${Math.round(r.peak)} MiB (window ${Math.round(r.peakRssMiB ?? 0)}, lifetime VmHWM ${Math.round(r.lifetimePeakMiB ?? 0)})`,
            `${r.requests} req in ${r.seconds.toFixed(1)} s, p99 ${r.p99?.toFixed(0)} ms`,
            r.verdict,
            r.failed ? r.failReasons.join('; ') : r.verify.detail,
          ],
    );
    L.push(mdTable(['cell', 'peak RSS', 'load', 'vs target', 'verified'], mrows));
  }

  for (const lg of large ?? []) {
    L.push('');
    L.push(`### Cost growth: ${lg.count.toLocaleString('en-US')} records with photos vs the small store (${lg.backend})`);
    L.push('');
    if (lg.error) L.push(`failed: ${lg.error}`);
    else {
      const how =
        lg.backend === 'sqlite-disk'
          ? "directly through the project's storage modules (bench/seed-large.mjs)"
          : `in bulk (bench/seed-large-pg.mjs: one record and photo through the project's PostgreSQL store, the rest copied from them by multi-row inserts of 10,000, then \`vacuum (analyze)\`)${lg.blobs < lg.count ? `; the records share ${lg.blobs.toLocaleString('en-US')} photo files, so the figure isolates the metadata's growth` : ''}`;
      const tables = lg.tables ? ` The records and photos tables with their indexes take ${Math.round(lg.tables.mib)} MiB; PostgreSQL's shared_buffers is ${lg.tables.sharedBuffers}.` : '';
      L.push(
        `Seeded in ${lg.seedSeconds.toFixed(0)} s ${how}; the 20 KiB GET reads the ${lg.count.toLocaleString('en-US')} seeded records' photos in random order, the 1 MiB download (where run) a 64-record fixture set added through the API. The small store is a fresh server on the same backend with only the fixtures; the two alternate cell by cell in every round.${tables}`,
      );
      L.push('');
      const lrows = lg.rows.map(({ cell, small, large: big }) => [
        cell.label,
        small && !small.na ? `${fmtRate(small.rps.median)} (${fmtRate(small.rps.min)}–${fmtRate(small.rps.max)})` : '—',
        big && !big.na ? `${fmtRate(big.rps.median)} (${fmtRate(big.rps.min)}–${fmtRate(big.rps.max)})` : '—',
        small && big && !small.na && !big.na ? `${(big.rps.median / small.rps.median).toFixed(2)}×` : '—',
        big && !big.na ? `${fmtMs(big.p50)} / ${fmtMs(big.p99)}` : '—',
        `${small && !small.na ? Math.round(small.otherCpu ?? 0) : '—'} / ${big && !big.na ? Math.round(big.otherCpu ?? 0) : '—'}`,
        big ? (big.failed ? `**FAILED**: ${big.failReasons.join('; ')}` : `ok (${big.verify})`) : '—',
      ]);
      L.push(mdTable(['cell', 'small store req/s median (min–max)', `${lg.count.toLocaleString('en-US')}-record store req/s median (min–max)`, 'large ÷ small', 'large p50 / p99 ms', 'other CPU % small / large', 'verified'], lrows));
    }
  }
  if (s3) {
    L.push('');
    L.push(renderS3Section(s3, meta));
  }
  if (nginx) {
    L.push('');
    L.push('### X-Accel-Redirect behind nginx (optional, BENCH_NGINX=1)');
    L.push('');
    L.push(nginx.markdown);
  }
  const slow = [];
  for (const s of summary.values()) {
    if (!s.na && s.system.startsWith('crm') && s.ratio && s.ratio.median < 0.5) slow.push(`${s.cell} on ${s.system}: ${s.ratio.median.toFixed(2)}× the baseline`);
  }
  for (const sys of syss.filter((x) => x.id.startsWith('crm'))) {
    const rs = records.filter((r) => r.system === sys.id && !r.na);
    const first = rs.filter((r) => r.round === 1);
    const later = rs.filter((r) => r.round > 1);
    if (!first.length || !later.length) continue;
    const drops = [];
    for (const f of first) {
      const l = median(later.filter((r) => r.cell === f.cell).map((r) => r.reqPerSec));
      if (l !== undefined && f.reqPerSec > 0) drops.push(l / f.reqPerSec);
    }
    const gcFirst = median(first.map((r) => r.gc?.majorPerS));
    const gcLater = median(later.map((r) => r.gc?.majorPerS));
    const heapFirst = median(first.map((r) => r.gc?.heapTotalMiBBefore));
    const heapLater = median(later.map((r) => r.gc?.heapTotalMiBBefore));
    const slowerCells = drops.filter((d) => d < 0.75).length;
    if (slowerCells >= Math.max(2, drops.length / 3)) {
      notes.push(
        `${sys.id}: rounds 2+ were slower than round 1 in ${slowerCells} of ${drops.length} cells (median later/first ${median(drops).toFixed(2)}×), with ${gcLater?.toFixed(1)} major GCs/s against ${gcFirst?.toFixed(1)} in round 1 and a V8 heap of ${heapLater?.toFixed(0)} MiB against ${heapFirst?.toFixed(0)} MiB at the start of a cell. Between its cells the server idles for minutes while the other systems run; V8's memory reducer then shrinks the heap and the next burst of load runs with frequent major GCs (reproduced in isolation; \`BENCH_CRM_NODE_OPTIONS=--no-memory-reducer\` makes it disappear). A real server that idles between bursts behaves the same way.`,
      );
    }
  }
  const all = [...summary.values()].filter((s) => !s.na);
  const genBound = all.filter((s) => (s.loadgenCpu ?? 0) > 85);
  if (genBound.length) {
    notes.push(
      `the load generator used more than 85 % of its CPU in ${genBound.map((s) => `${s.cell} on ${s.system}`).join(', ')}: those figures are (partly) limited by the client, not the server`,
    );
  }
  const disturbed = all.filter((s) => (s.otherCpu ?? 0) > 50);
  if (disturbed.length) {
    notes.push(
      `${disturbed.length} of ${all.length} (system, cell) results ran with more than 50 % of a core used by processes outside the bench (median "other CPU"; up to ${Math.round(Math.max(...disturbed.map((s) => s.otherCpu)))} %): this machine was shared while the bench ran, so absolute figures are low and noisy; same-round ratios are the more robust figure. \`BENCH_NICE=-10\` raises the bench's priority on a shared machine.`,
    );
  }
  if (slow.length || notes.length) {
    L.push('');
    L.push('### Observations');
    L.push('');
    for (const s of slow) L.push(`- crm-media below half the node:http baseline: ${s}`);
    for (const n of notes) L.push(`- ${n}`);
  }
  return L.join('\n');
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0))
  .catch(async (err) => {
    log(`bench failed: ${err.stack ?? err}`);
    await cleanup();
    process.exit(1);
  });
