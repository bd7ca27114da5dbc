/**
 * docs/deployment.md prints the nginx site that the bench and test/integration/nginx-accel.test.ts run; this keeps
 * the printed copy identical to bench/lib/nginx-conf.mjs, so what users copy is what was tested.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DOCUMENTED_SITE } from '../../bench/lib/nginx-conf.mjs';

describe('docs/deployment.md, "Behind nginx"', () => {
  it('prints the configuration that the tests and the bench run', () => {
    const doc = readFileSync(new URL('../../docs/deployment.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Behind nginx'));
    const block = /```nginx\n# inside http \{ \}\n([\s\S]*?)\n```/.exec(section)?.[1];
    expect(block, 'an nginx block in the section').toBeDefined();
    expect(block).toBe(DOCUMENTED_SITE);
  });
});
