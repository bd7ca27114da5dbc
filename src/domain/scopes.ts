/**
 * OAuth scopes as Zoho writes them: `ZohoCRM.modules.ALL`, `ZohoCRM.modules.{module}.{op}`,
 * `ZohoCRM.settings.ALL`, `ZohoCRM.users.READ`, ... Matching is case-insensitive (the docs spell module names in
 * lower case, the SDKs and users do not).
 */

export const SCOPE_OPERATIONS = ['ALL', 'READ', 'CREATE', 'WRITE', 'UPDATE', 'DELETE'] as const;
export type ScopeOperation = (typeof SCOPE_OPERATIONS)[number];

/** A parsed scope list: a set of `group|resource|OP` keys, resource `*` when the scope names none. */
export class ScopeSet {
  private readonly keys: ReadonlySet<string>;

  private constructor(keys: Set<string>, readonly source: readonly string[]) {
    this.keys = keys;
  }

  /** Parses a comma- or space-separated scope list. Unknown scopes are kept in `source` and ignored for matching. */
  static parse(list: string): ScopeSet {
    const source = list
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const keys = new Set<string>();
    for (const scope of source) {
      const key = scopeKey(scope);
      if (key) keys.add(key);
    }
    return new ScopeSet(keys, source);
  }

  /** `ZohoCRM.{group}.{resource}.{op}` or `ZohoCRM.{group}.{op}` (resource `*`), with ALL granting every op. */
  grants(group: string, resource: string, op: ScopeOperation): boolean {
    const g = group.toLowerCase();
    const r = resource.toLowerCase();
    return (
      this.keys.has(`${g}|*|ALL`) ||
      this.keys.has(`${g}|${r}|ALL`) ||
      (op !== 'ALL' && (this.keys.has(`${g}|${r}|${op}`) || this.keys.has(`${g}|*|${op}`)))
    );
  }

  /** True when any of `resources` in `group` is granted one of `ops`. */
  grantsAny(group: string, resources: readonly string[], ops: readonly ScopeOperation[]): boolean {
    for (const r of resources) {
      if (this.grants(group, r, 'ALL')) return true;
      for (const op of ops) if (this.grants(group, r, op)) return true;
    }
    return false;
  }

  toString(): string {
    return this.source.join(',');
  }
}

function scopeKey(scope: string): string | undefined {
  const parts = scope.split('.');
  if (parts.length < 3 || parts.length > 4) return undefined;
  if (parts[0]!.toLowerCase() !== 'zohocrm') return undefined;
  const group = parts[1]!.toLowerCase();
  const op = parts[parts.length - 1]!.toUpperCase();
  if (!(SCOPE_OPERATIONS as readonly string[]).includes(op)) return undefined;
  if (parts.length === 3) {
    // `ZohoCRM.users.READ`, `ZohoCRM.org.ALL`, `ZohoCRM.modules.ALL`: the whole group. Zoho defines no
    // `ZohoCRM.modules.{op}` other than ALL, so such a scope grants nothing.
    if (group === 'modules' && op !== 'ALL') return undefined;
    return `${group}|*|${op}`;
  }
  const resource = parts[2]!.toLowerCase();
  if (resource.length === 0) return undefined;
  return `${group}|${resource}|${op}`;
}

/** True when the string is a well-formed scope list (used to validate admin input). */
export function isValidScopeList(list: string): boolean {
  const parts = list.split(/[\s,]+/).filter((s) => s.length > 0);
  return parts.length > 0 && parts.every((s) => scopeKey(s) !== undefined);
}
