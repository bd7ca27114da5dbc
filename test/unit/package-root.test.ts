/**
 * The package's folder, found from a module at any depth (src/, dist/, the bundle's dist/bundle/, an installed copy),
 * and not confused by another package's package.json on the way up.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPackageRoot, packageRoot } from '../../src/package-root.js';

const ROOT = resolve(import.meta.dirname, '../..');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-media-root-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('package root', () => {
  it('is this checkout from the sources, with its package.json version', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(packageRoot()).toEqual({ dir: ROOT, version });
  });

  it('is the nearest folder whose package.json names this package, past other packages’ manifests', async () => {
    const installed = join(dir, 'app', 'node_modules', 'crm-media-server');
    await mkdir(join(installed, 'dist', 'bundle'), { recursive: true });
    await writeFile(join(dir, 'app', 'package.json'), JSON.stringify({ name: 'someone-elses-app', version: '9.9.9' }));
    await writeFile(join(installed, 'package.json'), JSON.stringify({ name: 'crm-media-server', version: '1.2.3' }));
    // A stray, unparsable package.json between the module and the package's folder is passed over.
    await writeFile(join(installed, 'dist', 'package.json'), '{ not json');
    expect(findPackageRoot(join(installed, 'dist', 'bundle', 'chunk-X.js'))).toEqual({ dir: installed, version: '1.2.3' });
    expect(findPackageRoot(join(installed, 'dist', 'server', 'routes', 'console.js'))).toEqual({ dir: installed, version: '1.2.3' });
  });

  it('is undefined outside the package (its code bundled into another application)', async () => {
    await mkdir(join(dir, 'other', 'dist'), { recursive: true });
    await writeFile(join(dir, 'other', 'package.json'), JSON.stringify({ name: 'someone-elses-app', version: '1.0.0' }));
    expect(findPackageRoot(join(dir, 'other', 'dist', 'server.js'))).toBeUndefined();
  });
});
