/**
 * The systems under test. Each starts its own processes on 127.0.0.1 (pinned to the server CPU), makes the
 * fixtures a cell needs, turns a cell into a load-generator plan, and verifies what the cell stored or served.
 *
 *   plan(cell)  → { method, headers, bodyFiles, targets, partition, trackAcks, captureId } | { na: 'reason' }
 *   verify(cell, plan, result) → { ok, detail }      (after the load generator has drained)
 *   after(cell, plan, result)                          (clean-up that keeps disk use bounded across rounds)
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getHash, http, mapLimit, spread } from './http.mjs';
import { SERVER_CPU, freePort, pidsByComm, spawnPinned, stopChild, waitForOutput } from './proc.mjs';

/**
 * The node flags `npm start` and the crm-media bin use (docs/architecture.md, "Node flags");
 * BENCH_CRM_NODE_OPTIONS replaces them for A/B experiments.
 */
export const CRM_NODE_FLAGS = (process.env.BENCH_CRM_NODE_OPTIONS ?? '--no-memory-reducer --max-semi-space-size=32 --initial-old-space-size=96').split(/\s+/).filter(Boolean);

export const TOKEN = 'bench-token-0123456789abcdef';
const AUTH = { authorization: `Zoho-oauthtoken ${TOKEN}` };
const VERIFY_SAMPLE = Number(process.env.BENCH_VERIFY_SAMPLE ?? 32);

/** Targets per connection for upload cells: consecutive requests of a connection go to different targets. */
export const UPLOAD_SLOTS_PER_CONNECTION = { photo: 4, attachment: 2 };
export const DOWNLOAD_FIXTURES = { p1m: 64, p20k: 256, a8m: 16 };

const poolSize = (cell) =>
  cell.conc * (cell.kind === 'att-up' ? UPLOAD_SLOTS_PER_CONNECTION.attachment : UPLOAD_SLOTS_PER_CONNECTION.photo) +
  (cell.conc === 1 ? 4 : 0);

/** Which fixture set a download cell reads. */
export const fixtureOf = (cell) => (cell.kind === 'att-down' ? 'a8m' : cell.size === 1024 * 1024 ? 'p1m' : 'p20k');
/** Which variant set an upload cell sends. */
export const uploadSetOf = (cell) => (cell.kind === 'att-up' ? 'a8m' : cell.size === 1024 * 1024 ? 'p1m' : cell.size >= 9_000_000 ? 'p10m' : 'p20k');

/** Last acknowledged variant per target (a target is only ever written by one connection, in order). */
function lastAcks(result) {
  const last = new Map();
  for (const [t, v] of result.acks ?? []) last.set(t, v);
  return last;
}

function summarize(checks, what) {
  const bad = checks.filter((c) => !c.ok);
  if (checks.length === 0) return { ok: false, detail: `nothing to verify (no ${what} acknowledged)` };
  if (bad.length === 0) return { ok: true, detail: `${checks.length}/${checks.length} ${what} ok` };
  return { ok: false, detail: `${checks.length - bad.length}/${checks.length} ${what} ok; first bad: ${bad[0].why}` };
}

function childEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('CRM_MEDIA_') || k === 'DATABASE_URL' || k === 'PORT' || k.startsWith('AWS_')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

// ---- crm-media ----------------------------------------------------------------------------------

export class CrmSystem {
  /**
   * @param ctx { root, tmp, sets, pgAdminUrl }
   * @param opts { id, label, backend: 'sqlite' | 'pg-disk' | 'pg-s3', extraEnv, dataDir, serverRoot, s3Store, pgCounter, baselineId }
   *   serverRoot: the checkout whose dist/cli.js runs (default: this one), to compare two builds in the same rounds
   *   s3Store: the S3 store of a pg-s3 system (bench/lib/s3-stores.mjs; default: an s3rver of its own)
   *   pgCounter: route the server's PostgreSQL connections through a statement counter (bench/lib/s3-stores.mjs)
   *   baselineId: the system its req/s is compared with (default: the node:http baseline)
   */
  constructor(ctx, opts) {
    this.ctx = ctx;
    this.id = opts.id;
    this.label = opts.label;
    this.backend = opts.backend;
    this.extraEnv = opts.extraEnv ?? {};
    this.nodeArgs = opts.nodeArgs ?? CRM_NODE_FLAGS;
    this.dataDir = opts.dataDir ?? join(ctx.tmp, opts.id);
    this.serverRoot = opts.serverRoot ?? ctx.root;
    this.s3Store = opts.s3Store;
    this.pgCounter = opts.pgCounter;
    this.baselineId = opts.baselineId ?? 'baseline';
    this.pools = new Map(); // cell id -> record ids
    this.fixtures = new Map(); // fixture name -> [{ recordId, attachmentId?, variant }]
    this.probes = new Map(); // fixture name -> { ok, na? }
    this.aux = [];
  }

  get note() {
    if (this.backend === 'pg-s3') {
      return `${this.serverRoot !== this.ctx.root ? `the build in ${this.serverRoot}: ` : ''}crm-media + PostgreSQL 15 (system service, unpinned) + ${this.s3Store ? this.s3Store.label : 's3rver (pinned with it)'}; CPU column: crm-media (+ the store's and postgres processes)`;
    }
    if (this.backend === 'pg-disk') return 'crm-media + PostgreSQL 15 (system service, unpinned) + disk blobs; CPU column: crm-media (+ postgres processes)';
    return 'crm-media, SQLite (WAL, fsync before every acknowledgement, group-committed) + disk blobs (fsync + rename)';
  }

  async start() {
    await mkdir(this.dataDir, { recursive: true });
    const env = {
      CRM_MEDIA_DEV_TOKEN: TOKEN,
      CRM_MEDIA_LOG_LEVEL: 'warn',
      // The orphan sweeper is maintenance, not request work: keep it from firing inside a measured window.
      CRM_MEDIA_SWEEP_INTERVAL_MS: '0',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...this.extraEnv,
    };
    if (this.backend !== 'sqlite' && !this.backendEnv) await this.startBackend();
    Object.assign(env, this.backendEnv ?? {});
    this.env = env;
    this.port = await freePort();
    this.origin = `http://127.0.0.1:${this.port}`;
    this.child = spawnPinned(this.id, SERVER_CPU, process.execPath, [...this.nodeArgs, 'dist/cli.js', '--data', this.dataDir, 'serve', '--port', String(this.port), '--host', '127.0.0.1'], {
      cwd: this.serverRoot,
      env: childEnv(env),
    });
    await waitForOutput(this.child, /is listening on/, 60_000);
    // The welcome text (older builds, a terminal) or the welcome record (JSON log format) names the default org.
    const org = this.child.output().match(/org:.*\(id (\d+)|"org":\{"id":"(\d+)"/);
    if (org) this.orgId = org[1] ?? org[2];
  }

  /** A fresh database (dropped by shutdown) and, for pg-s3, a bucket of its own. */
  async startBackend() {
    const pg = (await import('pg')).default;
    this.dbName = `crm_media_bench_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: this.ctx.pgAdminUrl });
    await admin.connect();
    try {
      await admin.query(`create database ${this.dbName}`);
    } finally {
      await admin.end();
    }
    const url = new URL(this.ctx.pgAdminUrl);
    url.pathname = `/${this.dbName}`;
    this.databaseUrl = url.toString();
    this.backendEnv = { DATABASE_URL: this.pgCounter ? this.pgCounter.rewrite(this.databaseUrl) : this.databaseUrl };
    if (this.backend !== 'pg-s3') return;
    let store = this.s3Store;
    if (!store) {
      const s3 = spawnPinned(`${this.id}-s3rver`, SERVER_CPU, process.execPath, ['bench/s3rver-server.mjs', '--dir', join(this.dataDir, 's3rver')], {
        cwd: this.ctx.root,
        env: childEnv({}),
      });
      this.aux.push(s3);
      const m = await waitForOutput(s3, /S3READY (\{.*\})/, 30_000);
      const { endpoint, bucket } = JSON.parse(m[1]);
      store = { endpoint, directEndpoint: endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, makeBucket: async () => bucket, pids: () => [] };
    }
    const bucket = await store.makeBucket(`crm-${randomBytes(4).toString('hex')}`);
    this.backendEnv = {
      ...this.backendEnv,
      CRM_MEDIA_BLOB_STORE: 's3',
      CRM_MEDIA_S3_BUCKET: bucket,
      CRM_MEDIA_S3_ENDPOINT: store.endpoint,
      CRM_MEDIA_S3_FORCE_PATH_STYLE: 'true',
      CRM_MEDIA_S3_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: store.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: store.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };
  }

  mainPids() {
    return this.child ? [this.child.pid] : [];
  }

  /** V8 GC counters and heap size from the server's own /metrics (prom-client default metrics); never in a window. */
  async gcStats() {
    try {
      const text = (await http('GET', `${this.origin}/metrics`)).text();
      const num = (re) => Number((text.match(re) ?? [])[1] ?? NaN);
      return {
        major: num(/^crm_media_nodejs_gc_duration_seconds_count\{kind="major"\} (\S+)/m),
        minor: num(/^crm_media_nodejs_gc_duration_seconds_count\{kind="minor"\} (\S+)/m),
        majorSeconds: num(/^crm_media_nodejs_gc_duration_seconds_sum\{kind="major"\} (\S+)/m),
        heapTotalMiB: num(/^crm_media_nodejs_heap_size_total_bytes (\S+)/m) / 1048576,
      };
    } catch {
      return undefined;
    }
  }

  auxPids() {
    if (this.backend === 'sqlite') return [];
    return [...this.aux.map((c) => c.pid), ...(this.s3Store?.pids() ?? []), ...pidsByComm('postgres')];
  }

  /** Creates `n` records through the Records API, 100 per call. */
  async createRecords(n) {
    const batches = [];
    for (let i = 0; i < n; i += 100) batches.push(Math.min(100, n - i));
    const out = await mapLimit(batches, 4, async (size) => {
      const res = await http('POST', `${this.origin}/crm/v8/Leads`, {
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ data: Array.from({ length: size }, (_, i) => ({ Last_Name: `Bench ${i}` })) }),
      });
      if (res.status !== 201) throw new Error(`record insert failed: ${res.status} ${res.text().slice(0, 300)}`);
      return res.json.data.map((d) => d.details.id);
    });
    return out.flat();
  }

  async uploadPhoto(recordId, mpFile, contentType) {
    const res = await http('POST', `${this.origin}/crm/v8/Leads/${recordId}/photo`, {
      headers: { ...AUTH, 'content-type': contentType },
      body: await readFile(mpFile),
    });
    if (res.status !== 200) throw new Error(`photo upload failed: ${res.status} ${res.text().slice(0, 300)}`);
  }

  async uploadAttachment(recordId, mpFile, contentType) {
    const res = await http('POST', `${this.origin}/crm/v8/Leads/${recordId}/Attachments`, {
      headers: { ...AUTH, 'content-type': contentType },
      body: await readFile(mpFile),
    });
    if (res.status !== 200) throw new Error(`attachment upload failed: ${res.status} ${res.text().slice(0, 300)}`);
    return res.json.data[0].details.id;
  }

  fixturePath(name, f) {
    return name === 'a8m' ? `/crm/v8/Leads/${f.recordId}/Attachments/${f.attachmentId}` : `/crm/v8/Leads/${f.recordId}/photo`;
  }

  async prepareFixture(name) {
    if (this.fixtures.has(name)) return;
    const set = this.ctx.sets[name];
    const n = DOWNLOAD_FIXTURES[name];
    const ids = await this.createRecords(n);
    const list = await mapLimit(ids, 8, async (recordId, i) => {
      const variant = i % set.raw.length;
      if (name === 'a8m') {
        const attachmentId = await this.uploadAttachment(recordId, set.mpFiles[variant], set.mpContentType);
        return { recordId, attachmentId, variant };
      }
      await this.uploadPhoto(recordId, set.mpFiles[variant], set.mpContentType);
      return { recordId, variant };
    });
    this.fixtures.set(name, list);
    // Probe the download endpoint once: a missing endpoint makes the cell n/a rather than a crash.
    const probe = await getHash(`${this.origin}${this.fixturePath(name, list[0])}`, AUTH);
    if (probe.status >= 400) {
      let code = '';
      try {
        code = JSON.parse(probe.head).code ?? '';
      } catch {
        /* not JSON */
      }
      this.probes.set(name, { na: `n/a (endpoint missing: GET answered ${probe.status}${code ? ` ${code}` : ''})` });
    } else {
      this.probes.set(name, { ok: true });
    }
  }

  async prepare(cells) {
    for (const cell of cells) {
      if (cell.kind === 'photo-up' || cell.kind === 'att-up') {
        if (!this.pools.has(cell.id)) this.pools.set(cell.id, await this.createRecords(poolSize(cell)));
      } else {
        await this.prepareFixture(fixtureOf(cell));
      }
    }
  }

  plan(cell) {
    const set = this.ctx.sets[cell.kind.endsWith('-up') ? uploadSetOf(cell) : fixtureOf(cell)];
    if (cell.kind === 'photo-up' || cell.kind === 'att-up') {
      const suffix = cell.kind === 'photo-up' ? 'photo' : 'Attachments';
      return {
        method: 'POST',
        headers: { ...AUTH, 'content-type': set.mpContentType },
        bodyFiles: set.mpFiles,
        targets: this.pools.get(cell.id).map((id) => `/crm/v8/Leads/${id}/${suffix}`),
        partition: true,
        trackAcks: true,
        captureId: cell.kind === 'att-up',
      };
    }
    const name = fixtureOf(cell);
    const probe = this.probes.get(name);
    if (probe?.na) return { na: probe.na };
    const list = this.targetsFor?.(cell) ?? this.fixtures.get(name).map((f) => this.fixturePath(name, f));
    return { method: 'GET', headers: AUTH, targets: list, partition: false };
  }

  /** Expected hash of download target i (fixture variant). */
  expectedDownload(cell, i) {
    const name = fixtureOf(cell);
    return this.ctx.sets[name].hashes[this.fixtures.get(name)[i].variant];
  }

  async verify(cell, plan, result) {
    const set = this.ctx.sets[cell.kind.endsWith('-up') ? uploadSetOf(cell) : fixtureOf(cell)];
    if (cell.kind === 'photo-up') {
      // Every record the cell wrote must hold exactly the bytes of its last acknowledged upload.
      const last = [...lastAcks(result)];
      const checks = await mapLimit(last, 8, async ([t, v]) => {
        const r = await getHash(`${this.origin}${plan.targets[t]}`, AUTH);
        return r.status === 200 && r.sha256 === set.hashes[v]
          ? { ok: true }
          : { ok: false, why: `${plan.targets[t]} → ${r.status}, ${r.size} bytes, sha256 ${r.sha256.slice(0, 12)} ≠ ${set.hashes[v].slice(0, 12)}` };
      });
      return summarize(checks, 'stored photos');
    }
    if (cell.kind === 'att-up') return this.verifyAttachments(cell, plan, result, set);
    const sample = spread(plan.targets, VERIFY_SAMPLE);
    const checks = await mapLimit(sample, 8, async ([path, i]) => {
      const r = await getHash(`${this.origin}${path}`, AUTH);
      const want = this.expectedDownload(cell, i);
      return r.status === 200 && r.sha256 === want ? { ok: true } : { ok: false, why: `${path} → ${r.status}, sha256 ${r.sha256.slice(0, 12)} ≠ ${want.slice(0, 12)}` };
    });
    return summarize(checks, 'sampled bodies');
  }

  /**
   * Every acknowledged attachment must exist with the uploaded bytes. Through the download endpoint when it exists
   * (a sample of bodies), and always through the store itself (the project's own modules, read-only use): each
   * acknowledged id's row must carry the upload's size (and SHA-256 when the server records one), and a sample of
   * blobs is re-hashed.
   */
  async verifyAttachments(cell, plan, result, set) {
    const acks = (result.acks ?? []).filter(([, , id]) => id);
    const missingIds = (result.acks ?? []).length - acks.length;
    const recordOf = (t) => plan.targets[t].split('/')[4];
    const checks = [];
    if (!this.probes.get('a8m')?.na && this.probes.has('a8m')) {
      for (const [[t, v, id]] of spread(acks, 8)) {
        const r = await getHash(`${this.origin}/crm/v8/Leads/${recordOf(t)}/Attachments/${id}`, AUTH);
        checks.push(r.status === 200 && r.sha256 === set.hashes[v] ? { ok: true } : { ok: false, why: `GET attachment ${id} → ${r.status}, sha256 mismatch` });
      }
    }
    const stores = await this.openStores();
    try {
      const sampled = new Set(spread(acks, 8).map(([a]) => a));
      for (const ack of acks) {
        const [t, v, id] = ack;
        const a = await stores.store.attachments.get(this.orgId, recordOf(t), id);
        if (!a) {
          checks.push({ ok: false, why: `attachment ${id} acknowledged but not in the store` });
          continue;
        }
        // The row's SHA-256 is optional (null unless the server hashes content); its size is always there.
        if (a.size !== set.raw[v].length || (a.sha256 != null && a.sha256 !== set.hashes[v])) {
          checks.push({ ok: false, why: `attachment ${id}: stored ${a.sha256 != null ? 'sha256/' : ''}size differ from the upload` });
          continue;
        }
        if (sampled.has(ack)) {
          const reader = await stores.blobs.open(a.blobKey);
          const h = createHash('sha256');
          if (reader) for await (const chunk of reader.stream) h.update(chunk);
          const got = reader ? h.digest('hex') : 'missing';
          if (got !== set.hashes[v]) {
            checks.push({ ok: false, why: `attachment ${id}: blob bytes differ (${got.slice(0, 12)})` });
            continue;
          }
        }
        checks.push({ ok: true });
      }
    } finally {
      await stores.close();
    }
    if (missingIds > 0) checks.push({ ok: false, why: `${missingIds} 2xx answers without an attachment id` });
    const s = summarize(checks, 'attachments (store rows + sampled blobs)');
    return s;
  }

  async openStores() {
    const { loadConfig } = await import(join(this.ctx.root, 'dist/config.js'));
    const { openMetadataStore, openBlobStore } = await import(join(this.ctx.root, 'dist/runtime.js'));
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) if (this.env[k]) process.env[k] = this.env[k];
    const config = loadConfig({ dataDir: this.dataDir, pgPoolSize: 2 }, childEnv(this.env));
    const store = await openMetadataStore(config);
    const blobs = await openBlobStore(config);
    return {
      store,
      blobs,
      close: async () => {
        await blobs.close();
        await store.close();
      },
    };
  }

  /** Attachment uploads add rows and blobs: delete what the cell made (through the API) so rounds stay bounded. */
  async after(cell, plan, result) {
    if (cell.kind !== 'att-up') return;
    const acks = (result.acks ?? []).filter(([, , id]) => id);
    await mapLimit(acks, 8, async ([t, , id]) => {
      const rid = plan.targets[t].split('/')[4];
      await http('DELETE', `${this.origin}/crm/v8/Leads/${rid}/Attachments/${id}`, { headers: AUTH });
    });
  }

  async stop() {
    await stopChild(this.child);
    this.child = undefined;
  }

  async shutdown() {
    await this.stop();
    for (const c of this.aux) await stopChild(c, 5_000);
    this.aux = [];
    if (this.dbName) {
      const pg = (await import('pg')).default;
      const admin = new pg.Client({ connectionString: this.ctx.pgAdminUrl });
      await admin.connect();
      try {
        await admin.query(`drop database if exists ${this.dbName} with (force)`);
      } finally {
        await admin.end();
      }
      this.dbName = undefined;
    }
  }
}

// ---- node:http baseline -------------------------------------------------------------------------

export class BaselineSystem {
  /** @param opts { nodeArgs } extra node flags (bench/profile.mjs profiles the baseline with --cpu-prof) */
  constructor(ctx, opts = {}) {
    this.ctx = ctx;
    this.nodeArgs = opts.nodeArgs ?? [];
    this.id = 'baseline';
    this.label = 'node:http baseline';
    this.note = 'node:http + busboy, fs streams, fsync (no auth, no DB, no hashing)';
    this.root = join(ctx.tmp, 'baseline');
  }

  async start() {
    this.child = spawnPinned('baseline', SERVER_CPU, process.execPath, [...this.nodeArgs, 'bench/baseline-server.mjs', '--port', '0', '--root', this.root], {
      cwd: this.ctx.root,
      env: childEnv({}),
    });
    const m = await waitForOutput(this.child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
    this.origin = m[1];
  }

  mainPids() {
    return this.child ? [this.child.pid] : [];
  }
  auxPids() {
    return [];
  }

  name(cell, i) {
    if (cell.kind === 'photo-up' || cell.kind === 'att-up') return `up-${cell.id}-${i}.${cell.kind === 'att-up' ? 'bin' : 'png'}`;
    const f = fixtureOf(cell);
    return `${f}-${i}.${f === 'a8m' ? 'bin' : 'png'}`;
  }

  async prepare(cells) {
    this.prepared ??= new Set();
    for (const cell of cells) {
      if (cell.kind.endsWith('-up')) continue;
      const f = fixtureOf(cell);
      if (this.prepared.has(f)) continue;
      const set = this.ctx.sets[f];
      await mapLimit([...Array(DOWNLOAD_FIXTURES[f]).keys()], 8, async (i) => {
        const res = await http('POST', `${this.origin}/files/${this.name(cell, i)}`, {
          headers: { 'content-type': set.mpContentType },
          body: await readFile(set.mpFiles[i % set.raw.length]),
        });
        if (res.status !== 200) throw new Error(`baseline fixture upload failed: ${res.status}`);
      });
      this.prepared.add(f);
    }
  }

  plan(cell) {
    if (cell.kind.endsWith('-up')) {
      const set = this.ctx.sets[uploadSetOf(cell)];
      return {
        method: 'POST',
        headers: { 'content-type': set.mpContentType },
        bodyFiles: set.mpFiles,
        targets: [...Array(poolSize(cell)).keys()].map((i) => `/files/${this.name(cell, i)}`),
        partition: true,
        trackAcks: true,
      };
    }
    return { method: 'GET', headers: {}, targets: [...Array(DOWNLOAD_FIXTURES[fixtureOf(cell)]).keys()].map((i) => `/files/${this.name(cell, i)}`), partition: false };
  }

  async verify(cell, plan, result) {
    if (cell.kind.endsWith('-up')) {
      const set = this.ctx.sets[uploadSetOf(cell)];
      // Compare the files on disk with what was acknowledged last.
      const checks = await mapLimit([...lastAcks(result)], 8, async ([t, v]) => {
        const file = join(this.root, 'files', plan.targets[t].slice('/files/'.length));
        const h = createHash('sha256');
        try {
          for await (const chunk of createReadStream(file)) h.update(chunk);
        } catch (err) {
          return { ok: false, why: `${file}: ${err.code}` };
        }
        const got = h.digest('hex');
        return got === set.hashes[v] ? { ok: true } : { ok: false, why: `${file}: sha256 ${got.slice(0, 12)} ≠ ${set.hashes[v].slice(0, 12)}` };
      });
      return summarize(checks, cell.kind === 'att-up' ? 'files on disk' : 'files on disk');
    }
    const set = this.ctx.sets[fixtureOf(cell)];
    const checks = await mapLimit(spread(plan.targets, VERIFY_SAMPLE), 8, async ([path, i]) => {
      const r = await getHash(`${this.origin}${path}`);
      const want = set.hashes[i % set.raw.length];
      return r.status === 200 && r.sha256 === want ? { ok: true } : { ok: false, why: `${path} → ${r.status}` };
    });
    return summarize(checks, 'sampled bodies');
  }

  async after() {}

  async shutdown() {
    await stopChild(this.child);
  }
}

// ---- S3 baseline --------------------------------------------------------------------------------

/**
 * bench/s3-baseline-server.mjs on an S3 store (bench/lib/s3-stores.mjs), in a bucket of its own: node:http +
 * busboy + the AWS SDK streaming each upload to S3 and each download from it. Same requests as the node:http
 * baseline (`/files/NAME`); uploads are verified by reading the object back from the store.
 */
export class S3BaselineSystem extends BaselineSystem {
  constructor(ctx, { id, store }) {
    super(ctx);
    this.id = id;
    this.store = store;
    this.label = `S3 baseline on ${store.id}`;
    this.note = `node:http + busboy + AWS SDK (lib-storage Upload, GetObject streamed; crm-media's client settings) on ${store.label}; no auth, no DB`;
  }

  async start() {
    this.bucket = await this.store.makeBucket(`base-${randomBytes(4).toString('hex')}`);
    this.child = spawnPinned(this.id, SERVER_CPU, process.execPath, [...this.nodeArgs, 'bench/s3-baseline-server.mjs', '--port', '0', '--endpoint', this.store.endpoint, '--bucket', this.bucket], {
      cwd: this.ctx.root,
      env: childEnv({ AWS_ACCESS_KEY_ID: this.store.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: this.store.credentials.secretAccessKey, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }),
    });
    const m = await waitForOutput(this.child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
    this.origin = m[1];
  }

  auxPids() {
    return this.store.pids();
  }

  async verify(cell, plan, result) {
    if (!cell.kind.endsWith('-up')) return super.verify(cell, plan, result);
    const set = this.ctx.sets[uploadSetOf(cell)];
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const { s3Client } = await import('./s3-stores.mjs');
    const client = s3Client(this.store.directEndpoint, this.store.credentials);
    try {
      const checks = await mapLimit([...lastAcks(result)], 8, async ([t, v]) => {
        const Key = plan.targets[t].slice('/files/'.length);
        try {
          const h = createHash('sha256');
          for await (const chunk of (await client.send(new GetObjectCommand({ Bucket: this.bucket, Key }))).Body) h.update(chunk);
          const got = h.digest('hex');
          return got === set.hashes[v] ? { ok: true } : { ok: false, why: `${Key}: sha256 ${got.slice(0, 12)} ≠ ${set.hashes[v].slice(0, 12)}` };
        } catch (err) {
          return { ok: false, why: `${Key}: ${err.name}` };
        }
      });
      return summarize(checks, 'objects in the store');
    } finally {
      client.destroy();
    }
  }
}

// ---- Azurite ------------------------------------------------------------------------------------

const AZURITE_ACCOUNT = 'devstoreaccount1';
// The well-known development storage key (public, documented by Microsoft for Azurite and the emulator).
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export class AzuriteSystem {
  constructor(ctx) {
    this.ctx = ctx;
    this.id = 'azurite';
    this.label = 'Azurite 3.35 (blob)';
    this.note = 'Azurite blob service on disk (--loose --skipApiVersionCheck --disableTelemetry; extent data fdatasync\'ed, metadata in LokiJS saved periodically); raw Put Blob / Get Blob with a container SAS';
    this.location = join(ctx.tmp, 'azurite');
  }

  async start() {
    await mkdir(this.location, { recursive: true });
    const port = await freePort();
    this.child = spawnPinned(
      'azurite',
      SERVER_CPU,
      process.execPath,
      [
        'node_modules/azurite/dist/src/blob/main.js',
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(port),
        '--location',
        this.location,
        '--silent',
        '--skipApiVersionCheck',
        '--loose',
        '--disableTelemetry',
      ],
      { cwd: this.ctx.root, env: childEnv({}) },
    );
    await waitForOutput(this.child, /successfully listens on/, 60_000);
    this.origin = `http://127.0.0.1:${port}`;
    const az = await import('@azure/storage-blob');
    const cred = new az.StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
    const service = new az.BlobServiceClient(`${this.origin}/${AZURITE_ACCOUNT}`, cred);
    this.container = service.getContainerClient('bench');
    await this.container.createIfNotExists();
    this.sas = az
      .generateBlobSASQueryParameters(
        {
          containerName: 'bench',
          permissions: az.ContainerSASPermissions.parse('racwd'),
          startsOn: new Date(Date.now() - 5 * 60_000),
          expiresOn: new Date(Date.now() + 24 * 3600_000),
          protocol: az.SASProtocol.HttpsAndHttp,
        },
        cred,
      )
      .toString();
  }

  mainPids() {
    return this.child ? [this.child.pid] : [];
  }
  auxPids() {
    return [];
  }

  name(cell, i) {
    return BaselineSystem.prototype.name.call(this, cell, i);
  }

  path(name) {
    return `/${AZURITE_ACCOUNT}/bench/${name}?${this.sas}`;
  }

  async prepare(cells) {
    this.prepared ??= new Set();
    for (const cell of cells) {
      if (cell.kind.endsWith('-up')) continue;
      const f = fixtureOf(cell);
      if (this.prepared.has(f)) continue;
      const set = this.ctx.sets[f];
      // The Azure SDK's own upload (BlockBlobClient.upload: one Put Blob).
      await mapLimit([...Array(DOWNLOAD_FIXTURES[f]).keys()], 8, async (i) => {
        const data = set.raw[i % set.raw.length];
        await this.container.getBlockBlobClient(this.name(cell, i)).upload(data, data.length, { blobHTTPHeaders: { blobContentType: set.contentType } });
      });
      this.prepared.add(f);
    }
  }

  plan(cell) {
    if (cell.kind.endsWith('-up')) {
      const set = this.ctx.sets[uploadSetOf(cell)];
      return {
        method: 'PUT',
        headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-version': '2021-12-02', 'content-type': set.contentType },
        bodyFiles: set.rawFiles,
        targets: [...Array(poolSize(cell)).keys()].map((i) => this.path(this.name(cell, i))),
        partition: true,
        trackAcks: true,
      };
    }
    return {
      method: 'GET',
      headers: { 'x-ms-version': '2021-12-02' },
      targets: [...Array(DOWNLOAD_FIXTURES[fixtureOf(cell)]).keys()].map((i) => this.path(this.name(cell, i))),
      partition: false,
    };
  }

  async verify(cell, plan, result) {
    if (cell.kind.endsWith('-up')) {
      const set = this.ctx.sets[uploadSetOf(cell)];
      // Download each written blob with the SDK and compare it with the last acknowledged upload.
      const checks = await mapLimit([...lastAcks(result)], 8, async ([t, v]) => {
        const name = plan.targets[t].split('?')[0].split('/').pop();
        try {
          const buf = await this.container.getBlockBlobClient(name).downloadToBuffer();
          const got = createHash('sha256').update(buf).digest('hex');
          return got === set.hashes[v] ? { ok: true } : { ok: false, why: `${name}: sha256 ${got.slice(0, 12)} ≠ ${set.hashes[v].slice(0, 12)}` };
        } catch (err) {
          return { ok: false, why: `${name}: ${err.message}` };
        }
      });
      return summarize(checks, 'blobs');
    }
    const set = this.ctx.sets[fixtureOf(cell)];
    const checks = await mapLimit(spread(plan.targets, VERIFY_SAMPLE), 8, async ([path, i]) => {
      const r = await getHash(`${this.origin}${path}`, { 'x-ms-version': '2021-12-02' });
      const want = set.hashes[i % set.raw.length];
      return r.status === 200 && r.sha256 === want ? { ok: true } : { ok: false, why: `${path.split('?')[0]} → ${r.status}` };
    });
    return summarize(checks, 'sampled bodies');
  }

  async after() {}

  async shutdown() {
    await stopChild(this.child);
  }
}
