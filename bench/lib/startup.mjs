/**
 * Start-up cells: for a test suite that starts an emulator per run, what counts is how soon it answers and what it
 * holds while it waits. crm-media `serve --in-memory` and Azurite's blob service with `--inMemoryPersistence` are
 * started alternately, `rounds` times each, in the same run and pinned to the same CPU:
 *
 * - start-to-first-answer: from spawning the process to the first HTTP response on its port (any status; the
 *   port is polled every 5 ms with a fresh connection);
 * - idle RSS: VmRSS of the process once it has answered and then idled for IDLE_MS, untouched.
 *
 * Goal (issue): crm-media at most half of Azurite's start time and idle memory.
 *
 * crm-media is started as the package's `crm-media` bin is: the esbuild bundle (dist/bundle/cli.js, with the node
 * flags of its shebang). The compiled tree it was bundled from (dist/cli.js) runs in the same rounds as well, so
 * that the report shows what the bundle saves (`BENCH_STARTUP_TREE=0` leaves it out).
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVER_CPU, freePort, spawnPinned, stopChild } from './proc.mjs';
import { mdTable, median } from './report.mjs';

const IDLE_MS = 3_000;
const START_TIMEOUT_MS = 60_000;

function childEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('CRM_MEDIA_') || k === 'DATABASE_URL' || k === 'PORT') continue;
    env[k] = v;
  }
  return env;
}

/** Resolves once anything answers HTTP on `port`. */
function answered(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method: 'GET', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

function rssMiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : undefined;
}

/** The file the package's `crm-media` command runs (package.json `bin`). */
export function binPath(root) {
  const { bin } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return join(root, typeof bin === 'string' ? bin : bin['crm-media']);
}

export function startupSystems(root, crmNodeFlags, { tree = true } = {}) {
  const crm = (cli) => (port) => [process.execPath, [...crmNodeFlags, cli, 'serve', '--in-memory', '--port', String(port), '--log-level', 'warn']];
  return [
    {
      id: 'crm-memory',
      kind: 'crm',
      label: 'crm-media `serve --in-memory`',
      command: crm(binPath(root)),
    },
    ...(tree
      ? [
          {
            // Not what the package runs: the unbundled modules, to show the bundle's effect in the same rounds.
            id: 'crm-memory-tree',
            kind: 'crm-tree',
            label: 'crm-media `serve --in-memory`, unbundled (dist/cli.js)',
            command: crm(join(root, 'dist/cli.js')),
          },
        ]
      : []),
    {
      id: 'azurite-memory',
      kind: 'azurite',
      label: 'Azurite blob `--inMemoryPersistence`',
      command: (port) => [
        process.execPath,
        [join(root, 'node_modules/azurite/dist/src/blob/main.js'), '--blobHost', '127.0.0.1', '--blobPort', String(port), '--inMemoryPersistence', '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry'],
      ],
    },
    {
      // What `npx azurite --inMemoryPersistence` starts: blob, queue and table services in one process.
      id: 'azurite-all-memory',
      kind: 'azurite',
      label: 'Azurite (blob, queue, table) `--inMemoryPersistence`',
      ports: 3,
      command: (port, [queuePort, tablePort]) => [
        process.execPath,
        [
          join(root, 'node_modules/azurite/dist/src/azurite.js'),
          '--blobHost', '127.0.0.1', '--blobPort', String(port),
          '--queueHost', '127.0.0.1', '--queuePort', String(queuePort),
          '--tableHost', '127.0.0.1', '--tablePort', String(tablePort),
          '--inMemoryPersistence', '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry',
        ],
      ],
    },
  ];
}

async function measureOnce(system, root) {
  const port = await freePort();
  const more = [];
  for (let i = 1; i < (system.ports ?? 1); i++) more.push(await freePort());
  const [cmd, args] = system.command(port, more);
  const t0 = performance.now();
  const child = spawnPinned(system.id, SERVER_CPU, cmd, args, { cwd: root, env: childEnv() });
  try {
    let startMs;
    while (performance.now() - t0 < START_TIMEOUT_MS) {
      if (child.exitCode !== null) throw new Error(`${system.id} exited: ${child.output().slice(-500)}`);
      if (await answered(port)) {
        startMs = performance.now() - t0;
        break;
      }
      await sleep(5);
    }
    if (startMs === undefined) throw new Error(`${system.id} did not answer within ${START_TIMEOUT_MS} ms`);
    await sleep(IDLE_MS);
    return { startMs, idleRssMiB: rssMiB(child.pid) };
  } finally {
    await stopChild(child);
  }
}

/** Runs the cells; `rounds` alternations of the two systems. */
export async function runStartupCells({ root, rounds, crmNodeFlags, tree = true, log }) {
  const systems = startupSystems(root, crmNodeFlags, { tree });
  const samples = Object.fromEntries(systems.map((s) => [s.id, []]));
  for (let round = 1; round <= rounds; round++) {
    // A different order each round, so that no system always follows the same one.
    const order = systems.map((_, i) => systems[(i + round) % systems.length]);
    for (const system of order) {
      const r = await measureOnce(system, root);
      samples[system.id].push(r);
      log(`  start-up round ${round} ${system.id.padEnd(15)} first answer ${r.startMs.toFixed(0)} ms, idle RSS ${r.idleRssMiB?.toFixed(1)} MiB`);
    }
  }
  const rows = systems.map((s) => {
    const starts = samples[s.id].map((r) => r.startMs);
    const rss = samples[s.id].map((r) => r.idleRssMiB);
    return { id: s.id, kind: s.kind, label: s.label, startMs: median(starts), startRange: [Math.min(...starts), Math.max(...starts)], idleRssMiB: median(rss), rssRange: [Math.min(...rss), Math.max(...rss)], samples: samples[s.id] };
  });
  const crm = rows.find((r) => r.kind === 'crm');
  const ratios = rows.filter((r) => r.kind === 'azurite').map((az) => ({ against: az.label, start: crm.startMs / az.startMs, rss: crm.idleRssMiB / az.idleRssMiB }));
  // Per round, bundle ÷ tree: the two started seconds apart, so the ratio is less exposed to the machine's other load.
  const treeRow = rows.find((r) => r.kind === 'crm-tree');
  const bundleVsTree = treeRow && {
    start: crm.startMs / treeRow.startMs,
    perRound: crm.samples.map((b, i) => b.startMs / treeRow.samples[i].startMs),
    rss: crm.idleRssMiB / treeRow.idleRssMiB,
  };
  return { rounds, idleMs: IDLE_MS, rows, ratios, bundleVsTree };
}

export function renderStartup(result) {
  const fmt = (v, range, unit, digits) => `${v.toFixed(digits)} ${unit} (${range[0].toFixed(digits)}–${range[1].toFixed(digits)})`;
  const verdict = (ratio) => `${ratio.toFixed(2)}× ${ratio <= 0.5 ? '(goal ≤ 0.5×: met)' : '(goal ≤ 0.5×: NOT met)'}`;
  return [
    '## Start-up: in-memory crm-media against in-memory Azurite',
    '',
    `Each system started ${result.rounds} times, alternately, pinned to the same CPU; medians (min–max). First answer: from spawn to the first HTTP response on its port. Idle RSS: VmRSS ${result.idleMs / 1000} s after that answer, untouched.`,
    '',
    mdTable(
      ['system', 'start to first answer', 'idle RSS'],
      result.rows.map((r) => [r.label, fmt(r.startMs, r.startRange, 'ms', 0), fmt(r.idleRssMiB, r.rssRange, 'MiB', 1)]),
    ),
    '',
    ...result.ratios.map((r) => `- crm-media ÷ ${r.against}: start ${verdict(r.start)}, idle RSS ${verdict(r.rss)}.`),
    ...(result.bundleVsTree
      ? [
          `- crm-media as packaged (the bundle) ÷ unbundled: start ${result.bundleVsTree.start.toFixed(2)}× (per round ${result.bundleVsTree.perRound.map((r) => r.toFixed(2)).join(', ')}), idle RSS ${result.bundleVsTree.rss.toFixed(2)}×.`,
        ]
      : []),
    '',
  ].join('\n');
}
