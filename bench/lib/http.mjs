/** Small HTTP helpers for set-up and verification (never used inside a measured window). */
import { createHash } from 'node:crypto';
import { request } from 'undici';

export async function http(method, url, { headers = {}, body = null } = {}) {
  const res = await request(url, { method, headers, body, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const buf = Buffer.from(await res.body.arrayBuffer());
  let json;
  try {
    json = JSON.parse(buf.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, body: buf, json, text: () => buf.toString('utf8') };
}

/** GET and hash the body without keeping it. */
export async function getHash(url, headers = {}) {
  const res = await request(url, { method: 'GET', headers, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const h = createHash('sha256');
  let size = 0;
  let head = Buffer.alloc(0);
  for await (const chunk of res.body) {
    h.update(chunk);
    size += chunk.length;
    if (head.length < 300) head = Buffer.concat([head, chunk]).subarray(0, 300);
  }
  return { status: res.statusCode, headers: res.headers, sha256: h.digest('hex'), size, head: head.toString('utf8') };
}

/** Runs `fn` over `items` with at most `limit` at once; results in order. */
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Up to `n` items spread evenly over `items`. */
export function spread(items, n) {
  if (items.length <= n) return items.map((x, i) => [x, i]);
  const out = [];
  for (let k = 0; k < n; k++) {
    const i = Math.floor((k * items.length) / n);
    out.push([items[i], i]);
  }
  return out;
}
