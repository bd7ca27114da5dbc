import { expect } from 'vitest';
import type { HttpResponse } from './server.js';

/** Asserts a Zoho error reply: status, JSON type, envelope, code, and (when given) message and details. */
export function expectZohoError(
  res: HttpResponse,
  expected: { status: number; code: string; message?: string; details?: Record<string, unknown> },
): void {
  expect({ status: res.status, body: res.json }, res.text).toMatchObject({
    status: expected.status,
    body: { code: expected.code, status: 'error' },
  });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.json).sort()).toEqual(['code', 'details', 'message', 'status']);
  expect(typeof res.json.message).toBe('string');
  expect(typeof res.json.details).toBe('object');
  if (expected.message !== undefined) expect(res.json.message).toBe(expected.message);
  if (expected.details !== undefined) expect(res.json.details).toEqual(expected.details);
  // No request is ever answered with a stack trace or internal text.
  expect(res.text).not.toMatch(/\bat .+\(.*:\d+:\d+\)|node_modules|\/src\/|Error:/);
}
