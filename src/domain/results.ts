import type { ZohoError } from './errors.js';

/** The outcome of one item of a multi-item request (bulk delete, multi-record insert): each succeeds or fails alone. */
export type ItemResult<T> = { ok: true; value: T } | { ok: false; error: ZohoError };
