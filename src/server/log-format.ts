/**
 * The two log formats (`--log-format`), chosen as pino users expect: one JSON object per line for machines (ISO
 * times, level names), and short readable lines for a person at a terminal — `auto` picks the second when stdout is
 * a TTY. The readable form is written here rather than with pino-pretty: it is one small function over the same
 * records, with no transport thread, and knows the access log's shape.
 */
import { type DestinationStream, type LoggerOptions, stdTimeFunctions } from 'pino';
import type { RequestEntry } from './request-journal.js';

export type LogFormat = 'pretty' | 'json';

export function resolveLogFormat(setting: 'auto' | LogFormat, out: { isTTY?: boolean } = process.stdout): LogFormat {
  if (setting !== 'auto') return setting;
  return out.isTTY ? 'pretty' : 'json';
}

/** pino options shared by both formats: ISO times and level names instead of epoch ms and numbers. */
export const LOG_RECORD_OPTIONS: Pick<LoggerOptions, 'timestamp' | 'formatters'> = {
  timestamp: stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
};

/** A pino destination that turns each JSON record into one readable line on `out`. */
export function prettyDestination(out: { write(s: string): unknown }): DestinationStream {
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      out.write(`${prettyLine(record)}\n`);
    },
  };
}

const SHOWN_ELSEWHERE = new Set(['time', 'level', 'msg', 'request', 'err', 'reqId']);

/** `12:01:02.345 INFO  message key=value …`; an access-log record as `… 401 POST /crm/v8/… INVALID_TOKEN 1.2 ms`. */
export function prettyLine(record: Record<string, unknown>): string {
  const time = typeof record['time'] === 'string' ? record['time'].slice(11, 23) : new Date().toISOString().slice(11, 23);
  const level = String(record['level'] ?? 'info').toUpperCase().padEnd(5);
  const entry = record['request'] as RequestEntry | undefined;
  const parts = [time, level];
  if (entry && typeof entry === 'object') {
    parts.push(requestLine(entry));
  } else {
    parts.push(String(record['msg'] ?? ''));
    for (const [key, value] of Object.entries(record)) {
      if (SHOWN_ELSEWHERE.has(key) || value === undefined) continue;
      parts.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  const err = record['err'] as { stack?: string; message?: string } | undefined;
  const tail = err ? `\n    ${(err.stack ?? err.message ?? String(err)).split('\n').join('\n    ')}` : '';
  return parts.join(' ') + tail;
}

function requestLine(e: RequestEntry): string {
  const words = [String(e.status), e.method, e.query ? `${e.path}?${e.query}` : e.path];
  if (e.code) words.push(e.code);
  words.push(`${e.latencyMs} ms`);
  if (e.bytesIn > 0 || e.bytesOut > 0) words.push(`in=${e.bytesIn} out=${e.bytesOut}`);
  words.push(`op=${e.operation}`);
  if (e.orgId) words.push(`org=${e.orgId}`);
  if (e.userId) words.push(`user=${e.userId}`);
  if (e.clientId) words.push(`client=${e.clientId}`);
  if (e.marks.length > 0) words.push(`marks=${e.marks.join(',')}`);
  words.push(`id=${e.id}`);
  return words.join(' ');
}
