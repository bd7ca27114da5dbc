/**
 * The README's samples, run as written: the shell blocks of "Try Zoho's samples against it" in bash with curl
 * against an in-memory server (BASE is the one thing the blocks take from outside, as they say), and the seed
 * document of "Administration and seeding". Each complete JSON answer the README shows in a comment must be what the
 * server answered.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrmMedia, startCrmMedia } from '../../src/api.js';
import { backendName } from '../helpers/backend.js';
import { png } from '../helpers/images.js';
import { ROOT } from '../helpers/packed.js';

const run = promisify(execFile);

/** The bodies of the fenced blocks of `lang` in the section under `heading` (up to the next `## `). */
function blocks(readme: string, heading: string, lang: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, heading).toBeGreaterThan(-1);
  const next = readme.indexOf('\n## ', start + heading.length + 2);
  const section = readme.slice(start, next === -1 ? undefined : next);
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

describe.skipIf(backendName() !== 'sqlite-disk')('README samples, as written', () => {
  let srv: CrmMedia;
  let readme: string;
  let cwd: string;

  beforeAll(async () => {
    readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    srv = await startCrmMedia({ inMemory: true });
    cwd = await mkdtemp(join(tmpdir(), 'crm-media-readme-'));
  });

  afterAll(async () => {
    await srv?.stop();
    await rm(cwd, { recursive: true, force: true });
  });

  it("Try Zoho's samples: the record, photo and attachment blocks run in order with the development token", async () => {
    const image = png(40, 30);
    await writeFile(join(cwd, 'img1.png'), image);
    await writeFile(join(cwd, 'attachment1.txt'), 'an attachment\n');
    const script = blocks(readme, "## Try Zoho's samples against it", 'sh');
    expect(script.length).toBe(2);
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], BASE: srv.url };
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script.join('\n')], { cwd, env, timeout: 60_000 });

    expect(stdout).toMatch(/^record \d{1,19}$/m);
    expect(stdout).not.toContain('"status":"error"');
    expect(await readFile(join(cwd, 'photo.png'))).toEqual(image);
    // Every complete answer shown in a comment is what came back.
    const shown = script.join('\n').split('\n').filter((l) => /^# \{.*\}$/.test(l) && !l.includes('…')).map((l) => l.slice(2));
    expect(shown.length).toBeGreaterThanOrEqual(2);
    for (const answer of shown) expect(stdout).toContain(answer);
    // The attachment deleted by id was the file's: its answer names that id.
    expect(stdout).toMatch(/\{"data":\[\{"code":"SUCCESS","details":\{"id":"\d+"\},"message":"record deleted","status":"success"\}\]\}/);
  });

  it('the seed document of "Administration and seeding" applies, and re-applying it creates nothing', async () => {
    const [json] = blocks(readme, '## Administration and seeding', 'json');
    const doc = JSON.parse(json!);
    expect((await srv.seed(doc)).created).toBeGreaterThan(0);
    expect((await srv.seed(doc)).created).toBe(0);
  });
});
