/**
 * The direction of dependencies (docs/architecture.md, "Dependencies point inwards"), read from the sources: the
 * domain knows neither HTTP nor SQL nor the adapters, and storage implements the domain's ports knowing nothing of
 * the domain beyond them and the entities. A move that breaks the rule fails here, naming the import.
 */
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

async function sources(dir: string): Promise<string[]> {
  // .ts and .tsx: the console's sources are checked for package internals too.
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (/\.tsx?$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** Every module a file imports (static and dynamic): relative ones as `src:` and their path under src/, packages by name. */
async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => (m[1] ?? m[2])!);
  return specifiers.map((s) => (s.startsWith('.') ? `src:${relative(SRC, resolve(dirname(file), s)).replace(/\.js$/, '.ts')}` : s));
}

async function violations(under: string, allowed: (target: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  for (const file of await sources(join(SRC, under))) {
    for (const target of await importsOf(file)) if (!allowed(target)) found.push(`${relative(SRC, file)} imports ${target}`);
  }
  return found;
}

const isPackage = (t: string) => !t.startsWith('src:');

describe('layering', () => {
  it('the domain imports no web framework, no SQL builder, no adapter', async () => {
    const banned = /^(fastify|@fastify\/|kysely|better-sqlite3|pg$|@aws-sdk\/|undici)/;
    const adapters = /^src:((server|storage|admin|cli|webhooks)\/|(runtime|config|api|cli|startup-check)\.ts$)/;
    expect(await violations('domain', (t) => !banned.test(t) && !adapters.test(t))).toEqual([]);
  });

  it('storage imports of the domain only its ports and entities, and no other layer', async () => {
    const allowed = (t: string) => isPackage(t) || t.startsWith('src:storage/') || t.startsWith('src:domain/ports/') || t === 'src:domain/entities.ts';
    expect(await violations('storage', allowed)).toEqual([]);
  });

  it('the ports depend on nothing but other ports and the entities', async () => {
    const allowed = (t: string) => isPackage(t) || t.startsWith('src:domain/ports/') || t === 'src:domain/entities.ts';
    expect(await violations('domain/ports', allowed)).toEqual([]);
  });

  it("no file imports another package's internals: a subpath is one the package exports", async () => {
    const deep: string[] = [];
    for (const under of ['src', 'console/src']) {
      for (const file of await sources(resolve(SRC, '..', under))) {
        for (const target of await importsOf(file)) {
          if (!isPackage(target) || target.startsWith('node:')) continue;
          const parts = target.split('/');
          const name = target.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
          const subpath = target.slice(name.length);
          if (!subpath) continue;
          const manifest = JSON.parse(await readFile(resolve(SRC, '../node_modules', name, 'package.json'), 'utf8')) as { exports?: unknown };
          const exported = typeof manifest.exports === 'object' && manifest.exports !== null && `.${subpath}` in manifest.exports;
          if (!exported) deep.push(`${relative(resolve(SRC, '..'), file)} imports ${target}`);
        }
      }
    }
    expect(deep).toEqual([]);
  });
});
