#!/usr/bin/env node
/**
 * A one-node Ceph cluster with the RADOS Gateway (radosgw, Ceph's S3 front end), for tests and the bench: one
 * monitor, one OSD keeping objects in memory (memstore) and radosgw, all on 127.0.0.1 on free ports, with their
 * configuration, data, sockets and logs in one directory, started in the foreground as their own process group and
 * stopped by the PIDs recorded in that directory. Debian's packages (`bash bench/setup.sh ceph`: ceph-mon, ceph-osd,
 * radosgw) provide the binaries; nothing is installed or configured system-wide.
 *
 *   node test/support/ceph/rgw.mjs start [DIR] [--owner PID] → prints one line: RGW_READY {"endpoint":…,"accessKeyId":…}
 *   node test/support/ceph/rgw.mjs stop DIR
 *
 * With `--owner PID` (or `owner` in startRadosgw) a small watcher process stops the cluster and removes DIR when that
 * process ends, so a test runner or bench that crashes leaves no daemons behind.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
// The SDK's notice about future Node versions is noise in test and bench output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const SELF = fileURLToPath(import.meta.url);
const BINARIES = ['monmaptool', 'ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Whether the Ceph binaries this needs are on PATH; `why` names the missing ones. */
export function radosgwInstalled() {
  const path = (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin']);
  const missing = BINARIES.filter((b) => !path.some((d) => d && existsSync(join(d, b))));
  return missing.length ? { ok: false, why: `${missing.join(', ')} not installed (bash bench/setup.sh ceph)` } : { ok: true, why: '' };
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

function portFree(port) {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/** A run of `n` consecutive free ports (the OSD binds several messengers within `ms bind port min/max`). */
async function freeRange(n) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    if (base + n > 65535) continue;
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error(`no run of ${n} free loopback ports found`);
}

function listening(port) {
  return new Promise((res) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

async function until(what, timeoutMs, check, daemons) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const d of daemons) {
      if (d.exitCode !== null || d.signalCode !== null) throw new Error(`${d.name} exited (${d.exitCode ?? d.signalCode}) while waiting for ${what}`);
    }
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function conf({ dir, fsid, monPort, osdPorts, rgwPort, memstoreBytes }) {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind port min = ${osdPorts}
ms bind port max = ${osdPorts + 9}
# No cephx on a loopback test cluster; without the crc modes radosgw loops on "get_initial_auth_request returned -13".
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
# One node, one OSD.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# A nearly full disk must not stop the monitor.
mon data avail warn = 1
mon data avail crit = 0
# radosgw's first start makes about ten map changes, paced one a second by default.
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
mon data = ${dir}/mon
osd data = ${dir}/osd
rgw data = ${dir}/rgw
keyring = ${dir}/keyring
[osd]
osd objectstore = memstore
memstore device bytes = ${memstoreBytes}
osd op num shards = 2
osd op num threads per shard = 1
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw thread pool size = 128
# Deleted objects' tails are garbage-collected within seconds (default: hours), so memstore stays small.
rgw gc obj min wait = 10
rgw gc processor period = 10
`;
}

function spawnDaemon(dir, name, bin, args) {
  const out = openSync(join(dir, 'log', `${name}.out`), 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.name = name;
  child.on('error', () => {});
  child.unref();
  return child;
}

async function recordPids(dir, entries) {
  await writeFile(join(dir, 'pids.json'), `${JSON.stringify(entries)}\n`);
}

/**
 * Starts the cluster in `dir` (created; a new temp dir when omitted). Resolves when a signed S3 request succeeds.
 * `memstoreBytes`: the OSD's in-memory capacity (objects take about 2.5× their size in RAM).
 */
export async function startRadosgw({ dir, owner, memstoreBytes = 1024 ** 3, timeoutMs = 60_000 } = {}) {
  const installed = radosgwInstalled();
  if (!installed.ok) throw new Error(installed.why);
  dir = dir ? resolve(dir) : await mkdtemp(join(tmpdir(), 'crm-media-ceph-'));
  for (const sub of ['mon', 'osd', 'rgw', 'run', 'log']) await mkdir(join(dir, sub), { recursive: true });
  const t0 = Date.now();
  const fsid = randomUUID();
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const osdPorts = await freeRange(10);
  const cfg = join(dir, 'ceph.conf');
  await writeFile(cfg, conf({ dir, fsid, monPort, osdPorts, rgwPort, memstoreBytes }));
  const entries = [];
  const daemons = [];
  const started = (child) => {
    daemons.push(child);
    entries.push({ name: child.name, pid: child.pid });
    return recordPids(dir, entries);
  };
  try {
    if (owner) {
      const watcher = spawn(process.execPath, [SELF, 'watch', dir, String(owner)], { detached: true, stdio: 'ignore' });
      watcher.unref();
      await writeFile(join(dir, 'watcher.pid'), String(watcher.pid));
    }
    await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(dir, 'monmap')]);
    await run('ceph-mon', ['-c', cfg, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')]);
    await started(spawnDaemon(dir, 'mon', 'ceph-mon', ['-c', cfg, '-i', 'a', '-f']));
    await until('the monitor', timeoutMs, () => listening(monPort), daemons);
    const osdUuid = randomUUID();
    const id = (await run('ceph', ['-c', cfg, '--connect-timeout', '30', 'osd', 'new', osdUuid])).stdout.trim();
    await run('ceph-osd', ['-c', cfg, '-i', id, '--mkfs', '--osd-uuid', osdUuid]);
    await started(spawnDaemon(dir, 'osd', 'ceph-osd', ['-c', cfg, '-i', id, '-f']));
    await started(spawnDaemon(dir, 'rgw', 'radosgw', ['-c', cfg, '-n', 'client.rgw', '-f']));
    await until('radosgw', timeoutMs, () => listening(rgwPort), daemons);
    const accessKeyId = `CRM${randomBytes(8).toString('hex').toUpperCase()}`;
    const secretAccessKey = randomBytes(24).toString('base64url');
    await run('radosgw-admin', ['-c', cfg, '-n', 'client.rgw', 'user', 'create', '--uid=crm-media-test', '--display-name=crm-media test', `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`]);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await until('a signed S3 request', timeoutMs, () => signedListOk(endpoint, { accessKeyId, secretAccessKey }), daemons);
    const info = { endpoint, accessKeyId, secretAccessKey, region: 'us-east-1', dir, startSeconds: (Date.now() - t0) / 1000, pids: entries };
    await writeFile(join(dir, 'endpoint.json'), `${JSON.stringify(info)}\n`, { mode: 0o600 });
    return { ...info, stop: () => stopRadosgw(dir) };
  } catch (err) {
    const logs = await tailLogs(dir);
    await stopRadosgw(dir).catch(() => {});
    throw new Error(`radosgw did not start: ${err.message}\n${logs}`);
  }
}

async function signedListOk(endpoint, credentials) {
  const { S3Client, ListBucketsCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
  try {
    await client.send(new ListBucketsCommand({}));
    return true;
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}

async function tailLogs(dir) {
  const out = [];
  for (const n of ['mon.out', 'osd.out', 'rgw.out', 'mon.a.log', 'osd.0.log', 'client.rgw.log']) {
    try {
      const text = await readFile(join(dir, 'log', n), 'utf8');
      out.push(`--- ${n}\n${text.slice(-1500)}`);
    } catch {
      /* not written */
    }
  }
  return out.join('\n');
}

/** True while `pid` runs a Ceph daemon of this directory's configuration (a reused PID is never signalled). */
function ours(pid, dir) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(join(dir, 'ceph.conf'));
  } catch {
    return false;
  }
}

/** Stops radosgw, then the OSD, then the monitor (SIGTERM, SIGKILL after 5 s), each by its recorded PID; removes `dir`. */
export async function stopRadosgw(dir) {
  dir = resolve(dir);
  let entries = [];
  try {
    entries = JSON.parse(await readFile(join(dir, 'pids.json'), 'utf8'));
  } catch {
    /* nothing was started */
  }
  for (const { pid } of entries.slice().reverse()) {
    if (!ours(pid, dir)) continue;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && ours(pid, dir); i++) await sleep(50);
    if (ours(pid, dir)) process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 40 && ours(pid, dir); i++) await sleep(50);
  }
  await rm(dir, { recursive: true, force: true });
}

/** The watcher: stops the cluster when `owner` is gone; ends by itself once the cluster was stopped normally. */
async function watch(dir, owner) {
  for (;;) {
    await sleep(1000);
    if (!existsSync(join(dir, 'ceph.conf'))) return;
    try {
      process.kill(owner, 0);
    } catch {
      await stopRadosgw(dir);
      return;
    }
  }
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const [cmd, ...rest] = process.argv.slice(2);
  const ownerAt = rest.indexOf('--owner');
  const owner = ownerAt >= 0 ? Number(rest.splice(ownerAt, 2)[1]) : undefined;
  if (cmd === 'start') {
    startRadosgw({ dir: rest[0], owner }).then(
      ({ stop: _stop, ...info }) => process.stdout.write(`RGW_READY ${JSON.stringify(info)}\n`),
      (err) => {
        process.stderr.write(`${err.message}\n`);
        process.exit(1);
      },
    );
  } else if (cmd === 'stop' && rest[0]) {
    await stopRadosgw(rest[0]);
  } else if (cmd === 'watch' && rest[0] && rest[1]) {
    await watch(resolve(rest[0]), Number(rest[1]));
  } else {
    process.stderr.write('usage: rgw.mjs start [DIR] [--owner PID] | stop DIR\n');
    process.exit(2);
  }
}
