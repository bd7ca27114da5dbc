/**
 * How a failed command is reported: one line for every mistake of configuration, of the command line or of the
 * environment (a backend that cannot be reached, a data directory in use, a bad seed document), never a stack
 * trace; a stack only for what can only be a defect. Every line is scrubbed of secrets.
 */
import { BackupError } from '../admin/backup.js';
import { MigrationError } from '../admin/migrate-store.js';
import { SeedError } from '../admin/seed.js';
import { ConfigError } from '../config.js';
import { type ZohoError, isZohoError } from '../domain/errors.js';
import { redactSecrets } from '../logging/redact.js';
import { DataDirInUseError } from '../storage/data-dir-lock.js';
import { ListenError } from '../server/start.js';
import { BackendUnavailableError } from '../startup-check.js';
import { CliError } from './shared.js';

/** Errors whose message is the whole story. */
const ONE_LINE: readonly (abstract new (...args: never[]) => Error)[] = [
  ConfigError,
  CliError,
  SeedError,
  MigrationError,
  SyntaxError,
  DataDirInUseError,
  BackendUnavailableError,
  BackupError,
  ListenError,
];

/** The Zoho body of an admin error; "no such entity" names the entity and the key it looked for. */
function errorBody(err: ZohoError): object {
  const body = err.toBody();
  const { entity, key } = body.details as { entity?: unknown; key?: unknown };
  if (err.entry === 'ADMIN_NOT_FOUND' && typeof entity === 'string') return { ...body, message: `no such ${entity}: ${String(key)}` };
  return body;
}

export function cliErrorText(err: unknown): string {
  if (isZohoError(err)) return redactSecrets(JSON.stringify(errorBody(err)));
  if (!(err instanceof Error)) return `crm-media: ${redactSecrets(String(err))}`;
  // System and driver errors carry a code (ENOSPC, EACCES, 23505, …): their message says what happened.
  if (ONE_LINE.some((c) => err instanceof c) || typeof (err as { code?: unknown }).code === 'string') {
    return `crm-media: ${redactSecrets(err.message.split('\n').join('\n  '))}`;
  }
  return `crm-media: ${redactSecrets(err.stack ?? err.message)}`;
}
