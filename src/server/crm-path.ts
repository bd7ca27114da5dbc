/**
 * Parses a `/crm/{version}/...` path into the resource it names. Only the shape is decided here; whether the
 * module exists or the id is valid is for the rules. Segments are percent-decoded; `photo` and `Attachments`
 * match in any case, like module names.
 */
import { type ApiVersion, parseApiVersion } from '../domain/modules.js';

export type CrmResource =
  | { kind: 'users'; version: ApiVersion }
  | { kind: 'org'; version: ApiVersion }
  | { kind: 'settings-modules'; version: ApiVersion }
  | { kind: 'settings-fields'; version: ApiVersion }
  | { kind: 'photo'; version: ApiVersion; module: string; recordId: string }
  | { kind: 'attachments'; version: ApiVersion; module: string; recordId: string }
  | { kind: 'attachment'; version: ApiVersion; module: string; recordId: string; attachmentId: string }
  | { kind: 'records'; version: ApiVersion; module: string }
  | { kind: 'record'; version: ApiVersion; module: string; recordId: string };

export type CrmResourceKind = CrmResource['kind'];

const MAX_SEGMENT_LENGTH = 200;

/** The resource named by `path` (no query string), or undefined when it names none (INVALID_URL_PATTERN). */
export function parseCrmPath(path: string): CrmResource | undefined {
  if (!path.startsWith('/crm/')) return undefined;
  let rest = path.slice('/crm/'.length);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  const raw = rest.split('/');
  if (raw.length < 2 || raw.length > 5) return undefined;
  const segments: string[] = [];
  for (const s of raw) {
    const decoded = decodeSegment(s);
    if (decoded === undefined || decoded.length === 0 || decoded.length > MAX_SEGMENT_LENGTH) return undefined;
    segments.push(decoded);
  }
  const version = parseApiVersion(segments[0]!);
  if (!version) return undefined;
  const [, module, recordId, sub, attachmentId] = segments as [string, string, string?, string?, string?];
  const side = sideCall(module, recordId, sub);
  if (side !== 'none') return side === undefined ? undefined : { kind: side, version };
  if (recordId === undefined) return { kind: 'records', version, module };
  if (sub === undefined) return { kind: 'record', version, module, recordId };
  const subLower = sub.toLowerCase();
  if (subLower === 'photo' && attachmentId === undefined) return { kind: 'photo', version, module, recordId };
  if (subLower === 'attachments') {
    if (attachmentId === undefined) return { kind: 'attachments', version, module, recordId };
    return { kind: 'attachment', version, module, recordId, attachmentId };
  }
  return undefined;
}

/**
 * `users`, `org` and `settings/...` are not modules: the SDKs' side calls. 'none' when the path is a module path,
 * undefined when it is a side-call path of the wrong shape.
 */
type SideCallKind = 'users' | 'org' | 'settings-modules' | 'settings-fields';

function sideCall(first: string, second: string | undefined, third: string | undefined): SideCallKind | undefined | 'none' {
  const name = first.toLowerCase();
  if (name === 'users' || name === 'org') return second === undefined ? name : undefined;
  if (name !== 'settings') return 'none';
  if (third !== undefined) return undefined;
  const sub = second?.toLowerCase();
  return sub === 'modules' ? 'settings-modules' : sub === 'fields' ? 'settings-fields' : undefined;
}

function decodeSegment(s: string): string | undefined {
  try {
    const decoded = decodeURIComponent(s);
    return decoded.includes('/') ? undefined : decoded;
  } catch {
    return undefined;
  }
}
