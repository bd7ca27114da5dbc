/**
 * The S3 stores the bench's S3 section measures against, each started here on 127.0.0.1 and pinned with the
 * servers: s3rver (bench/s3rver-server.mjs) and a one-node Ceph radosgw (test/support/ceph/rgw.mjs, memstore).
 * A store can be seen through the latency proxy (bench/proxy.mjs), which holds the first byte of every answer, and
 * counted through a proxy without delay. Every store view has the same shape:
 *
 *   { id, label, endpoint, credentials, directEndpoint, pids(), makeBucket(name), counts?(), resetCounts?() }
 */
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { radosgwInstalled, startRadosgw } from '../../test/support/ceph/rgw.mjs';
import { http } from './http.mjs';
import { HAS_TASKSET, LOAD_CPU, SERVER_CPU, spawnPinned, stopChild, waitForOutput } from './proc.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function s3Client(endpoint, credentials) {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function withBuckets(view) {
  return {
    ...view,
    async makeBucket(name) {
      const client = s3Client(view.directEndpoint, view.credentials);
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
      return name;
    },
  };
}

export async function startS3rver(ctx) {
  const child = spawnPinned('s3rver', SERVER_CPU, process.execPath, ['bench/s3rver-server.mjs', '--dir', join(ctx.tmp, 's3rver-shared')], { cwd: ROOT });
  const m = await waitForOutput(child, /S3READY (\{.*\})/, 30_000);
  const { endpoint } = JSON.parse(m[1]);
  return withBuckets({
    id: 's3rver',
    label: 's3rver 3.7 (npm mock, files on disk)',
    endpoint,
    directEndpoint: endpoint,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    pids: () => [child.pid],
    shutdown: () => stopChild(child, 5_000),
  });
}

/** Ceph radosgw + OSD (memstore) + monitor; every thread of the three pinned to the servers' CPU. */
export async function startRadosgwStore(ctx, { memstoreBytes = 8 * 1024 ** 3 } = {}) {
  const installed = radosgwInstalled();
  if (!installed.ok) throw new Error(installed.why);
  const rgw = await startRadosgw({ dir: join(ctx.tmp, 'ceph'), owner: process.pid, memstoreBytes });
  const pids = rgw.pids.map((p) => p.pid);
  if (HAS_TASKSET) for (const pid of pids) execFileSync('taskset', ['-a', '-p', '-c', String(SERVER_CPU), String(pid)], { stdio: 'ignore' });
  return withBuckets({
    id: 'rgw',
    label: `Ceph radosgw 16.2 (one node, memstore OSD; started in ${rgw.startSeconds.toFixed(1)} s)`,
    endpoint: rgw.endpoint,
    directEndpoint: rgw.endpoint,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    pids: () => pids,
    shutdown: () => rgw.stop(),
  });
}

async function startProxy(name, args) {
  // The proxy stands for the network between server and store: it runs on the load generator's CPU.
  const child = spawnPinned(name, LOAD_CPU, process.execPath, ['bench/proxy.mjs', ...args], { cwd: ROOT });
  const m = await waitForOutput(child, /PROXY (\{.*\})/, 10_000);
  const { port, control } = JSON.parse(m[1]);
  return {
    child,
    port,
    counts: async () => (await http('GET', `http://127.0.0.1:${control}/counts`)).json,
    resetCounts: async () => void (await http('POST', `http://127.0.0.1:${control}/reset`)),
  };
}

/** `store` seen through bench/proxy.mjs: every answer's first byte `delayMs` later, and every request counted. */
export async function behindProxy(store, delayMs) {
  const upstream = new URL(store.directEndpoint);
  const p = await startProxy(`proxy-${store.id}-${delayMs}ms`, ['--mode', 's3', '--upstream', `127.0.0.1:${upstream.port}`, '--delay-ms', String(delayMs)]);
  return {
    ...store,
    id: delayMs > 0 ? `${store.id}-${delayMs}ms` : `${store.id}-counted`,
    label: delayMs > 0 ? `${store.label}, through a proxy adding ${delayMs} ms before the first byte of every answer` : `${store.label}, through a counting proxy`,
    endpoint: `http://127.0.0.1:${p.port}`,
    counts: p.counts,
    resetCounts: p.resetCounts,
    shutdown: () => stopChild(p.child, 2_000),
  };
}

/** A PostgreSQL URL whose connections pass a statement-counting proxy. */
export async function pgCounter(pgUrl) {
  const url = new URL(pgUrl);
  const p = await startProxy('proxy-pg', ['--mode', 'pg', '--upstream', `127.0.0.1:${url.port || 5432}`]);
  return {
    rewrite(dbUrl) {
      const u = new URL(dbUrl);
      u.hostname = '127.0.0.1';
      u.port = String(p.port);
      return u.toString();
    },
    counts: p.counts,
    resetCounts: p.resetCounts,
    shutdown: () => stopChild(p.child, 2_000),
  };
}
