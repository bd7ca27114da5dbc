/**
 * The well-known development credentials (`--dev`, implied by `--in-memory`), like Azurite's `devstoreaccount1`
 * key: published, fixed, the same on every machine, so a test suite or a CI file can name them without reading the
 * server's output. Never used unless asked for, and refused on a non-loopback address unless that is confirmed.
 */

/** The access token, with every scope, for the administrator of the default org. */
export const DEV_ACCESS_TOKEN = '1000.devcrmmedia0000000000000000000000.devcrmmedia0000000000000000000000';

/** The admin API key (`X-Admin-Key`). */
export const DEV_ADMIN_KEY = 'crm-media-dev-admin-key-not-a-secret';

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\]|localhost)$/i;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host);
}
