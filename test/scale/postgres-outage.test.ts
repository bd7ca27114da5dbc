/**
 * PostgreSQL goes away under load and comes back: the server process lives on, answers promptly in Zoho's shape
 * while the database is gone, says "not ready", serves again once it returns, and has lost nothing it acknowledged.
 *
 * The database is a PostgreSQL server of this test's own (test/helpers/private-postgres.ts), stopped with a fast
 * shutdown as an operator would: the machine's PostgreSQL serves the other test files running at the same time.
 * Runs in the postgres-s3 project only; the blobs live on disk, so the outage is the database's alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type PrivatePostgres, postgresBinDir, startPrivatePostgres } from '../helpers/private-postgres.js';
import { type SpawnedServer, spawnServer } from '../helpers/spawned-server.js';

const TOKEN = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
const WORKERS = 6;
/** Longer than any answer may take: a request still unanswered by then is a hang, not an outage answer. */
const ANSWER_BOUND_MS = 15_000;

interface Answer {
  status: number;
  body: Buffer;
  contentType: string | undefined;
}

let pgServer: PrivatePostgres;
let server: SpawnedServer;
let dir: string;

async function call(method: string, path: string, body?: { contentType: string; body: Buffer }): Promise<Answer> {
  const res = await request(`${server.url}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Zoho-oauthtoken ${TOKEN}`, ...(body ? { 'content-type': body.contentType } : {}) },
    body: body?.body ?? null,
    signal: AbortSignal.timeout(ANSWER_BOUND_MS),
  });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  const type = res.headers['content-type'];
  return { status: res.statusCode, body: bytes, contentType: Array.isArray(type) ? type[0] : type };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A Zoho error envelope with a 5xx status and no internals. */
function expectZoho5xx(a: Answer): void {
  expect(a.status, a.body.toString()).toBeGreaterThanOrEqual(500);
  expect(a.contentType).toMatch(/^application\/json/);
  const json = JSON.parse(a.body.toString()) as Record<string, unknown>;
  expect(Object.keys(json).sort()).toEqual(['code', 'details', 'message', 'status']);
  expect(json['status']).toBe('error');
  expect(a.body.toString()).not.toMatch(/\bat .+:\d+:\d+|node_modules|ECONNREFUSED|57P01/);
}

async function newRecord(): Promise<string> {
  const res = await call('POST', '/crm/v8/Leads', {
    contentType: 'application/json',
    body: Buffer.from(JSON.stringify({ data: [{ Last_Name: 'Outage' }] })),
  });
  if (res.status !== 201) throw new Error(`record: ${res.status} ${res.body.toString()}`);
  return (JSON.parse(res.body.toString()) as { data: { details: { id: string } }[] }).data[0]!.details.id;
}

describe.skipIf(!postgresBinDir())('a PostgreSQL outage under load', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crm-media-outage-'));
    pgServer = await startPrivatePostgres();
    server = await spawnServer({
      args: ['--data', dir],
      env: { DATABASE_URL: pgServer.url, CRM_MEDIA_DEV_TOKEN: TOKEN, CRM_MEDIA_PG_POOL_SIZE: '4', CRM_MEDIA_BLOB_STORE: 'disk' },
    });
  });

  afterAll(async () => {
    await server?.stop();
    await pgServer?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the process survives, answers 5xx in Zoho shape, is not ready, serves again, and loses nothing acknowledged', async () => {
    // Photos written once before the outage and never touched again.
    const untouched = new Map<string, string>();
    for (let i = 0; i < 4; i++) {
      const id = await newRecord();
      const image = png(40 + i, 30);
      expect((await call('POST', `/crm/v8/Leads/${id}/photo`, filePart(image, 'p.png', 'image/png'))).status).toBe(200);
      untouched.set(id, sha(image));
    }

    // Workers replace their record's photo and read it back, until told to stop (bounded anyway).
    type Phase = 'before' | 'outage' | 'after';
    let phase: Phase = 'before';
    let stop = false;
    const outageAnswers: Answer[] = [];
    const okCount: Record<Phase, number> = { before: 0, outage: 0, after: 0 };
    const records = await Promise.all(Array.from({ length: WORKERS }, () => newRecord()));
    let width = 100;
    const workers = records.map(async (id) => {
      for (let i = 0; i < 5_000 && !stop; i++) {
        const seenIn = phase;
        const image = png(width++, 20);
        const up = await call('POST', `/crm/v8/Leads/${id}/photo`, filePart(image, 'p.png', 'image/png'));
        const down = await call('GET', `/crm/v8/Leads/${id}/photo`);
        // Nothing else writes this record: an acknowledged photo is the one served next.
        if (up.status === 200 && down.status === 200 && sha(down.body) !== sha(image)) {
          throw new Error(`record ${id}: an acknowledged photo was not the one served`);
        }
        for (const a of [up, down]) {
          if (a.status === 200) okCount[seenIn]++;
          else if (seenIn === 'outage' || phase === 'outage') outageAnswers.push(a);
          else throw new Error(`phase ${seenIn}: ${a.status} ${a.body.toString()}`);
        }
        if (seenIn === 'outage') await sleep(20);
      }
    });
    const failed = Promise.all(workers).then(
      () => undefined,
      (err: unknown) => err,
    );

    const until = async (what: () => boolean, ms: number) => {
      for (let t = 0; t < ms && !what(); t += 20) await sleep(20);
    };
    await until(() => okCount.before >= WORKERS * 4, 20_000);
    expect(okCount.before).toBeGreaterThanOrEqual(WORKERS * 4);

    phase = 'outage';
    await pgServer.stop();
    await until(() => outageAnswers.length >= WORKERS * 2, 10_000);
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body.toString())).toMatchObject({ status: 'not ready', blob_store: 'ok' });
    expect(server.process.exitCode).toBeNull();

    await pgServer.start();
    // Serves again within seconds: readiness first, then the workers' own requests.
    let readyAgain: Answer | undefined;
    for (let i = 0; i < 300; i++) {
      readyAgain = await call('GET', '/readyz');
      if (readyAgain.status === 200) break;
      await sleep(50);
    }
    expect(readyAgain?.status).toBe(200);
    phase = 'after';
    await until(() => okCount.after >= WORKERS * 4, 30_000);
    stop = true;
    expect(await failed).toBeUndefined();

    expect(server.process.exitCode).toBeNull();
    expect(okCount.after).toBeGreaterThanOrEqual(WORKERS * 4);
    expect(outageAnswers.length).toBeGreaterThan(0);
    for (const a of outageAnswers) expectZoho5xx(a);

    // Nothing acknowledged is lost: the workers compared every acknowledged photo with the next download; the records
    // still take and serve photos; the photos written before the outage are intact.
    for (const id of records) {
      const image = png(width++, 20);
      expect((await call('POST', `/crm/v8/Leads/${id}/photo`, filePart(image, 'p.png', 'image/png'))).status).toBe(200);
      const served = await call('GET', `/crm/v8/Leads/${id}/photo`);
      expect(served.status).toBe(200);
      expect(sha(served.body)).toBe(sha(image));
    }
    for (const [id, hash] of untouched) {
      const served = await call('GET', `/crm/v8/Leads/${id}/photo`);
      expect(served.status).toBe(200);
      expect(sha(served.body)).toBe(hash);
    }
  });
});
