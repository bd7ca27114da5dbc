/**
 * The Zoho error catalog. Every code the server can answer with is defined here once: its HTTP status and its
 * message. Where Zoho's documentation gives a different message for the same code on different endpoints, the
 * message is looked up by operation; everything else is fixed text. Routes and services never build an error body
 * by hand: they throw `zohoError(name, ...)` and the HTTP adapter renders it.
 *
 * Texts follow the v7 documentation pages and observed API bodies (docs/zoho-api.md §3, §4); the choices made where
 * the documentation is silent or inconsistent are listed in docs/compatibility.md.
 */
import type { OperationName } from './operations.js';

export type ErrorDetails = Record<string, unknown>;

type MessageByOperation = Partial<Record<OperationName, string>> & { default: string };

interface CatalogEntry {
  /** The `code` field of the body. Several entries may share a code (e.g. INVALID_MODULE has two variants). */
  code: string;
  status: number;
  message: string | MessageByOperation;
}

function entry(code: string, status: number, message: string | MessageByOperation): CatalogEntry {
  return { code, status, message };
}

export const ERROR_CATALOG = {
  AUTHENTICATION_FAILURE: entry('AUTHENTICATION_FAILURE', 401, 'Authentication failed'),
  INVALID_TOKEN: entry('INVALID_TOKEN', 401, 'invalid oauth token'),
  OAUTH_SCOPE_MISMATCH: entry('OAUTH_SCOPE_MISMATCH', 401, 'invalid oauth scope to access this URL'),

  INVALID_URL_PATTERN: entry('INVALID_URL_PATTERN', 404, 'Please check if the URL trying to access is a correct one'),
  INVALID_REQUEST_METHOD: entry('INVALID_REQUEST_METHOD', 400, 'The http request method type is not a valid one'),
  INVALID_MODULE: entry('INVALID_MODULE', 400, 'the module name given seems to be invalid'),
  MODULE_NOT_SUPPORTED: entry('INVALID_MODULE', 400, 'The given module is not supported in API'),

  NO_PERMISSION: entry('NO_PERMISSION', 403, {
    'photo.download': 'Permission denied to download images',
    'photo.upload': 'Permission denied to upload photo',
    'photo.delete': 'Permission denied to delete images',
    'attachment.upload': 'Permission denied to upload attachment',
    'attachment.delete': 'Permission denied to delete attachment',
    'attachment.bulkDelete': 'Permission denied to delete attachment',
    'attachment.list': 'Permission denied to read attachments',
    'attachment.download': 'Permission denied to download attachment',
    default: 'permission denied',
  }),
  AUTHORIZATION_FAILED: entry('AUTHORIZATION_FAILED', 400, {
    'photo.download': 'User does not have sufficient privilege to download images',
    'photo.upload': 'User does not have sufficient privilege to upload photo',
    'photo.delete': 'User does not have sufficient privilege to delete images',
    'attachment.upload': 'User does not have sufficient privilege to upload attachments',
    'attachment.delete': 'User does not have sufficient privilege to delete attachments',
    'attachment.bulkDelete': 'User does not have sufficient privilege to delete attachments',
    'attachment.list': 'User does not have sufficient privilege to read attachments',
    'attachment.download': 'User does not have sufficient privilege to download attachments',
    default: 'User does not have sufficient privilege to perform this operation',
  }),
  RECORD_LOCKED: entry('RECORD_LOCKED', 400, {
    'photo.download': 'cannot get the record image that is not approved yet',
    default: 'You cannot perform this operation as the record is locked.',
  }),
  RECORD_UNDER_MERGE: entry('RECORD_LOCKED', 400, {
    'photo.download': 'cannot get the record image that is not approved yet',
    default: 'The record under merge is locked',
  }),
  NOT_APPROVED: entry('NOT_APPROVED', 400, {
    'photo.download': 'cannot get the record image that is not approved yet',
    default: 'Cannot update record that is not approved yet',
  }),

  /** Unknown or malformed record id in the URL (attachment endpoints and records). */
  INVALID_RELATED_ID: entry('INVALID_DATA', 400, {
    'photo.upload': 'the related id given seems to be invalid',
    'photo.download': 'the id given seems to be invalid',
    'photo.delete': 'the id given seems to be invalid',
    default: 'the related id given seems to be invalid',
  }),
  /** Unknown or malformed id of the entity itself (attachment id, record id on the Records API). */
  INVALID_ID: entry('INVALID_DATA', 400, 'the id given seems to be invalid'),
  NO_SUCH_PHOTO: entry('INVALID_DATA', 400, 'No such photo exists'),
  NO_FILE: entry('INVALID_DATA', 400, 'The request does not contain any file'),
  MORE_THAN_ONE_FILE: entry('INVALID_DATA', 400, 'The request contains more than one file'),
  INVALID_IMAGE: entry('INVALID_DATA', 400, 'The image format is invalid.'),
  EMPTY_FILE: entry('INVALID_DATA', 400, 'The file is empty'),
  FILE_AND_LINK: entry('INVALID_DATA', 400, 'Either a file or an attachment link can be added in a request, not both'),
  INVALID_DATA: entry('INVALID_DATA', 400, 'invalid data'),
  INVALID_REQUEST: entry('INVALID_REQUEST', 400, 'invalid request'),
  REQUIRED_PARAM_MISSING: entry('REQUIRED_PARAM_MISSING', 400, 'One of the expected parameter is missing'),
  MANDATORY_NOT_FOUND: entry('MANDATORY_NOT_FOUND', 400, 'required field not found'),
  LIMIT_EXCEEDED: entry('LIMIT_EXCEEDED', 400, 'the number of ids exceeds the limit'),
  DUPLICATE_DATA: entry('DUPLICATE_DATA', 400, 'duplicate data'),
  FILE_SIZE_MORE_THAN_ALLOWED_SIZE: entry(
    'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
    415,
    'please check if the file size is in the correct range',
  ),
  /** The in-memory store's byte cap (`--memory-max`): Zoho's code for an org out of storage (as the quota), its own text. */
  MEMORY_STORE_FULL: entry('STORAGE_SPACE_EXCEEDED', 400, 'storage space exceeded'),
  REQUEST_BODY_TOO_LARGE: entry('INVALID_DATA', 400, 'the request body is too large'),
  REQUEST_TIMEOUT: entry('INVALID_REQUEST', 408, 'the request body did not arrive in time'),
  /**
   * Refusals at the HTTP protocol level (server/protocol-refusals.ts): Zoho's gateway answers these before its API
   * does and documents none of them, so the code is INVALID_REQUEST with HTTP's status for each (docs/compatibility.md).
   */
  HOST_REQUIRED: entry('INVALID_REQUEST', 400, 'an HTTP/1.1 request needs a Host header'),
  EXPECTATION_FAILED: entry('INVALID_REQUEST', 417, 'the only expectation supported is 100-continue'),
  CHUNK_EXTENSIONS_TOO_LARGE: entry('INVALID_REQUEST', 413, 'the chunk extensions are too large'),
  HEADERS_TOO_LARGE: entry('INVALID_REQUEST', 431, 'the request line and headers are too large'),
  TOO_MANY_HEADERS: entry('INVALID_REQUEST', 431, 'the request has too many header fields'),
  HTTP_VERSION_NOT_SUPPORTED: entry('INVALID_REQUEST', 505, 'the HTTP version is not supported; use HTTP/1.1 or HTTP/1.0'),
  /** Downloads only (Range beyond the end); HTTP semantics, not a Zoho code of its own. */
  RANGE_NOT_SATISFIABLE: entry('INVALID_DATA', 416, 'the requested range is not satisfiable'),
  INTERNAL_ERROR: entry('INTERNAL_ERROR', 500, 'Internal Server Error'),

  /**
   * Limits (docs/zoho-api.md §10: TOO_MANY_REQUESTS, HTTP 429, for the credits of the 24-hour period and for the
   * concurrency limit of the user for the app; the body beyond the code is not documented, the texts follow the
   * status-codes page's wording). STORAGE_SPACE_EXCEEDED is the SDK's code for a full org (§6); its status and text
   * are not documented (docs/compatibility.md, "Limits").
   */
  CREDITS_EXHAUSTED: entry('TOO_MANY_REQUESTS', 429, 'the API credits of the 24-hour period are exceeded'),
  CONCURRENCY_LIMIT: entry('TOO_MANY_REQUESTS', 429, 'the concurrency limit of the user for the app is exceeded'),
  SUB_CONCURRENCY_LIMIT: entry('TOO_MANY_REQUESTS', 429, 'the sub-concurrency limit of the user for the app is exceeded'),
  STORAGE_SPACE_EXCEEDED: entry('STORAGE_SPACE_EXCEEDED', 400, 'the storage space of the organization is exceeded'),
  SERVICE_UNAVAILABLE: entry('INTERNAL_ERROR', 503, 'Internal Server Error'),

  /** Admin API only (not part of Zoho's surface). */
  ADMIN_UNAUTHORIZED: entry('AUTHENTICATION_FAILURE', 401, 'a valid admin key is required'),
  ADMIN_NOT_FOUND: entry('INVALID_DATA', 404, 'no such entity'),
  ADMIN_SESSION_EXPIRED: entry('AUTHENTICATION_FAILURE', 401, 'the console session has ended; log in again'),
  ADMIN_FORBIDDEN: entry('AUTHENTICATION_FAILURE', 403, 'refused: not from this server\'s own console'),
  ADMIN_THROTTLED: entry('TOO_MANY_REQUESTS', 429, 'too many wrong admin keys from this address; try again later'),
  ADMIN_CLOCK_OFF: entry('INVALID_REQUEST', 409, 'the clock cannot be moved: start the server with CRM_MEDIA_TEST_CLOCK=1'),
} as const satisfies Record<string, CatalogEntry>;

export type ErrorName = keyof typeof ERROR_CATALOG;

export class ZohoError extends Error {
  constructor(
    readonly entry: ErrorName,
    readonly code: string,
    readonly status: number,
    readonly zohoMessage: string,
    readonly details: ErrorDetails,
  ) {
    super(`${code}: ${zohoMessage}`);
  }

  toBody(): { code: string; details: ErrorDetails; message: string; status: 'error' } {
    return { code: this.code, details: this.details, message: this.zohoMessage, status: 'error' };
  }
}

function messageFor(e: CatalogEntry, operation: OperationName | undefined): string {
  if (typeof e.message === 'string') return e.message;
  return (operation && e.message[operation]) ?? e.message.default;
}

/** Builds the catalog error `name`; `operation` picks the endpoint-specific message where there is one. */
export function zohoError(name: ErrorName, details: ErrorDetails = {}, operation?: OperationName): ZohoError {
  const e: CatalogEntry = ERROR_CATALOG[name];
  return new ZohoError(name, e.code, e.status, messageFor(e, operation), details);
}

export function isZohoError(err: unknown): err is ZohoError {
  return err instanceof ZohoError;
}
