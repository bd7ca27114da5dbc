/**
 * Slow clients must not starve the others, on either backend: clients that send half an upload and stall, or that
 * ask for a download and read nothing, hold nothing another client needs. Twice as many stalled clients as the S3
 * store's default part budget (16 parts) or the AWS SDK's default socket pool (50) would need to starve everyone;
 * meanwhile a well-behaved client's uploads and downloads all complete, while every stalled client is still stalled.
 * (A bound that only catches starvation: the stalled requests would wait for the request timeout, 2 minutes here.)
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { openSocket, uploadHead, write } from '../helpers/robustness.js';
import { TestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;
let server: TestServer;
let record = '';
let stalled: Socket[] = [];

beforeAll(async () => {
  server = await TestServer.start({ requestTimeoutMs: 120_000, idleTimeoutMs: 120_000 });
  record = await server.createRecord('Leads');
});

/** Each test's stalled clients go away at its end, so the next test starts from a quiet server. */
afterEach(() => {
  for (const s of stalled) s.destroy();
  stalled = [];
});

afterAll(async () => {
  await server?.stop();
});

/** Settles with the value, or with 'starved' after `ms`. */
function within<T>(ms: number, work: Promise<T>): Promise<T | 'starved'> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'starved'>((resolve) => (timer = setTimeout(() => resolve('starved'), ms)));
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

/** Opens a connection that records whether any byte of an answer came back. */
async function stalledSocket(): Promise<{ sock: Socket; answered: () => boolean }> {
  const sock = await openSocket(server.url);
  let answered = false;
  sock.on('data', () => (answered = true));
  sock.on('error', () => {});
  stalled.push(sock);
  return { sock, answered: () => answered };
}

describe('stalled clients hold nothing others need', () => {
  it('32 clients that sent half of an 8 MiB upload and stalled: another client’s uploads all complete meanwhile', async () => {
    const body = filePart(randomBytes(8 * MiB), 'big.bin');
    const clients = await Promise.all(
      Array.from({ length: 32 }, async () => {
        const c = await stalledSocket();
        await write(c.sock, uploadHead(`/crm/v8/Leads/${record}/Attachments`, server.devToken, body.contentType, body.body.length));
        // Not awaited: a server that does not read the body would keep the write from ever completing.
        c.sock.write(body.body.subarray(0, body.body.length >> 1));
        return c;
      }),
    );
    // The half bodies are with the server (32 × 4 MiB: more than the S3 store's 80 MiB of part memory).
    await sleep(500);

    const good = async () => {
      const results: number[] = [];
      for (let i = 0; i < 6; i++) {
        const image = png(40 + i, 30);
        const photo = filePart(image, 'p.png', 'image/png');
        results.push((await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': photo.contentType }, body: photo.body })).status);
        const att = filePart(randomBytes(i % 2 ? 6 * MiB : 300_000), 'a.bin');
        results.push((await server.api('POST', `/crm/v8/Leads/${record}/Attachments`, { headers: { 'content-type': att.contentType }, body: att.body })).status);
      }
      return results;
    };
    expect(await within(30_000, good())).toEqual(Array(12).fill(200));
    expect(clients.filter((c) => c.answered() || c.sock.destroyed)).toEqual([]);
  });

  it('64 clients that asked for a 16 MiB download and read nothing: another client’s downloads all complete meanwhile', async () => {
    const data = randomBytes(16 * MiB);
    const att = filePart(data, 'large.bin');
    const up = await server.api('POST', `/crm/v8/Leads/${record}/Attachments`, { headers: { 'content-type': att.contentType }, body: att.body });
    expect(up.status).toBe(200);
    const path = `/crm/v8/Leads/${record}/Attachments/${up.json.data[0].details.id}`;
    const readers = await Promise.all(
      Array.from({ length: 64 }, async () => {
        const c = await stalledSocket();
        await write(c.sock, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Zoho-oauthtoken ${server.devToken}\r\n\r\n`);
        // Read nothing more than the first bytes: the socket's buffers fill and the server's stream backs up.
        c.sock.once('data', () => c.sock.pause());
        return c;
      }),
    );
    await sleep(500);

    const want = createHash('sha256').update(data).digest('hex');
    const good = async () => {
      const hashes: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await server.api('GET', path);
        hashes.push(res.status === 200 ? createHash('sha256').update(res.body).digest('hex') : `status ${res.status}`);
      }
      return hashes;
    };
    expect(await within(30_000, good())).toEqual(Array(4).fill(want));
    // Every stalled reader got the start of its answer and is still connected, not served in full.
    expect(readers.filter((c) => !c.answered() || c.sock.destroyed)).toEqual([]);
  });
});
