/** Aggregation over rounds (median, min–max) and the markdown report. */

export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
const min = (xs) => Math.min(...xs.filter(Number.isFinite));
const max = (xs) => Math.max(...xs.filter(Number.isFinite));

/**
 * One summary per (system, cell) from the per-round records. `baseline`: the system each one's req/s is divided by
 * (an id, or a function of the system's id).
 */
export function aggregate(records, baseline = 'baseline') {
  const baselineOf = typeof baseline === 'function' ? baseline : () => baseline;
  const groups = new Map();
  for (const r of records) {
    const key = `${r.system}|${r.cell}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const byRound = new Map(records.map((r) => [`${r.system}|${r.cell}|${r.round}`, r]));
  const out = new Map();
  for (const [key, rs] of groups) {
    const [system, cell] = key.split('|');
    const na = rs.find((r) => r.na)?.na;
    if (na) {
      out.set(key, { system, cell, na });
      continue;
    }
    const rps = rs.map((r) => r.reqPerSec);
    const ratios = rs
      .map((r) => {
        const b = byRound.get(`${baselineOf(system)}|${cell}|${r.round}`);
        return b && !b.na && b.reqPerSec > 0 ? r.reqPerSec / b.reqPerSec : undefined;
      })
      .filter((x) => x !== undefined);
    const failures = rs.filter((r) => r.failed);
    out.set(key, {
      system,
      cell,
      rounds: rs.length,
      rps: { median: median(rps), min: min(rps), max: max(rps) },
      mibps: median(rs.map((r) => r.mibPerSec)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      cpu: median(rs.map((r) => r.cpuPct)),
      auxCpu: median(rs.map((r) => r.auxCpuPct)),
      loadgenCpu: median(rs.map((r) => r.loadgenCpuPct)),
      otherCpu: median(rs.map((r) => r.otherCpuPct)),
      peakRss: max(rs.map((r) => r.peakRssMiB)),
      ratio: ratios.length ? { median: median(ratios), min: min(ratios), max: max(ratios) } : undefined,
      failed: failures.length > 0,
      failReasons: [...new Set(failures.flatMap((r) => r.failReasons))],
      verify: failures.length ? failures[0].verify?.detail : rs[rs.length - 1].verify?.detail,
    });
  }
  return out;
}

export const fmtRate = (x) => (x === undefined ? '—' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
export const fmtMs = (x) => (x === undefined || x === null ? '—' : x >= 100 ? Math.round(x).toString() : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fmtPct = (x) => (x === undefined ? '—' : Math.round(x).toString());

export function rowCells(s, { withRatio = true } = {}) {
  if (s.na) return [s.na, '', '', '', '', '', '', ...(withRatio ? [''] : []), 'n/a'];
  const spreadTxt = s.rounds > 1 ? ` (${fmtRate(s.rps.min)}–${fmtRate(s.rps.max)})` : '';
  const cpu = s.auxCpu !== undefined ? `${fmtPct(s.cpu)} (+${fmtPct(s.auxCpu)} aux)` : fmtPct(s.cpu);
  const ratio = s.ratio ? `${s.ratio.median.toFixed(2)}×${s.rounds > 1 ? ` (${s.ratio.min.toFixed(2)}–${s.ratio.max.toFixed(2)})` : ''}` : '—';
  const verdict = s.failed ? `**FAILED**: ${s.failReasons.join('; ')}` : `ok (${s.verify})`;
  return [
    `${fmtRate(s.rps.median)}${spreadTxt}`,
    s.mibps === undefined ? '—' : s.mibps.toFixed(1),
    fmtMs(s.p50),
    fmtMs(s.p99),
    cpu,
    s.peakRss === undefined || !Number.isFinite(s.peakRss) ? '—' : Math.round(s.peakRss).toString(),
    `${fmtPct(s.loadgenCpu)} / ${fmtPct(s.otherCpu)}`,
    ...(withRatio ? [ratio] : []),
    verdict,
  ];
}

export function mdTable(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export const MAIN_HEADER = ['cell', 'system', 'req/s median (min–max)', 'MiB/s', 'p50 ms', 'p99 ms', 'server CPU %', 'peak RSS MiB', 'load-gen / other CPU %', 'req/s ÷ baseline (same round)', 'verified'];
