/**
 * The package's own folder (where its package.json is), for the files it reads at run time: package.json itself
 * and the built console (dist/console/). The same code runs from three depths — src/ under tsx, the compiled tree
 * in dist/, and the esbuild bundle in dist/bundle/ whose chunks hold every module — so a path counted in `../` from
 * `import.meta.url` is right in at most two of them. Walking up to the first package.json with this package's name
 * is right in all three, and in an installed copy under node_modules.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NAME = 'crm-media-server';

export interface PackageRoot {
  dir: string;
  version: string;
}

/** Reads `<dir>/package.json` if it is this package's; anything unreadable or foreign is not. */
function ownManifest(dir: string): { version: string } | undefined {
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof manifest !== 'object' || manifest === null) return undefined;
  const { name, version } = manifest as { name?: unknown; version?: unknown };
  return name === NAME && typeof version === 'string' ? { version } : undefined;
}

/** The nearest folder at or above `file`'s own that holds this package's package.json. */
export function findPackageRoot(file: string): PackageRoot | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = ownManifest(dir);
    if (manifest) return { dir, version: manifest.version };
    if (dirname(dir) === dir) return undefined;
  }
}

let cached: { root: PackageRoot | undefined } | undefined;

/**
 * The package's folder and version, looked up once; undefined when this code runs outside the package (bundled
 * into someone else's application): the callers then do without the console or report an unknown version rather
 * than fail to start.
 */
export function packageRoot(): PackageRoot | undefined {
  cached ??= { root: findPackageRoot(fileURLToPath(import.meta.url)) };
  return cached.root;
}
