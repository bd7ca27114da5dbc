/**
 * Child processes and /proc measurements. Every child the bench starts is registered here, runs in its own process
 * group (detached), and is killed by id — group first, then the pid — when the bench ends, on Ctrl-C, or on a crash.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

function probeTaskset() {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
export const HAS_TASKSET = probeTaskset();

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU a server runs on, and CPU the load generator (and this orchestrator) runs on. */
export const SERVER_CPU = 0;
export const LOAD_CPU = 1;

const children = new Map(); // pid -> { child, name }

/**
 * Spawns `cmd args` pinned to `cpu` (through `taskset -c`, which execs the command, so the pid is the command's),
 * or unpinned when taskset is missing or `cpu` is null.
 */
/**
 * BENCH_NICE (e.g. -10, needs root for negative values): run the pinned processes (servers, load generator) at that
 * niceness, so that other users' processes on a shared machine disturb the windows less. Off by default: it slows
 * everyone else's work on the machine while the bench runs.
 */
export const NICE = /^-?\d+$/.test(process.env.BENCH_NICE ?? '') ? Number(process.env.BENCH_NICE) : undefined;

export function spawnPinned(name, cpu, cmd, args, opts = {}) {
  let [file, argv] = [cmd, args];
  if (NICE !== undefined && cpu !== null) [file, argv] = ['nice', ['-n', String(NICE), file, ...argv]];
  if (HAS_TASKSET && cpu !== null) [file, argv] = ['taskset', ['-c', String(cpu), file, ...argv]];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });
  children.set(child.pid, { child, name });
  let out = '';
  const keep = (d) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000); // bounded
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.output = () => out;
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  child.once('exit', () => children.delete(child.pid));
  return child;
}

/** Resolves when `pattern` appears in the child's output; rejects on exit or timeout. */
export function waitForOutput(child, pattern, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern} from pid ${child.pid}:\n${child.output()}`)), timeoutMs);
    const check = () => {
      const m = child.output().match(pattern);
      if (m) done(null, m);
    };
    const onExit = (code) => done(new Error(`process exited (${code}) before ${pattern}:\n${child.output()}`));
    function done(err, m) {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m);
    }
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** SIGTERM to the child's group, SIGKILL after `graceMs`. */
export async function stopChild(child, graceMs = 10_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  signalGroup(child.pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Synchronous last resort (process exit): SIGKILL every registered child's group. */
export function killAllChildrenSync() {
  for (const [pid] of children) signalGroup(pid, 'SIGKILL');
  children.clear();
}

export function liveChildren() {
  return [...children.values()].map((c) => `${c.name} (pid ${c.child.pid})`);
}

/** A free loopback port (closed again before use; the race is harmless on a quiet machine). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** utime, stime (clock ticks), minor and major page faults of a process; undefined when it is gone. */
export function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { utime: Number(f[11]), stime: Number(f[12]), minflt: Number(f[7]), majflt: Number(f[9]) };
  } catch {
    return undefined;
  }
}

/** Bytes the process made the kernel fetch from storage (page-cache misses), from /proc/<pid>/io. */
export function readBytes(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/io`, 'utf8').match(/^read_bytes:\s+(\d+)/m);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of a process (all its threads), in clock ticks; undefined when it is gone. */
export function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

function statusKiB(pid, field) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
export const rssKiB = (pid) => statusKiB(pid, 'VmRSS');
export const hwmKiB = (pid) => statusKiB(pid, 'VmHWM');

/** Resets VmHWM to the current RSS (Linux ≥ 4.0, own processes); false when not possible. */
export function resetHwm(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Busy clock ticks of the whole machine (all CPUs) from /proc/stat. */
export function systemTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …: time of processes and kernel threads (interrupt time and time
  // stolen by the hypervisor left out).
  const busy = f[0] + f[1] + f[2];
  return { busy, iowait: f[4] };
}

/** Pids of processes whose comm is `name` (e.g. the PostgreSQL backends), for auxiliary CPU accounting. */
export function pidsByComm(name) {
  const out = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() === name) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Children (by ppid) of `pid`, e.g. nginx workers of a master. */
export function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Measures server processes over a window: CPU (utime+stime delta, % of one core) for the main pids and the
 * auxiliary pids, and peak RSS of the main pids (VmHWM after a clear_refs reset, and VmRSS sampled every 50 ms;
 * the larger of the two).
 */
export class WindowMonitor {
  /** `benchPids`: the load generator (its CPU is reported, and with the rest it is not "other" load). */
  constructor(mainPids, auxPids = () => [], benchPids = () => []) {
    this.mainPids = mainPids;
    this.auxPids = auxPids;
    this.benchPids = benchPids;
  }

  start() {
    this.t0 = performance.now();
    this.bench0 = new Map(this.benchPids().map((p) => [p, cpuTicks(p) ?? 0]));
    this.self0 = process.cpuUsage();
    this.sys0 = systemTicks();
    this.detail0 = new Map(this.mainPids().map((p) => [p, { ...procStat(p), readBytes: readBytes(p) ?? 0 }]));
    this.main0 = new Map(this.mainPids().map((p) => [p, cpuTicks(p) ?? 0]));
    this.aux0 = new Map(this.auxPids().map((p) => [p, cpuTicks(p) ?? 0]));
    this.hwmReset = this.mainPids().every((p) => resetHwm(p));
    this.peakSampled = 0;
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }

  sample() {
    let sum = 0;
    for (const p of this.mainPids()) sum += rssKiB(p) ?? 0;
    if (sum > this.peakSampled) this.peakSampled = sum;
  }

  stop() {
    clearInterval(this.timer);
    this.sample();
    const seconds = (performance.now() - this.t0) / 1000;
    const delta = (before, pids) => {
      let ticks = 0;
      for (const p of pids) {
        const now = cpuTicks(p);
        if (now !== undefined) ticks += now - (before.get(p) ?? now);
      }
      return ticks;
    };
    const mainTicks = delta(this.main0, this.mainPids());
    const auxTicks = delta(this.aux0, [...this.aux0.keys()]);
    const benchTicks = delta(this.bench0, [...this.bench0.keys()]);
    const self = process.cpuUsage(this.self0);
    const selfPct = (self.user + self.system) / 1e4 / seconds;
    const sys1 = systemTicks();
    const busyPct = (100 * (sys1.busy - this.sys0.busy)) / CLK_TCK / seconds;
    const pct = (ticks) => (100 * ticks) / CLK_TCK / seconds;
    // Where the main processes' time went (user vs kernel), page faults and storage reads: for diagnosing rounds
    // that are slower than others.
    const detail = { userPct: 0, sysPct: 0, minflt: 0, majflt: 0, readMiB: 0, iowaitPct: (100 * (sys1.iowait - this.sys0.iowait)) / CLK_TCK / seconds };
    for (const [p, d0] of this.detail0) {
      const d1 = procStat(p);
      if (!d1 || d0.utime === undefined) continue;
      detail.userPct += pct(d1.utime - d0.utime);
      detail.sysPct += pct(d1.stime - d0.stime);
      detail.minflt += d1.minflt - d0.minflt;
      detail.majflt += d1.majflt - d0.majflt;
      detail.readMiB += ((readBytes(p) ?? d0.readBytes) - d0.readBytes) / 1048576;
    }
    let hwm = 0;
    if (this.hwmReset) for (const p of this.mainPids()) hwm += hwmKiB(p) ?? 0;
    return {
      seconds,
      cpuPct: pct(mainTicks),
      auxCpuPct: this.aux0.size ? pct(auxTicks) : undefined,
      loadgenCpuPct: this.bench0.size ? pct(benchTicks) : undefined,
      // Whole-machine busy time minus everything the bench runs: other users' processes (a background test run, …).
      otherCpuPct: Math.max(0, busyPct - pct(mainTicks) - pct(auxTicks) - pct(benchTicks) - selfPct),
      peakRssMiB: Math.max(hwm, this.peakSampled) / 1024,
      detail,
      rssMethod: this.hwmReset ? 'VmHWM after clear_refs + VmRSS samples' : 'VmRSS sampled every 50 ms',
    };
  }
}
