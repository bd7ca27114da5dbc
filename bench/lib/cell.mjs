/**
 * One cell against one system for one round: write the load generator's spec, run it pinned to the load CPU,
 * measure the server over exactly the window, then verify and clean up. Returns the round's record.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOAD_CPU, WindowMonitor, spawnPinned, stopChild } from './proc.mjs';

const MiB = 1024 * 1024;

/**
 * Flushes the page cache's dirty data (`sync`) before a cell: otherwise the previous cell's writes (another
 * system's 8 MiB uploads) are still being written back and slow this cell's fsyncs, which penalizes whichever
 * system happens to come next in the round.
 */
function flushWriteback() {
  return new Promise((resolve) => execFile('sync', { timeout: 120_000 }, () => resolve()));
}

/** Runs the load generator for one cell against one system; returns the round's record. */
export function makeRunCell({ root: ROOT, tmp, warmupMs: WARMUP_MS, laterWarmupMs: LATER_WARMUP_MS, durationMs: DURATION_MS, log }) {
  return async function runCell(sys, cell, round, opts = {}) {
    const plan = sys.plan(cell);
    const base = { system: sys.id, cell: cell.id, round };
    if (plan.na) return { ...base, na: plan.na };
    await flushWriteback();
    const warmupMs = opts.warmupMs ?? (round === 1 ? WARMUP_MS : LATER_WARMUP_MS);
    const durationMs = opts.durationMs ?? DURATION_MS;
    const spec = {
      ...plan,
      origin: sys.origin,
      connections: cell.conc,
      warmupMs,
      durationMs,
      drainMs: 60_000,
      variantOffset: Math.floor(Math.random() * 1000),
      maxRequestsPerConnection: opts.maxRequestsPerConnection,
    };
    const specFile = join(tmp, `spec-${sys.id}-${cell.id}-${round}.json`);
    const resultFile = join(tmp, `result-${sys.id}-${cell.id}-${round}.json`);
    writeFileSync(specFile, JSON.stringify(spec));
    const gc0 = await sys.gcStats?.();
    const tStart = performance.now();
    const child = spawnPinned('loadgen', LOAD_CPU, process.execPath, [join(ROOT, 'bench/loadgen.mjs'), specFile, resultFile], { cwd: ROOT });
    const monitor = new WindowMonitor(() => sys.mainPids(), () => sys.auxPids(), () => [child.pid]);
    let window;
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'EVENT measure-start') monitor.start();
        else if (line === 'EVENT measure-end') window = monitor.stop();
      }
    });
    const limit = setTimeout(() => stopChild(child, 2_000), warmupMs + durationMs + 120_000);
    const code = await child.exited;
    clearTimeout(limit);
    if (code !== 0 || !existsSync(resultFile)) {
      if (!window && monitor.timer) monitor.stop();
      return { ...base, failed: true, failReasons: [`load generator exited ${code}: ${child.output().slice(-300)}`], reqPerSec: 0 };
    }
    const gcSeconds = (performance.now() - tStart) / 1000;
    const gc1 = await sys.gcStats?.();
    const gc =
      gc0 && gc1 && Number.isFinite(gc1.major)
        ? {
            majorPerS: (gc1.major - gc0.major) / gcSeconds,
            minorPerS: (gc1.minor - gc0.minor) / gcSeconds,
            majorMsPerS: (1000 * (gc1.majorSeconds - gc0.majorSeconds)) / gcSeconds,
            heapTotalMiBBefore: gc0.heapTotalMiB,
          }
        : undefined;
    const result = JSON.parse(readFileSync(resultFile, 'utf8'));
    const m = result.stats.measure;
    const allStats = Object.values(result.stats);
    const non2xx = allStats.reduce((n, s) => n + Object.entries(s.statuses).reduce((k, [st, c]) => k + (Number(st) >= 300 ? c : 0), 0), 0);
    const errors = allStats.reduce((n, s) => n + s.errors, 0);
    const failReasons = [];
    if (non2xx) failReasons.push(`${non2xx} non-2xx (${result.nonOkSamples.map((s) => `${s.status} ${s.body.slice(0, 80)}`).join(' | ')})`);
    if (errors) failReasons.push(`${errors} transport errors (${result.errorSamples.join(' | ').slice(0, 200)})`);
    if (!result.drained) failReasons.push('in-flight requests did not finish within 60 s');
    let verify;
    try {
      verify = await sys.verify(cell, plan, result);
    } catch (err) {
      verify = { ok: false, detail: `verification crashed: ${err.message}` };
    }
    if (!verify.ok) failReasons.push(`verification: ${verify.detail}`);
    try {
      await sys.after(cell, plan, result);
    } catch (err) {
      log(`  clean-up after ${cell.id} on ${sys.id}: ${err.message}`);
    }
    const upload = cell.kind.endsWith('-up');
    return {
      ...base,
      reqPerSec: m.count / result.seconds,
      mibPerSec: (upload ? m.bytesOut : m.bytesIn) / MiB / result.seconds,
      p50: result.latencyMs.p50,
      p99: result.latencyMs.p99,
      requests: m.count,
      seconds: result.seconds,
      cpuPct: window?.cpuPct,
      auxCpuPct: window?.auxCpuPct,
      peakRssMiB: window?.peakRssMiB,
      rssMethod: window?.rssMethod,
      loadgenCpuPct: window?.loadgenCpuPct,
      serverDetail: window?.detail,
      gc,
      otherCpuPct: window?.otherCpuPct,
      wallS: (performance.now() - tStart) / 1000,
      statuses: result.stats,
      verify,
      failed: failReasons.length > 0,
      failReasons,
      acks: result.acks?.length,
    };
  };
}
