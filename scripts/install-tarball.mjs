// Installs a crm-media-server tarball (from `npm pack`) into a folder of its own, with exactly the dependency tree
// of the npm-shrinkwrap.json it carries:
//
//   node scripts/install-tarball.mjs crm-media-server-0.1.0.tgz /opt/crm-media [--offline]
//
// then /opt/crm-media/node_modules/.bin/crm-media is the server. The test suite (test/package) and the Dockerfile
// install the package this way. Why not `npm install ./x.tgz`: npm builds the tree of a local tarball from registry
// metadata and ignores its shrinkwrap (it honours one only for packages from the registry), so the versions would be
// whatever is newest, and an offline install could not resolve at all. Given the lockfile npm would write for this
// install — the tarball as the one dependency and, hoisted beside it, the shrinkwrap's tree — `npm ci` installs those
// exact versions (from npm's cache with --offline) and runs their install scripts (better-sqlite3's native build).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const [tarballArg, dirArg, ...flags] = process.argv.slice(2);
if (!tarballArg || !dirArg) {
  process.stderr.write('usage: node scripts/install-tarball.mjs <crm-media-server-x.y.z.tgz> <folder> [--offline]\n');
  process.exit(2);
}
const tarball = resolve(tarballArg);
const dir = resolve(dirArg);
const entry = (path) => JSON.parse(execFileSync('tar', ['-xzf', tarball, `package/${path}`, '-O'], { maxBuffer: 64 * 1024 * 1024 }).toString());

const pkg = entry('package.json');
const { '': _root, ...tree } = entry('npm-shrinkwrap.json').packages;
mkdirSync(dir, { recursive: true });
copyFileSync(tarball, join(dir, 'crm-media-server.tgz'));
const dependencies = { 'crm-media-server': 'file:crm-media-server.tgz' };
const manifest = { name: 'crm-media-install', private: true, dependencies, allowScripts: { 'better-sqlite3': true } };
const lock = {
  name: 'crm-media-install',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'crm-media-install', dependencies },
    'node_modules/crm-media-server': {
      version: pkg.version,
      resolved: 'file:crm-media-server.tgz',
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
    ...tree,
  },
};
writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', ...flags], { cwd: dir, stdio: 'inherit' });
