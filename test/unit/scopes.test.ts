import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScopeSet, isValidScopeList } from '../../src/domain/scopes.js';

describe('ScopeSet', () => {
  it.each([
    ['ZohoCRM.modules.ALL', 'leads', 'READ', true],
    ['ZohoCRM.modules.ALL', 'attachments', 'DELETE', true],
    ['ZohoCRM.modules.leads.ALL', 'leads', 'DELETE', true],
    ['ZohoCRM.modules.leads.READ', 'leads', 'READ', true],
    ['ZohoCRM.modules.leads.READ', 'leads', 'CREATE', false],
    ['ZohoCRM.modules.leads.READ', 'contacts', 'READ', false],
    ['zohocrm.MODULES.Leads.read', 'LEADS', 'READ', true],
    ['ZohoCRM.modules.READ', 'leads', 'READ', false],
    ['ZohoCRM.settings.ALL', 'leads', 'READ', false],
    ['ZohoCRM.modules.leads.ALL, ZohoCRM.modules.attachments.CREATE', 'attachments', 'CREATE', true],
    ['ZohoCRM.modules.leads.ALL ZohoCRM.modules.attachments.CREATE', 'attachments', 'CREATE', true],
    ['', 'leads', 'READ', false],
    ['garbage,,, ,', 'leads', 'READ', false],
  ] as const)('%s grants modules.%s.%s = %s', (list, resource, op, expected) => {
    expect(ScopeSet.parse(list).grants('modules', resource, op)).toBe(expected);
  });

  it.each([
    ['ZohoCRM.users.READ', 'users', '*', 'READ', true],
    ['ZohoCRM.users.READ', 'users', '*', 'CREATE', false],
    ['ZohoCRM.users.ALL', 'users', '*', 'READ', true],
    ['ZohoCRM.org.READ', 'org', '*', 'READ', true],
    ['ZohoCRM.settings.ALL', 'settings', 'modules', 'READ', true],
    ['ZohoCRM.settings.modules.READ', 'settings', 'modules', 'READ', true],
    ['ZohoCRM.settings.modules.READ', 'settings', 'fields', 'READ', false],
    ['ZohoCRM.modules.ALL', 'settings', 'modules', 'READ', false],
  ] as const)('%s grants %s.%s.%s = %s', (list, group, resource, op, expected) => {
    expect(ScopeSet.parse(list).grants(group, resource, op)).toBe(expected);
  });

  it('validates scope lists', () => {
    expect(isValidScopeList('ZohoCRM.modules.ALL,ZohoCRM.modules.leads.READ')).toBe(true);
    expect(isValidScopeList('ZohoCRM.modules.leads.FLY')).toBe(false);
    expect(isValidScopeList('')).toBe(false);
    expect(isValidScopeList('Other.modules.ALL')).toBe(false);
  });

  const op = fc.constantFrom('ALL', 'READ', 'CREATE', 'WRITE', 'UPDATE', 'DELETE');
  const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,12}$/);

  it('property: a parsed scope grants exactly its resource and operation (ALL grants every operation)', () => {
    fc.assert(
      fc.property(name, op, name, op, (r1, o1, r2, o2) => {
        const set = ScopeSet.parse(`ZohoCRM.modules.${r1}.${o1}`);
        const expected = r1 === r2 && (o1 === 'ALL' || o1 === o2);
        expect(set.grants('modules', r2, o2)).toBe(expected);
      }),
    );
  });

  it('property: case and separators never change the meaning', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(name, op), { minLength: 1, maxLength: 5 }), name, op, fc.constantFrom(',', ' ', ', ', ' ,\t'), (scopes, r, o, sep) => {
        const canonical = ScopeSet.parse(scopes.map(([n, p]) => `ZohoCRM.modules.${n}.${p}`).join(','));
        const shouted = ScopeSet.parse(scopes.map(([n, p]) => `ZOHOCRM.Modules.${n.toUpperCase()}.${p.toLowerCase()}`).join(sep));
        expect(shouted.grants('modules', r, o)).toBe(canonical.grants('modules', r, o));
      }),
    );
  });

  it('property: parsing arbitrary text never throws and grants nothing that is not a scope', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const set = ScopeSet.parse(s);
        if (!/zohocrm\./i.test(s)) expect(set.grants('modules', 'leads', 'READ')).toBe(false);
      }),
    );
  });
});
