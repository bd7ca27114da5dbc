#!/usr/bin/env node
/**
 * The load generator: a separate process (pinned to its own CPU by the orchestrator) driving one cell with a fixed
 * number of keep-alive HTTP/1.1 connections (undici Client, pipelining 1, one request in flight per connection).
 *
 *   node bench/loadgen.mjs SPEC.json RESULT.json
 *
 * Phases: warm-up (not counted), then the measured window (completions inside it are counted), then drain (no new
 * requests; in-flight ones finish so their acknowledgements are known). stdout gets `EVENT measure-start` and
 * `EVENT measure-end` lines so the orchestrator can read server CPU and RSS over exactly the window.
 *
 * Why not autocannon: for uploads a cell must know which upload each target received last (verification), so each
 * connection owns its own targets. autocannon resets a request's context on every cycle and rebuilds (copies) the
 * whole request buffer on every dynamic request; here a request body is a prebuilt Buffer written as is.
 *
 * Spec: { origin, connections, warmupMs, durationMs, drainMs, method, headers, bodyFiles: [file, …] (variants),
 *   targets: [path, …], partition: bool (connection c uses targets c, c+n, c+2n, … — uploads, so one target is
 *   never written by two connections at once), variantOffset, trackAcks: bool, captureId: bool (JSON
 *   data[0].details.id of each 2xx answer), maxRequestsPerConnection (optional: stop after that many) }
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Client } from 'undici';

const [specFile, resultFile] = process.argv.slice(2);
if (!specFile || !resultFile) {
  process.stderr.write('usage: loadgen.mjs SPEC.json RESULT.json\n');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(specFile, 'utf8'));
if (new URL(spec.origin).hostname !== '127.0.0.1') {
  process.stderr.write(`loadgen: refusing ${spec.origin}: the bench only targets 127.0.0.1\n`);
  process.exit(2);
}
const bodies = (spec.bodyFiles ?? []).map((f) => readFileSync(f));
const targets = spec.targets;
const conc = spec.connections;
const headers = spec.headers ?? {};
const V = Math.max(1, bodies.length);
const MAX_ERRORS = spec.maxErrors ?? 200;
const LAT_CAPACITY = 4_000_000;

const newStats = () => ({ count: 0, bytesIn: 0, bytesOut: 0, statuses: {}, errors: 0 });
const stats = { warmup: newStats(), measure: newStats(), drain: newStats() };
const latencies = new Float64Array(LAT_CAPACITY);
let latN = 0;
let phase = spec.warmupMs > 0 ? 'warmup' : 'measure';
let measureStart = 0;
let measureEnd = 0;
let totalErrors = 0;
const errorSamples = [];
const nonOkSamples = [];
const acks = [];
let globalCounter = 0;

function newClient() {
  return new Client(spec.origin, {
    pipelining: 1,
    keepAliveTimeout: 600_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });
}

function ownTargets(c) {
  if (!spec.partition) return undefined;
  const own = [];
  for (let i = c; i < targets.length; i += conc) own.push(i);
  if (own.length === 0) throw new Error(`partitioned cell needs at least ${conc} targets, has ${targets.length}`);
  return own;
}

async function connectionLoop(c) {
  let client = newClient();
  const own = ownTargets(c);
  const maxReq = spec.maxRequestsPerConnection ?? Infinity;
  for (let k = 0; k < maxReq && phase !== 'drain' && phase !== 'done'; k++) {
    let t;
    let v;
    if (own) {
      t = own[k % own.length];
      v = (Math.floor(k / own.length) + (spec.variantOffset ?? 0)) % V;
    } else {
      t = globalCounter++ % targets.length;
      v = (k + (spec.variantOffset ?? 0)) % V;
    }
    const body = bodies.length ? bodies[v] : undefined;
    const started = performance.now();
    try {
      const res = await client.request({ path: targets[t], method: spec.method, headers, body });
      let n = 0;
      let text;
      if ((spec.captureId && res.statusCode < 300) || res.statusCode >= 300) {
        text = await res.body.text();
        n = Buffer.byteLength(text);
      } else {
        for await (const chunk of res.body) n += chunk.length;
      }
      const ended = performance.now();
      const s = stats[phaseAt(ended)];
      s.count++;
      s.bytesIn += n;
      s.bytesOut += body ? body.length : 0;
      s.statuses[res.statusCode] = (s.statuses[res.statusCode] ?? 0) + 1;
      if (s === stats.measure && latN < LAT_CAPACITY) latencies[latN++] = ended - started;
      if (res.statusCode >= 300) {
        if (nonOkSamples.length < 5) nonOkSamples.push({ status: res.statusCode, path: targets[t], body: (text ?? '').slice(0, 300) });
      } else if (spec.trackAcks) {
        let id = null;
        if (spec.captureId) {
          try {
            id = JSON.parse(text).data[0].details.id;
          } catch {
            id = null;
          }
        }
        acks.push([t, v, id]);
      }
    } catch (err) {
      const s = stats[phaseAt(performance.now())];
      s.errors++;
      totalErrors++;
      if (errorSamples.length < 5) errorSamples.push(`${targets[t]}: ${err?.code ?? ''} ${err?.message ?? err}`);
      await client.destroy().catch(() => {});
      client = newClient();
      if (totalErrors >= MAX_ERRORS) {
        phase = 'drain';
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  await client.close().catch(() => client.destroy());
}

function phaseAt(now) {
  if (phase === 'warmup') return 'warmup';
  if (measureEnd && now > measureEnd) return 'drain';
  return 'measure';
}

function startMeasure() {
  phase = 'measure';
  measureStart = performance.now();
  process.stdout.write('EVENT measure-start\n');
}

function endMeasure() {
  if (measureEnd) return;
  measureEnd = performance.now();
  phase = 'drain';
  process.stdout.write('EVENT measure-end\n');
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  const loops = Array.from({ length: conc }, (_, c) => connectionLoop(c));
  const allDone = Promise.all(loops);
  if (phase === 'warmup') {
    await Promise.race([new Promise((r) => setTimeout(r, spec.warmupMs)), allDone]);
    startMeasure();
  } else {
    startMeasure();
  }
  await Promise.race([new Promise((r) => setTimeout(r, spec.durationMs)), allDone]);
  endMeasure();
  const drainMs = spec.drainMs ?? 60_000;
  const drained = await Promise.race([allDone.then(() => true), new Promise((r) => setTimeout(() => r(false), drainMs))]);
  const sorted = latencies.subarray(0, latN).sort();
  const seconds = (measureEnd - measureStart) / 1000;
  let sum = 0;
  for (let i = 0; i < latN; i++) sum += sorted[i];
  const result = {
    seconds,
    drained,
    stats,
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: latN ? sorted[latN - 1] : null,
      mean: latN ? sum / latN : null,
      samples: latN,
    },
    acks: spec.trackAcks ? acks : undefined,
    errorSamples,
    nonOkSamples,
  };
  writeFileSync(resultFile, JSON.stringify(result));
  // Undrained sockets must not keep the process alive.
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`loadgen: ${err?.stack ?? err}\n`);
  process.exit(1);
});
