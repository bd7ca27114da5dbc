import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCrmPath } from '../../src/server/crm-path.js';

describe('parseCrmPath', () => {
  it.each([
    ['/crm/v8/Leads/123/photo', { kind: 'photo', version: 'v8', module: 'Leads', recordId: '123' }],
    ['/crm/v2.1/leads/1/PHOTO', { kind: 'photo', version: 'v2.1', module: 'leads', recordId: '1' }],
    ['/crm/v7/Leads/1/Attachments', { kind: 'attachments', version: 'v7', module: 'Leads', recordId: '1' }],
    ['/crm/v7/Leads/1/attachments/2', { kind: 'attachment', version: 'v7', module: 'Leads', recordId: '1', attachmentId: '2' }],
    ['/crm/v3/Deals', { kind: 'records', version: 'v3', module: 'Deals' }],
    ['/crm/v3/Deals/9', { kind: 'record', version: 'v3', module: 'Deals', recordId: '9' }],
    ['/crm/v8/Leads/1/photo/', { kind: 'photo', version: 'v8', module: 'Leads', recordId: '1' }],
    ['/crm/v8/Price%5FBooks/1/photo', { kind: 'photo', version: 'v8', module: 'Price_Books', recordId: '1' }],
    ['/crm/v8/users', { kind: 'users', version: 'v8' }],
    ['/crm/v7/org', { kind: 'org', version: 'v7' }],
    ['/crm/v8/settings/modules', { kind: 'settings-modules', version: 'v8' }],
    ['/crm/v8/settings/fields', { kind: 'settings-fields', version: 'v8' }],
  ])('%s', (path, expected) => {
    expect(parseCrmPath(path)).toEqual(expected);
  });

  it.each([
    '/crm/',
    '/crm/v8',
    '/crm/v9/Leads/1/photo',
    '/crm/v1/Leads/1/photo',
    '/crm/V8x/Leads',
    '/crm/v8/Leads/1/photos',
    '/crm/v8/Leads/1/photo/2',
    '/crm/v8/Leads/1/Attachments/2/3',
    '/crm/v8//1/photo',
    '/crm/v8/Le%ZZads/1/photo',
    '/crm/v8/Le%2Fads/1/photo',
    '/other/v8/Leads',
    '/crm/v8/users/1',
    '/crm/v8/settings',
    '/crm/v8/settings/layouts',
    '/crm/v8/settings/modules/Leads',
    `/crm/v8/${'x'.repeat(201)}`,
  ])('%s names no resource', (path) => {
    expect(parseCrmPath(path)).toBeUndefined();
  });

  it('property: any path parses or is refused, never throws; what parses round-trips', () => {
    const segment = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/'));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 7 }), fc.constantFrom('', '/'), (segments, trail) => {
        const path = `/crm/${segments.map(encodeURIComponent).join('/')}${trail}`;
        const r = parseCrmPath(path);
        if (r === undefined || !('module' in r)) return;
        expect(r.module).toBe(segments[1]);
        if ('recordId' in r) expect(r.recordId).toBe(segments[2]);
      }),
    );
  });

  it('property: raw arbitrary strings never throw', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void parseCrmPath(`/crm/${s}`)));
  });
});
