/**
 * Durability: a restart keeps everything; the orphan sweeper removes exactly the unreferenced blobs (and stale temp
 * files) older than its grace period; a failed commit after the bytes were written leaves the previous photo and no
 * stray blob; concurrent uploads and deletes leave neither lost nor extra blob files.
 */
import { createHash } from 'node:crypto';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendName } from '../helpers/backend.js';
import { gif, jpeg, png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { rawExchange, uploadHead, write } from '../helpers/robustness.js';
import { type TestServer as TestServerType, TestServer } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

const BACKEND = backendName();
const onDisk = BACKEND === 'sqlite-disk';
/**
 * Keeps a stop() short even when a response finishes just after the stop began (see the "graceful stop" test:
 * such a connection is otherwise held until the shutdown timeout, 30 s by default).
 */
const QUICK_STOP = { shutdownTimeoutMs: 1_000 };

function sha(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

async function readBlob(server: TestServerType, key: string): Promise<Buffer> {
  const reader = await server.runtime.blobs.open(key);
  if (!reader) throw new Error(`blob ${key} is missing`);
  const chunks: Buffer[] = [];
  for await (const c of reader.stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** key → sha256 of every blob. */
async function blobDigests(server: TestServerType): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of await server.blobFiles()) out[key] = sha(await readBlob(server, key));
  return out;
}

async function uploadPhoto(server: TestServerType, module: string, id: string, image: Buffer, token?: string, name = 'p.png') {
  const { body, contentType } = filePart(image, name, 'image/png');
  return server.api('POST', `/crm/v8/${module}/${id}/photo`, { ...(token ? { token } : {}), headers: { 'content-type': contentType }, body });
}

async function uploadAttachment(server: TestServerType, module: string, id: string, data: Buffer | string, name = 'a.txt') {
  const { body, contentType } = filePart(data, name, 'text/plain');
  return server.api('POST', `/crm/v8/${module}/${id}/Attachments`, { headers: { 'content-type': contentType }, body });
}

/** Waits until the clock has moved past every file written so far (for grace periods of 0). */
async function letTimePass(): Promise<void> {
  await sleep(30);
}

describe(`restart keeps everything (${BACKEND})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start(QUICK_STOP);
  });
  afterAll(() => server?.stop());

  it('records, photos, attachments, users, tokens, custom modules and states survive a restart', async () => {
    // Records with photos and attachments.
    const lead = await server.createRecord('Leads', server.devToken, { Last_Name: 'Durable', Nested: { a: [1, 'ü'] } });
    const leadImage = png(120, 80);
    expect((await uploadPhoto(server, 'Leads', lead, leadImage, undefined, 'lead.png')).status).toBe(200);
    const attachment = await uploadAttachment(server, 'Leads', lead, Buffer.from('attachment bytes \u00e9\n'), 'notes.txt');
    expect(attachment.status).toBe(200);
    const attachmentId = attachment.json.data[0].details.id as string;
    const link = await server.api('POST', `/crm/v8/Leads/${lead}/Attachments`, { query: { attachmentUrl: 'https://example.com/x' } });
    expect(link.status).toBe(200);

    // A second org with its own time zone, a custom module, users and tokens.
    const org = await server.createOrg('Durable Org', 'Asia/Kolkata');
    const pets = await server.admin('POST', `/orgs/${org.id}/modules`, { api_name: 'Pets', sharing: 'private' });
    expect(pets).toMatchObject({ api_name: 'Pets', custom: true, sharing: 'private' });
    const pet = await server.createRecord('Pets', org.adminToken, { Name: 'Rex' });
    const petImage = jpeg(64, 64);
    expect((await uploadPhoto(server, 'Pets', pet, petImage, org.adminToken, 'rex.jpg')).status).toBe(200);
    const reader = await server.createUser({ org: org.id, scopes: 'ZohoCRM.modules.custom.READ' });
    const revoked = await server.createUser({ org: org.id });
    const revokedTokens = (await server.admin('GET', `/orgs/${org.id}/tokens`)).tokens.filter((t: any) => t.user_id === revoked.id);
    await server.admin('DELETE', `/orgs/${org.id}/tokens/${revokedTokens[0].id}`);

    // States.
    const waiting = await server.createRecord('Contacts');
    const waitingImage = gif(10, 10);
    expect((await uploadPhoto(server, 'Contacts', waiting, waitingImage)).status).toBe(200);
    await server.setState(waiting, 'awaiting_approval');

    const blobsBefore = await blobDigests(server);
    expect(Object.keys(blobsBefore)).toHaveLength(4);
    const orgsBefore = await server.admin('GET', '/orgs');
    const usersBefore = await server.admin('GET', `/orgs/${org.id}/users`);
    const tokensBefore = await server.admin('GET', `/orgs/${org.id}/tokens`);
    const modulesBefore = await server.admin('GET', `/orgs/${org.id}/modules`);
    const leadBefore = (await server.api('GET', `/crm/v8/Leads/${lead}`)).json;
    const photoBefore = await server.api('GET', `/crm/v8/Leads/${lead}/photo`);

    await server.restart();

    // Everything is still there, byte for byte.
    expect(await blobDigests(server)).toEqual(blobsBefore);
    expect(await server.tempFiles()).toEqual([]);
    expect(await server.admin('GET', '/orgs')).toEqual(orgsBefore);
    expect(await server.admin('GET', `/orgs/${org.id}/users`)).toEqual(usersBefore);
    expect(await server.admin('GET', `/orgs/${org.id}/tokens`)).toEqual(tokensBefore);
    expect(await server.admin('GET', `/orgs/${org.id}/modules`)).toEqual(modulesBefore);
    expect((await server.api('GET', `/crm/v8/Leads/${lead}`)).json).toEqual(leadBefore);

    const photo = await server.api('GET', `/crm/v8/Leads/${lead}/photo`);
    expect(photo.status).toBe(200);
    expect(photo.body.equals(leadImage)).toBe(true);
    for (const h of ['content-type', 'content-length', 'content-disposition']) expect(photo.headers[h]).toBe(photoBefore.headers[h]);

    // Tokens still work on the new port; the revoked one stays revoked.
    const petPhoto = await server.api('GET', `/crm/v8/Pets/${pet}/photo`, { token: org.adminToken });
    expect(petPhoto.status).toBe(200);
    expect(petPhoto.body.equals(petImage)).toBe(true);
    expect(petPhoto.headers['content-type']).toBe('image/jpeg');
    const petRecord = await server.api('GET', `/crm/v8/Pets/${pet}`, { token: org.adminToken });
    expect(petRecord.json.data[0]).toMatchObject({ Name: 'Rex', id: pet });
    expect(petRecord.json.data[0].Created_Time).toMatch(/\+05:30$/);
    // The reader is not the owner of a private-module record.
    expectZohoError(await server.api('GET', `/crm/v8/Pets/${pet}/photo`, { token: reader.token }), {
      status: 400,
      code: 'AUTHORIZATION_FAILED',
    });
    expectZohoError(await server.api('GET', `/crm/v8/Pets/${pet}/photo`, { token: revoked.token }), {
      status: 401,
      code: 'INVALID_TOKEN',
    });

    // The state survived.
    expectZohoError(await server.api('GET', `/crm/v8/Contacts/${waiting}/photo`), {
      status: 400,
      code: 'NOT_APPROVED',
      message: 'cannot get the record image that is not approved yet',
      details: { id: waiting },
    });
    await server.setState(waiting, 'normal');
    expect((await server.api('GET', `/crm/v8/Contacts/${waiting}/photo`)).body.equals(waitingImage)).toBe(true);

    // The attachment can still be deleted, and its bytes go.
    const del = await server.api('DELETE', `/crm/v8/Leads/${lead}/Attachments/${attachmentId}`);
    expect(del.status).toBe(200);
    expect((await server.blobFiles()).length).toBe(3);
  });
});

describe(`orphan sweeper (${BACKEND})`, () => {
  it('with the default grace period (15 min) a fresh orphan is kept', async () => {
    const server = await TestServer.start(QUICK_STOP);
    try {
      const record = await server.createRecord('Leads');
      expect((await uploadPhoto(server, 'Leads', record, png(5, 5))).status).toBe(200);
      const orphan = await server.runtime.blobs.put(Readable.from([Buffer.from('orphan bytes')]));
      const before = await server.blobFiles();
      expect(before).toContain(orphan.key);
      expect(before).toHaveLength(2);
      await letTimePass();
      const result = await server.admin('POST', '/sweep');
      expect(result).toEqual({ examined: 2, removed: 0, incompleteRemoved: 0 });
      expect(await server.blobFiles()).toEqual(before);
    } finally {
      await server.stop();
    }
  });

  it('with sweepGraceMs 0 the orphans go, referenced photo and attachment blobs stay', async () => {
    // Unfinished writes are spared for the request timeout at least (they may still be receiving bytes).
    const server = await TestServer.start({ ...QUICK_STOP, sweepGraceMs: 0, requestTimeoutMs: 30_000 });
    try {
      const record = await server.createRecord('Leads');
      const image = png(33, 21);
      expect((await uploadPhoto(server, 'Leads', record, image)).status).toBe(200);
      const att = await uploadAttachment(server, 'Leads', record, 'keep me');
      expect(att.status).toBe(200);
      const referenced = await server.blobFiles();
      expect(referenced).toHaveLength(2);

      const orphans = [
        await server.runtime.blobs.put(Readable.from([Buffer.from('orphan one')])),
        await server.runtime.blobs.put(Readable.from([Buffer.alloc(100_000, 7)])),
        await server.runtime.blobs.put(Readable.from([Buffer.alloc(0)])),
      ];
      expect(await server.blobFiles()).toHaveLength(5);
      let stale = 0;
      if (onDisk) {
        // Unfinished writes left by a crash: temp files older than the grace period.
        const old = new Date(Date.now() - 60_000);
        for (const name of ['0123456789abcdef0123456789abcdef.part', 'leftover']) {
          const p = join(server.dataDir, 'tmp', name);
          await writeFile(p, 'partial');
          await utimes(p, old, old);
          stale++;
        }
        expect(await server.tempFiles()).toHaveLength(2);
      }
      await letTimePass();

      const result = await server.admin('POST', '/sweep');
      expect(result).toEqual({ examined: 5, removed: orphans.length, incompleteRemoved: stale });
      expect(await server.blobFiles()).toEqual(referenced);
      expect(await server.tempFiles()).toEqual([]);

      const photo = await server.api('GET', `/crm/v8/Leads/${record}/photo`);
      expect(photo.status).toBe(200);
      expect(photo.body.equals(image)).toBe(true);
      // The attachment row still points at its bytes: deleting it works and removes them.
      const del = await server.api('DELETE', `/crm/v8/Leads/${record}/Attachments/${att.json.data[0].details.id}`);
      expect(del.status).toBe(200);

      // A second sweep finds nothing more to do.
      await letTimePass();
      const again = await server.admin('POST', '/sweep');
      expect(again).toEqual({ examined: 1, removed: 0, incompleteRemoved: 0 });
      expect((await server.api('GET', `/crm/v8/Leads/${record}/photo`)).body.equals(image)).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it('the sweep needs the admin key', async () => {
    const server = await TestServer.start({ ...QUICK_STOP, sweepGraceMs: 0 });
    try {
      const orphan = await server.runtime.blobs.put(Readable.from([Buffer.from('x')]));
      await letTimePass();
      const res = await server.api('POST', '/_admin/sweep');
      expectZohoError(res, { status: 401, code: 'AUTHENTICATION_FAILURE' });
      expect(await server.blobFiles()).toEqual([orphan.key]);
    } finally {
      await server.stop();
    }
  });
});

describe(`crash safety of the commit order (${BACKEND})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start(QUICK_STOP);
  });
  afterAll(() => server?.stop());

  it('bytes written, row never committed → 500 INTERNAL_ERROR, old photo intact, new blob removed', async () => {
    const record = await server.createRecord('Leads');
    const oldImage = png(20, 10);
    expect((await uploadPhoto(server, 'Leads', record, oldImage, undefined, 'old.png')).status).toBe(200);
    const before = await server.blobFiles();
    const store = server.runtime.store;
    const original = store.transaction;
    let injected = 0;
    store.transaction = async function () {
      injected++;
      store.transaction = original;
      throw new Error('injected fault: the commit never happened');
    } as typeof store.transaction;
    try {
      const res = await uploadPhoto(server, 'Leads', record, png(30, 30), undefined, 'new.png');
      expectZohoError(res, { status: 500, code: 'INTERNAL_ERROR', message: 'Internal Server Error', details: {} });
      expect(res.text).not.toContain('injected');
    } finally {
      store.transaction = original;
    }
    expect(injected).toBe(1);
    const photo = await server.api('GET', `/crm/v8/Leads/${record}/photo`);
    expect(photo.status).toBe(200);
    expect(photo.body.equals(oldImage)).toBe(true);
    expect(photo.headers['content-disposition']).toBe('attachment; filename="old.png"');
    expect(await server.blobFiles()).toEqual(before);
    expect(await server.tempFiles()).toEqual([]);

    // The next upload works normally.
    const next = png(31, 31);
    expect((await uploadPhoto(server, 'Leads', record, next)).status).toBe(200);
    expect((await server.api('GET', `/crm/v8/Leads/${record}/photo`)).body.equals(next)).toBe(true);
    expect((await server.blobFiles()).length).toBe(before.length);
  });

  it('the same for an attachment upload: 500, nothing stored', async () => {
    const record = await server.createRecord('Leads');
    const before = await server.blobFiles();
    const store = server.runtime.store;
    const original = store.transaction;
    store.transaction = async function () {
      store.transaction = original;
      throw new Error('injected fault');
    } as typeof store.transaction;
    try {
      const res = await uploadAttachment(server, 'Leads', record, 'will not be kept');
      expectZohoError(res, { status: 500, code: 'INTERNAL_ERROR', details: {} });
    } finally {
      store.transaction = original;
    }
    expect(await server.blobFiles()).toEqual(before);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('a failed cascade delete keeps the record, its photo and its bytes', async () => {
    const record = await server.createRecord('Leads');
    const image = png(12, 12);
    expect((await uploadPhoto(server, 'Leads', record, image)).status).toBe(200);
    const before = await server.blobFiles();
    const store = server.runtime.store;
    const original = store.transaction;
    store.transaction = async function () {
      store.transaction = original;
      throw new Error('injected fault');
    } as typeof store.transaction;
    try {
      const res = await server.api('DELETE', `/crm/v8/Leads/${record}`);
      expectZohoError(res, { status: 500, code: 'INTERNAL_ERROR', details: {} });
    } finally {
      store.transaction = original;
    }
    expect(await server.blobFiles()).toEqual(before);
    expect((await server.api('GET', `/crm/v8/Leads/${record}/photo`)).body.equals(image)).toBe(true);
  });
});

describe(`concurrency (${BACKEND})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start(QUICK_STOP);
  });
  afterAll(() => server?.stop());

  it('12 concurrent photo uploads to one record: one photo remains, exactly one blob, one of the uploaded images', async () => {
    const record = await server.createRecord('Leads');
    const before = await server.blobFiles();
    const images = Array.from({ length: 12 }, (_, i) => png(10 + i, 10 + i));
    const results = await Promise.all(images.map((img, i) => uploadPhoto(server, 'Leads', record, img, undefined, `c${i}.png`)));
    for (const r of results) expect(r.status, r.text).toBe(200);
    const after = await server.blobFiles();
    expect(after.length).toBe(before.length + 1);
    const photo = await server.api('GET', `/crm/v8/Leads/${record}/photo`);
    expect(photo.status).toBe(200);
    const winner = images.findIndex((img) => img.equals(photo.body));
    expect(winner).toBeGreaterThanOrEqual(0);
    expect(photo.headers['content-disposition']).toBe(`attachment; filename="c${winner}.png"`);
    const newKey = after.find((k) => !before.includes(k))!;
    expect((await readBlob(server, newKey)).equals(photo.body)).toBe(true);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('concurrent attachment uploads to one record: every one kept, one blob each', async () => {
    const record = await server.createRecord('Leads');
    const before = await server.blobFiles();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => uploadAttachment(server, 'Leads', record, `att ${i}`, `a${i}.txt`)));
    for (const r of results) expect(r.status).toBe(200);
    expect(new Set(results.map((r) => r.json.data[0].details.id)).size).toBe(10);
    expect((await server.blobFiles()).length).toBe(before.length + 10);
    // Deleting the record removes all of them.
    expect((await server.api('DELETE', `/crm/v8/Leads/${record}`)).status).toBe(200);
    expect(await server.blobFiles()).toEqual(before);
  });

  it('concurrent deletes of the same record (record, ?ids=, photo): all its blobs go, nothing else', async () => {
    const before = await server.blobFiles();
    const record = await server.createRecord('Leads');
    expect((await uploadPhoto(server, 'Leads', record, png(9, 9))).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await uploadAttachment(server, 'Leads', record, `x${i}`)).status).toBe(200);
    expect((await server.blobFiles()).length).toBe(before.length + 4);
    const results = await Promise.all([
      ...Array.from({ length: 6 }, () => server.api('DELETE', `/crm/v8/Leads/${record}`)),
      ...Array.from({ length: 3 }, () => server.api('DELETE', '/crm/v8/Leads', { query: { ids: record } })),
      ...Array.from({ length: 3 }, () => server.api('DELETE', `/crm/v8/Leads/${record}/photo`)),
    ]);
    for (const r of results.slice(0, 9)) {
      expect([200, 400]).toContain(r.status);
      expect(r.json.data).toHaveLength(1);
    }
    for (const r of results.slice(9)) {
      expect([200, 400]).toContain(r.status);
      if (r.status === 400) expect(r.json.code).toBe('INVALID_DATA');
    }
    expect(await server.blobFiles()).toEqual(before);
    expect((await server.api('GET', `/crm/v8/Leads/${record}`)).status).toBe(400);
  });

  it('concurrent deletes of the same record: exactly one reports "record deleted", the others INVALID_DATA', async () => {
    // Sequentially a second delete of a deleted record is INVALID_DATA; concurrency must not turn that into a
    // second "record deleted" for a record this request did not delete.
    const record = await server.createRecord('Leads');
    expect((await uploadPhoto(server, 'Leads', record, png(9, 9))).status).toBe(200);
    const results = await Promise.all(Array.from({ length: 8 }, () => server.api('DELETE', `/crm/v8/Leads/${record}`)));
    const summary = results.map((r) => `${r.status} ${r.json.data[0].code}`).sort();
    expect(summary).toEqual(['200 SUCCESS', ...Array.from({ length: 7 }, () => '400 INVALID_DATA')]);
  });

  it('photo uploads racing a record delete: no blob is lost or left behind', async () => {
    const before = await server.blobFiles();
    const records = await Promise.all(Array.from({ length: 5 }, () => server.createRecord('Leads')));
    const survivor = await server.createRecord('Leads');
    const survivorImage = png(50, 50);
    expect((await uploadPhoto(server, 'Leads', survivor, survivorImage)).status).toBe(200);
    const ops: Promise<{ status: number; json: any }>[] = [];
    for (const id of records) {
      for (let i = 0; i < 3; i++) ops.push(uploadPhoto(server, 'Leads', id, png(16 + i, 16)));
      ops.push(uploadAttachment(server, 'Leads', id, 'racing'));
      ops.push(server.api('DELETE', `/crm/v8/Leads/${id}`));
      for (let i = 0; i < 2; i++) ops.push(uploadPhoto(server, 'Leads', survivor, png(40 + i, 40)));
    }
    const results = await Promise.all(ops);
    for (const r of results) {
      expect([200, 400]).toContain(r.status);
      if (r.status === 400) expect(JSON.stringify(r.json)).toContain('INVALID_DATA');
    }
    // Every raced record is gone, with everything it had; the survivor has exactly one photo blob.
    for (const id of records) expect((await server.api('GET', `/crm/v8/Leads/${id}`)).status).toBe(400);
    const after = await server.blobFiles();
    expect(after.length).toBe(before.length + 1);
    const photo = await server.api('GET', `/crm/v8/Leads/${survivor}/photo`);
    expect(photo.status).toBe(200);
    const key = after.find((k) => !before.includes(k))!;
    expect((await readBlob(server, key)).equals(photo.body)).toBe(true);
    expect(await server.tempFiles()).toEqual([]);
  });
});

describe(`graceful stop (${BACKEND})`, () => {
  it('an upload in flight when stop() begins completes, then its connection is closed and stop() resolves', async () => {
    const server = await TestServer.start({ shutdownTimeoutMs: 20_000 });
    try {
      const record = await server.createRecord('Leads');
      const image = png(64, 64);
      const { body, contentType } = filePart(image, 'inflight.png', 'image/png');
      let stopped = false;
      let stopping: Promise<void> | undefined;
      const result = await rawExchange(
        server.url,
        async (sock) => {
          await write(sock, uploadHead(`/crm/v8/Leads/${record}/photo`, server.devToken, contentType, body.length));
          await write(sock, body.subarray(0, 100));
          await sleep(100);
          stopping = server.server.stop().then(() => {
            stopped = true;
          });
          await sleep(50);
          await write(sock, body.subarray(100));
        },
        { timeoutMs: 8_000, until: 'close' },
      );
      expect(result.response?.status, result.raw.toString()).toBe(200);
      expect(result.response?.json).toEqual({ code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' });
      // The server closes the connection once the in-flight response is out, well before the 20 s bound.
      expect(result.closed).toBe(true);
      expect(result.timedOut).toBe(false);
      await Promise.race([stopping, sleep(5_000)]);
      expect(stopped).toBe(true);
      // The upload committed before the stop: a restart serves it.
      await server.restart();
      const photo = await server.api('GET', `/crm/v8/Leads/${record}/photo`);
      expect(photo.body.equals(image)).toBe(true);
      await sleep(200); // let the download's response finish before the final stop (see the next test)
    } finally {
      await server.stop();
    }
  });

  it('a download that finished just before stop() does not hold the stop for the shutdown timeout', async () => {
    // Ten rounds: the window between the client having every byte and the server finishing the response is small.
    for (let round = 0; round < 10; round++) {
      const server = await TestServer.start({ shutdownTimeoutMs: 8_000 });
      let stopped = false;
      try {
        const record = await server.createRecord('Leads');
        expect((await uploadPhoto(server, 'Leads', record, png(200, 200))).status).toBe(200);
        expect((await server.api('GET', `/crm/v8/Leads/${record}/photo`)).status).toBe(200);
        const stopping = server.server.stop().then(() => {
          stopped = true;
        });
        await Promise.race([stopping, sleep(5_000)]);
        expect(stopped, `round ${round}: stop() still waiting after 5 s with no request in flight`).toBe(true);
      } finally {
        await server.stop();
      }
    }
  });
});
