/**
 * What a fault rule may name: operations, reset points, catalog errors. Apart from faults.ts because it needs nothing
 * of Node, so the web console builds its forms from the same lists the server checks rules against.
 */
import { ERROR_CATALOG, type ErrorName } from './errors.js';
import { OPERATIONS } from './operations.js';

/** Operations a rule may name besides the `/crm/` ones: the token endpoint's two. */
export const TOKEN_OPERATIONS = ['token', 'token.revoke'] as const;
const SIDE_CALLS = ['users.get', 'org.get', 'settings.modules', 'settings.fields'];
export const FAULT_OPERATIONS: readonly string[] = [...Object.keys(OPERATIONS), ...SIDE_CALLS, ...TOKEN_OPERATIONS];

export const RESET_POINTS = ['before_headers', 'after_headers'] as const;
export type ResetPoint = (typeof RESET_POINTS)[number];

/** Catalog errors a rule may answer with (the admin API's own errors are not Zoho's). */
export function faultErrorNames(): ErrorName[] {
  return (Object.keys(ERROR_CATALOG) as ErrorName[]).filter((n) => !n.startsWith('ADMIN_'));
}
