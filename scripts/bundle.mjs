// `npm run build` (after tsc): bundles the compiled CLI and programmatic API, with their dependencies, into
// dist/bundle/ — what the package's bins and main export run. Node 20's ESM loader spends most of a start resolving
// and reading several hundred module files (fastify, zod, kysely, prom-client, pino); a few large files load in
// about half the time (docs/architecture.md, "The bundle"; docs/performance.md, "Start-up and idle memory").
//
// The two entries share chunks (`splitting`), so the code is in the package once, and the modules runtime.ts
// imports only for a configured backend (SQLite, PostgreSQL, S3) stay chunks of their own, loaded on demand as
// before. Unminified: a stack trace from the bundle still reads as the code it came from.
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const OUT = 'dist/bundle';

/**
 * Left to Node's resolver at run time, from the installed dependencies:
 * - better-sqlite3: a native addon, found through its own `bindings` lookup of build/Release/*.node;
 * - pg-native: an optional native driver pg tries only on request, not a dependency of this package;
 * - the AWS SDK: large, loaded only with an S3 store (runtime.ts), and a dependency installed either way.
 * pino's transport workers and thread-stream are loaded by file path, but only for `transport` options, which
 * src/server/start.ts never passes (it writes log lines on the main thread).
 */
const EXTERNAL = ['better-sqlite3', 'pg-native', '@aws-sdk/*'];

rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: { cli: 'dist/cli.js', api: 'dist/api.js' },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // The CommonJS dependencies (fastify, pino, pg, …) call require() for Node's built-in modules; an ES module has
  // no `require`, so every chunk gets one of its own, resolving from the chunk's location.
  banner: { js: "import { createRequire as __crmMediaCreateRequire } from 'node:module'; const require = __crmMediaCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});

// esbuild keeps dist/cli.js's `#!/usr/bin/env -S node <flags>` line; the bin must also be executable when run from
// the checkout (npm sets the mode of an installed package's bins itself).
const cli = `${OUT}/cli.js`;
if (!readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env -S node ')) throw new Error(`${cli} lost its shebang`);
chmodSync(cli, 0o755);
