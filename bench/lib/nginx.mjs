/**
 * Optional cell (BENCH_NGINX=1): crm-media with CRM_MEDIA_ACCEL_REDIRECT=/_protected/ behind nginx, which serves
 * the blob file named by the X-Accel-Redirect header from `location /_protected/ { internal; alias <data>/blobs/; }`,
 * compared with nginx serving the same bytes as plain static files. Two ways in: one port where every download is
 * authorized by crm-media, and one where nginx reuses an authorization for the same URL and Authorization header
 * for CRM_MEDIA_ACCEL_CACHE_SECONDS (the site of docs/deployment.md, bench/lib/nginx-conf.mjs). nginx (one worker) and
 * crm-media share the server CPU. Skipped, with the reason, when nginx cannot be installed or the server does not
 * send the header.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHash, mapLimit, spread } from './http.mjs';
import { SERVER_CPU, childPids, freePort, spawnPinned, stopChild } from './proc.mjs';
import { aggregate, mdTable, rowCells } from './report.mjs';
import { ACCEL_PREFIX, OPEN_FILE_CACHE, STANDALONE_DIRS, crmMediaNginxSite, nginxBinary, standaloneNginxConf } from './nginx-conf.mjs';
import { DOWNLOAD_FIXTURES, TOKEN, fixtureOf } from './systems.mjs';

const AUTH = { authorization: `Zoho-oauthtoken ${TOKEN}` };
const CELLS = [
  { id: 'photo-down-1m-c64', kind: 'photo-down', size: 1024 * 1024, conc: 64, label: 'photo download 1 MiB, c=64' },
  { id: 'photo-get-20k-c64', kind: 'photo-down', size: 20 * 1024, conc: 64, label: 'photo GET 20 KiB, c=64' },
];

/**
 * Seconds nginx may reuse an authorization on the documented site (crm-media's CRM_MEDIA_ACCEL_CACHE_SECONDS). With
 * 1, every hot entry expires at each whole second and the connections asking for them wait on crm-media together;
 * 2 halves those stalls (README, "Performance", has figures for 1, 2 and 5).
 */
const ACCEL_CACHE_SECONDS = Number(process.env.BENCH_ACCEL_CACHE_SECONDS ?? 2);
const CACHED_ID = `nginx+crm-accel, ${ACCEL_CACHE_SECONDS} s reuse`;

/**
 * nginx.conf: `port` proxies /crm/ to crm-media (every download authorized there, X-Accel-Redirect followed) and
 * serves the same bytes as plain files under /static/; `cachedPort` is the site of docs/deployment.md, which reuses
 * authorizations for as long as crm-media's X-Accel-Expires allows.
 */
function nginxConf({ prefix, port, cachedPort, upstreamPort, blobsDir, staticDir }) {
  const site = `  upstream crm { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location /crm/ {
      proxy_pass http://crm;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location ${ACCEL_PREFIX} { internal; alias ${blobsDir}/; ${OPEN_FILE_CACHE} }
    location /static/ { alias ${staticDir}/; ${OPEN_FILE_CACHE} }
  }
${crmMediaNginxSite({ listen: `127.0.0.1:${cachedPort}`, upstreams: [`127.0.0.1:${upstreamPort}`], blobsDir, cacheDir: `${prefix}/authorizations` })}`;
  return standaloneNginxConf({ prefix, site });
}

export async function runNginxCells({ ctx, tmp, log, runCell, CrmSystem, rounds, extraSystems, summary }) {
  let bin = nginxBinary();
  if (!bin) {
    log('  nginx missing: running bench/setup.sh nginx (apt-get)…');
    try {
      execFileSync('bash', [join(ctx.root, 'bench/setup.sh'), 'nginx'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
    } catch (err) {
      return { markdown: `skipped: nginx could not be installed (${err.message.split('\n')[0]})` };
    }
    bin = nginxBinary();
    if (!bin) return { markdown: 'skipped: nginx not found after bench/setup.sh' };
  }
  const crm = new CrmSystem(ctx, { id: 'crm-accel', label: 'crm-media (sqlite-disk, X-Accel-Redirect)', backend: 'sqlite', extraEnv: { CRM_MEDIA_ACCEL_REDIRECT: ACCEL_PREFIX, CRM_MEDIA_ACCEL_CACHE_SECONDS: String(ACCEL_CACHE_SECONDS) } });
  extraSystems.push(crm);
  let nginx;
  try {
    await crm.start();
    await crm.prepare(CELLS);
    const first = crm.fixtures.get('p1m')[0];
    const probe = await getHash(`${crm.origin}/crm/v8/Leads/${first.recordId}/photo`, AUTH);
    const accel = probe.headers['x-accel-redirect'];
    if (!accel) {
      return { markdown: `skipped: crm-media does not send X-Accel-Redirect yet (GET photo with CRM_MEDIA_ACCEL_REDIRECT=/_protected/ answered ${probe.status} with a ${probe.size}-byte body and no such header)` };
    }
    // Static copies of the same fixtures, for nginx serving the bytes directly.
    const prefix = join(tmp, 'nginx');
    const staticDir = join(prefix, 'static');
    mkdirSync(staticDir, { recursive: true });
    for (const name of ['p1m', 'p20k']) {
      const set = ctx.sets[name];
      for (let i = 0; i < DOWNLOAD_FIXTURES[name]; i++) writeFileSync(join(staticDir, `${name}-${i}.png`), set.raw[i % set.raw.length]);
    }
    for (const d of STANDALONE_DIRS) mkdirSync(join(prefix, d), { recursive: true });
    const port = await freePort();
    const cachedPort = await freePort();
    const conf = join(prefix, 'nginx.conf');
    writeFileSync(conf, nginxConf({ prefix, port, cachedPort, upstreamPort: crm.port, blobsDir: join(crm.dataDir, 'blobs'), staticDir }));
    nginx = spawnPinned('nginx', SERVER_CPU, bin, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { cwd: prefix });
    const origin = `http://127.0.0.1:${port}`;
    const cachedOrigin = `http://127.0.0.1:${cachedPort}`;
    for (let i = 0; i < 100; i++) {
      const ok = await getHash(`${origin}/static/p20k-0.png`).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (nginx.exitCode !== null) throw new Error(`nginx exited: ${nginx.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const nginxPids = () => [nginx.pid, ...childPids(nginx.pid)];
    const expected = ctx.sets.p1m.hashes[first.variant];
    for (const o of [origin, cachedOrigin]) {
      const viaNginx = await getHash(`${o}/crm/v8/Leads/${first.recordId}/photo`, AUTH);
      if (viaNginx.status !== 200 || viaNginx.sha256 !== expected) {
        return { markdown: `skipped: nginx (${o}) did not serve the redirected photo (status ${viaNginx.status}, ${viaNginx.size} bytes; X-Accel-Redirect was ${accel})` };
      }
    }
    const sample = (o, expectOf, headers) => async (cell, plan) => {
      const checks = await mapLimit(spread(plan.targets, 32), 8, async ([path, i]) => {
        const r = await getHash(`${o}${path}`, headers);
        return r.status === 200 && r.sha256 === expectOf(cell, i) ? { ok: true } : { ok: false, why: `${path} → ${r.status}` };
      });
      const bad = checks.filter((c) => !c.ok);
      return bad.length ? { ok: false, detail: `${checks.length - bad.length}/${checks.length} ok; ${bad[0].why}` } : { ok: true, detail: `${checks.length}/${checks.length} sampled bodies ok` };
    };
    const accelVia = (id, o) => ({
      id,
      origin: o,
      plan: (cell) => ({ method: 'GET', headers: AUTH, targets: crm.fixtures.get(fixtureOf(cell)).map((f) => `/crm/v8/Leads/${f.recordId}/photo`), partition: false }),
      verify: sample(o, (cell, i) => crm.expectedDownload(cell, i), AUTH),
      after: async () => {},
      mainPids: () => [crm.child.pid, ...nginxPids()],
      auxPids: () => [],
    });
    const staticSys = {
      id: 'nginx-static',
      origin,
      plan: (cell) => ({ method: 'GET', headers: {}, targets: [...Array(DOWNLOAD_FIXTURES[fixtureOf(cell)]).keys()].map((i) => `/static/${fixtureOf(cell)}-${i}.png`), partition: false }),
      verify: sample(origin, (cell, i) => ctx.sets[fixtureOf(cell)].hashes[i % 3], {}),
      after: async () => {},
      mainPids: nginxPids,
      auxPids: () => [],
    };
    const systems = [accelVia('nginx+crm-accel', origin), accelVia(CACHED_ID, cachedOrigin), staticSys];
    const records = [];
    for (let round = 1; round <= rounds; round++) {
      for (const sys of systems) {
        for (const cell of CELLS) {
          const r = await runCell(sys, cell, round);
          records.push(r);
          log(`  round ${round} ${sys.id} ${cell.id}: ${Math.round(r.reqPerSec)} req/s ${r.failed ? `FAILED ${r.failReasons.join('; ')}` : r.verify.detail}`);
        }
      }
    }
    const agg = aggregate(records, 'nginx-static');
    const rows = [];
    for (const cell of CELLS) {
      for (const id of ['nginx+crm-accel', CACHED_ID, 'nginx-static']) {
        const s = agg.get(`${id}|${cell.id}`);
        if (s) rows.push([cell.label, id, ...rowCells(s)]);
      }
      const direct = summary?.get(`crm-sqlite|${cell.id}`);
      if (direct) rows.push([cell.label, 'crm-sqlite (direct, main table)', ...rowCells({ ...direct, ratio: undefined })]);
    }
    const bound = [...agg.values()].filter((x) => !x.na && (x.loadgenCpu ?? 0) > 85).map((x) => `${x.cell} on ${x.system}`);
    const boundNote = bound.length ? `\n\nThe load generator used more than 85 % of its CPU in ${bound.join(', ')}: those figures are limited by the client, not by nginx.` : '';
    return {
      records,
      markdown: `${spawnSync(bin, ['-v']).stderr.toString().trim().replace('nginx version: ', '')} (1 worker) and crm-media both on the server CPU; CPU and RSS columns add up nginx (master + worker) and crm-media.\n\n${mdTable(
        ['cell', 'system', 'req/s median (min–max)', 'MiB/s', 'p50 ms', 'p99 ms', 'server CPU %', 'peak RSS MiB', 'load-gen / other CPU %', 'req/s ÷ nginx static (same round)', 'verified'],
        rows,
      )}${boundNote}`,
    };
  } catch (err) {
    return { markdown: `failed: ${err.message.split('\n')[0]}` };
  } finally {
    if (nginx) await stopChild(nginx, 5_000);
    await crm.shutdown();
  }
}
