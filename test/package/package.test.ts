/**
 * The packed package, installed from its tarball into a folder with no repository around it (test/helpers/packed.ts),
 * used as a new user would: its commands started from an empty folder, its programmatic API and type declarations
 * from a fresh project, and the README's embedding examples (examples/) run against it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify, stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { ROOT, type PackedInstall, packAndInstall } from '../helpers/packed.js';
import { http } from '../helpers/server.js';
import { freePort } from '../helpers/spawned-server.js';

const run = promisify(execFile);
const DEV_TOKEN = '1000.devcrmmedia0000000000000000000000.devcrmmedia0000000000000000000000';

let pkg: PackedInstall;
const scratch: string[] = [];

async function emptyFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'crm-media-user-'));
  scratch.push(dir);
  return dir;
}

/** Environment of a user's shell: none of this project's settings. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CRM_MEDIA_') && !k.startsWith('VITEST') && k !== 'PORT' && k !== 'DATABASE_URL') env[k] = v;
  return { ...env, ...extra };
}

interface Started {
  child: ChildProcess;
  out: () => string;
  url: string;
  stop(): Promise<number | null>;
}

async function startCommand(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = userEnv()): Promise<Started> {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let url: string | undefined;
  for (let i = 0; i < 600 && !url && child.exitCode === null; i++) {
    url = /is listening on (https?:\/\/[^\s"]+)/.exec(out)?.[1];
    if (!url) await sleep(50);
  }
  if (!url) {
    child.kill('SIGKILL');
    throw new Error(`${command} did not start:\n${out}`);
  }
  return {
    child,
    out: () => out,
    url,
    async stop() {
      child.kill('SIGTERM');
      const code = await Promise.race([exit, sleep(15_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        return null;
      }
      return code;
    },
  };
}

/** A record made through Zoho's Records API, a photo uploaded to it, and the photo read back byte for byte. */
async function roundTripPhoto(url: string, token: string): Promise<void> {
  const created = await http('POST', `${url}/crm/v8/Leads`, {
    token,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: [{ Last_Name: 'Boyle', Company: 'Zylker' }] }),
  });
  expect(created.status, created.text).toBe(201);
  const id = created.json.data[0].details.id as string;
  const image = png(32, 24);
  const { body, contentType } = filePart(image, 'img1.png', 'image/png');
  const up = await http('POST', `${url}/crm/v8/Leads/${id}/photo`, { token, headers: { 'content-type': contentType }, body });
  expect(up.json, up.text).toEqual({ code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' });
  const down = await http('GET', `${url}/crm/v8/Leads/${id}/photo`, { token });
  expect(down.status).toBe(200);
  expect(down.headers['content-type']).toBe('image/png');
  expect(down.body.equals(image)).toBe(true);
}

beforeAll(async () => {
  pkg = await packAndInstall();
}, 20 * 60_000);

afterAll(async () => {
  await pkg?.cleanup();
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the built runtime files, their type declarations, the built console and the pinned dependency tree — no sources, tests or maps', () => {
    expect(pkg.files).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'npm-shrinkwrap.json', 'dist/bundle/cli.js', 'dist/bundle/api.js', 'dist/api.d.ts', 'dist/console/index.html']),
    );
    // The code runs from the bundle only (bins and main export); the compiled tree is there for its declarations.
    expect(pkg.files.filter((f) => f.endsWith('.js') && !f.startsWith('dist/bundle/') && !f.startsWith('dist/console/'))).toEqual([]);
    const built = (f: string) => /^dist\/.+\.(js|d\.ts)$/.test(f) || /^dist\/console\/.+\.(html|js|css)$/.test(f);
    const strays = pkg.files.filter((f) => !built(f) && !['package.json', 'README.md', 'npm-shrinkwrap.json'].includes(f));
    expect(strays).toEqual([]);
  });

  it('installs its runtime dependencies only, with the native SQLite module built for this Node', async () => {
    const modules = await readdir(join(pkg.dir, 'node_modules'));
    expect(modules).toEqual(expect.arrayContaining(['crm-media-server', 'better-sqlite3', 'fastify']));
    for (const dev of ['vitest', 'typescript', 'tsx', 'azurite', '@zohocrm']) expect(modules).not.toContain(dev);
    const probe = await run(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:').prepare('select 1 as one').get().one === 1 || process.exit(1)"], {
      cwd: pkg.dir,
    });
    expect(probe.stderr).toBe('');
  });

  it('`crm-media-server serve --in-memory` from an empty folder: a photo round-trips with the published dev token; nothing is written there', async () => {
    // Both commands are the bundle, which must find the console and package.json from dist/bundle/.
    const bundle = join(pkg.dir, 'node_modules', 'crm-media-server', 'dist', 'bundle', 'cli.js');
    for (const name of ['crm-media-server', 'crm-media']) expect(await realpath(pkg.bin(name))).toBe(await realpath(bundle));
    const cwd = await emptyFolder();
    const srv = await startCommand(pkg.bin('crm-media-server'), ['serve', '--in-memory', '--port', String(await freePort()), '--log-format', 'json'], cwd);
    try {
      await roundTripPhoto(srv.url, DEV_TOKEN);
      // JSON lines only on stdout, each with an ISO time; the access log is on in dev mode and names no token.
      for (let i = 0; i < 100 && (srv.out().match(/"request":/g) ?? []).length < 3; i++) await sleep(50);
      const lines = srv.out().trim().split('\n');
      for (const line of lines) expect(JSON.parse(line).time).toMatch(/^\d{4}-\d\d-\d\dT/);
      const access = lines.map((l) => JSON.parse(l)).filter((r) => r.request);
      expect(access.map((r) => `${r.request.method} ${r.request.status}`)).toEqual(['POST 201', 'POST 200', 'GET 200']);
      expect(srv.out().split(DEV_TOKEN).length - 1).toBe(1); // in the ready record only, never in an access line
      // The web console comes in the package, built.
      const consolePage = await http('GET', `${srv.url}/_console/`);
      expect(consolePage.status).toBe(200);
      expect(consolePage.headers['content-type']).toMatch(/^text\/html/);
    } finally {
      expect(await srv.stop()).toBe(0);
    }
    expect(await readdir(cwd)).toEqual([]);
  });

  it('`crm-media start` with a data directory: says where the data is, and the printed token works', async () => {
    const cwd = await emptyFolder();
    const srv = await startCommand(pkg.bin('crm-media'), ['--data', join(cwd, 'store'), 'start', '--port', String(await freePort()), '--log-format', 'pretty'], cwd);
    try {
      expect(srv.out()).toContain(`data:  SQLite in ${join(cwd, 'store')}, files in ${join(cwd, 'store')}`);
      const token = /access token \(all scopes; shown once[^\n]*\n\s+(\S+)/.exec(srv.out())?.[1];
      expect(token).toMatch(/^1000\./);
      await roundTripPhoto(srv.url, token!);
    } finally {
      expect(await srv.stop()).toBe(0);
    }
    expect(await readdir(cwd)).toEqual(['store']);
  });

  it('`npx crm-media-server --version` in the installing project finds the command', async () => {
    const r = await run('npx', ['--offline', '--no-install', 'crm-media-server', '--version'], { cwd: pkg.dir, env: userEnv() });
    // The package's own version, read by the bundle from the package's folder.
    const { version } = JSON.parse(await readFile(join(pkg.dir, 'node_modules', 'crm-media-server', 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout.trim()).toBe(version);
  });
});

describe('the programmatic API, from a fresh project', () => {
  it('startCrmMedia: in memory, seeded; reset() and seed(doc) through the admin service; stop()', async () => {
    const project = join(pkg.dir, 'consumer-api');
    await mkdir(project, { recursive: true });
    await writeFile(
      join(project, 'check.mjs'),
      `import { startCrmMedia, DEV_ACCESS_TOKEN } from 'crm-media-server';
const seed = { orgs: [{ id: '111', name: 'Acme', users: [{ name: 'Pat', email: 'pat@acme.test', profile: 'Administrator' }] }] };
const srv = await startCrmMedia({ inMemory: true, seed });
const auth = { Authorization: 'Zoho-oauthtoken ' + srv.token };
const facts = { token: srv.token === DEV_ACCESS_TOKEN, org: srv.orgId, url: srv.url, main: import.meta.resolve('crm-media-server') };
const made = await fetch(srv.url + '/crm/v8/Leads', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ data: [{ Last_Name: 'Boyle' }] }) });
facts.created = made.status;
const id = (await made.json()).data[0].details.id;
const orgs = await fetch(srv.url + '/_admin/orgs', { headers: { 'X-Admin-Key': srv.adminKey } }).then((r) => r.json());
facts.orgs = orgs.orgs.map((o) => o.name);
const report = await srv.seed({ orgs: [{ name: 'Globex' }] });
facts.seeded = report.created;
await srv.reset();
const gone = await fetch(srv.url + '/crm/v8/Leads/' + id, { headers: auth });
facts.afterReset = [gone.status, (await gone.json()).code];
facts.orgsAfterReset = (await fetch(srv.url + '/_admin/orgs', { headers: { 'X-Admin-Key': srv.adminKey } }).then((r) => r.json())).orgs.map((o) => o.name);
facts.orgAfterReset = srv.orgId;
await srv.stop();
console.log(JSON.stringify(facts));
`,
    );
    const r = await run(process.execPath, ['check.mjs'], { cwd: project, env: userEnv() });
    const facts = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(facts).toMatchObject({
      token: true,
      org: '111',
      created: 201,
      orgs: ['Acme'],
      seeded: 1,
      afterReset: [400, 'INVALID_DATA'], // the record is gone; the token still works (no 401)
      orgsAfterReset: ['Acme'],
      orgAfterReset: '111',
    });
    expect(facts.main).toMatch(/\/node_modules\/crm-media-server\/dist\/bundle\/api\.js$/);
  });

  it('its type declarations check in a strict TypeScript project', async () => {
    const project = join(pkg.dir, 'consumer-ts');
    await mkdir(project, { recursive: true });
    await writeFile(
      join(project, 'index.ts'),
      `import { startCrmMedia, type CrmMedia, type CrmMediaOptions, type SeedDocument } from 'crm-media-server';
const seed: SeedDocument = { orgs: [{ name: 'Acme' }] };
const options: CrmMediaOptions = { port: 0, inMemory: true, memoryMaxBytes: 64 * 1024 * 1024, accessLog: true, seed };
const srv: CrmMedia = await startCrmMedia(options);
const url: string = srv.url;
const token: string = srv.token;
await srv.reset();
await srv.seed({ orgs: [{ name: 'Globex', users: [{ name: 'A', email: 'a@globex.test', profile: 'Administrator' }] }] });
await srv.stop();
// @ts-expect-error: not a setting
await startCrmMedia({ inMemry: true });
export { url, token };
`,
    );
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        files: ['index.ts'],
      }),
    );
    await writeFile(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    const tsc = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project }).catch((e: { stdout: string }) => e);
    expect(tsc.stdout).toBe('');
  }, 300_000); // tsc checks every declaration file of the dependencies too (skipLibCheck off)

  it('the README examples: a plain Node script, and a vitest global set-up', async () => {
    const project = join(pkg.dir, 'consumer-examples');
    await rm(project, { recursive: true, force: true });
    await cp(join(ROOT, 'examples'), project, { recursive: true });
    const script = await run(process.execPath, ['node-script.mjs'], { cwd: project, env: userEnv() });
    expect(script.stdout).toContain('upload: 200 {"code":"SUCCESS","details":{},"message":"photo uploaded successfully","status":"success"}');
    expect(script.stdout).toContain('download: 200 image/png same bytes');

    // vitest is this repository's, linked into the user's project as `npm i -D vitest` would place it.
    await mkdir(join(project, 'vitest', 'node_modules'));
    await symlink(join(ROOT, 'node_modules/vitest'), join(project, 'vitest', 'node_modules', 'vitest'), 'dir');
    const vitest = await run(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', join(project, 'vitest')], {
      cwd: join(project, 'vitest'),
      env: userEnv({ CI: 'true', NO_COLOR: '1' }),
    }).catch((e: { stdout: string; stderr: string }) => e);
    expect(stripVTControlCharacters(`${vitest.stdout}\n${vitest.stderr}`)).toMatch(/Tests\s+2 passed \(2\)/);
  });
});
