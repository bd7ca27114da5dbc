// `npm pack` (prepack): writes npm-shrinkwrap.json from package-lock.json without the development-only packages, so
// that an install of the tarball — global, into a project, or offline from npm's cache — gets exactly the dependency
// tree the test suite ran on. `postpack` removes it again (`--remove`): the repository keeps package-lock.json.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

if (process.argv.includes('--remove')) {
  rmSync('npm-shrinkwrap.json', { force: true });
} else {
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
  const packages = {};
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '') {
      const { devDependencies: _dev, ...root } = entry;
      packages[path] = root;
    } else if (!entry.dev) {
      packages[path] = entry;
    }
  }
  writeFileSync('npm-shrinkwrap.json', `${JSON.stringify({ ...lock, packages }, null, 2)}\n`);
}
