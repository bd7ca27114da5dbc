/**
 * Operations: liveness, readiness, Prometheus metrics, graceful shutdown within its bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer, http } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

let server: TestServer;
let record: string;

beforeAll(async () => {
  server = await TestServer.start();
  record = await server.createRecord('Leads');
});
afterAll(() => server?.stop());

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (want.every((w) => line.includes(w))) return Number(line.split(' ').pop());
  }
  return 0;
}

describe('health and readiness', () => {
  it('/healthz answers while the process lives', async () => {
    const res = await http('GET', `${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
  });

  it('/readyz checks the database and the blob store', async () => {
    expect((await http('GET', `${server.url}/readyz`)).json).toEqual({ status: 'ready', database: 'ok', blob_store: 'ok' });
    const store = server.runtime.store;
    const original = store.ping;
    store.ping = async () => {
      throw Object.assign(new Error('connection refused to 10.0.0.1 with password hunter2'), { code: 'ECONNREFUSED' });
    };
    try {
      const res = await http('GET', `${server.url}/readyz`);
      expect(res.status).toBe(503);
      expect(res.json).toEqual({ status: 'not ready', database: 'unreachable (ECONNREFUSED)', blob_store: 'ok' });
      expect(res.text).not.toContain('hunter2');
    } finally {
      store.ping = original;
    }
  });
});

describe('metrics', () => {
  it('counts requests and latencies by route and status, bytes in and out, and upload rejections by reason', async () => {
    const image = png(50, 50);
    const { body, contentType } = filePart(image, 'm.png', 'image/png');
    expect((await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': contentType }, body })).status).toBe(200);
    expect((await server.api('GET', `/crm/v8/Leads/${record}/photo`)).status).toBe(200);
    const bad = filePart('<svg xmlns="http://www.w3.org/2000/svg"/>', 'x.png', 'image/png');
    const rejected = await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': bad.contentType }, body: bad.body });
    expectZohoError(rejected, { status: 400, code: 'INVALID_DATA' });

    const res = await http('GET', `${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;
    expect(metricValue(text, 'crm_media_http_requests_total', { route: 'photo.upload', method: 'POST', status: '200' })).toBe(1);
    expect(metricValue(text, 'crm_media_http_requests_total', { route: 'photo.upload', method: 'POST', status: '400' })).toBe(1);
    expect(metricValue(text, 'crm_media_http_requests_total', { route: 'photo.download', method: 'GET', status: '200' })).toBe(1);
    expect(metricValue(text, 'crm_media_http_request_duration_seconds_count', { route: 'photo.download', status: '200' })).toBe(1);
    expect(metricValue(text, 'crm_media_request_body_bytes_total', { route: 'photo.upload' })).toBeGreaterThan(image.length);
    expect(metricValue(text, 'crm_media_response_body_bytes_total', { route: 'photo.download' })).toBe(image.length);
    expect(metricValue(text, 'crm_media_upload_rejections_total', { route: 'photo.upload', reason: 'INVALID_IMAGE' })).toBe(1);
    expect(text).toContain('crm_media_process_resident_memory_bytes');
  });
});

describe('graceful shutdown', () => {
  /**
   * A photo upload whose body arrives slowly: the head, a pause, the rest. `headSent` resolves once the server is
   * writing its bytes to the blob store (the request is then surely in flight).
   */
  function slowUpload(target: TestServer, recordId: string, image: Buffer, pauseMs: number) {
    const { body, contentType } = filePart(image, 'slow.png', 'image/png');
    const blobs = target.runtime.blobs;
    const put = blobs.put.bind(blobs);
    let storing!: () => void;
    const headSent = new Promise<void>((r) => (storing = r));
    blobs.put = (source) => {
      storing();
      return put(source);
    };
    async function* chunks() {
      yield body.subarray(0, 300);
      await new Promise((r) => setTimeout(r, pauseMs));
      yield body.subarray(300);
    }
    const done = target.api('POST', `/crm/v8/Leads/${recordId}/photo`, { headers: { 'content-type': contentType }, body: chunks() });
    // A cut upload rejects while the test is still awaiting stop(); mark it handled now so that rejection is not
    // reported as unhandled before the test inspects it.
    done.catch(() => undefined);
    return { headSent, done };
  }

  it('finishes an upload in flight, refuses new work, then stops', async () => {
    const s = await TestServer.start({ shutdownTimeoutMs: 10_000 });
    try {
      const id = await s.createRecord('Leads');
      const image = png(300, 200);
      const upload = slowUpload(s, id, image, 700);
      await upload.headSent;
      const stopped = s.server.stop();
      await new Promise((r) => setTimeout(r, 50));
      // New work is refused while the upload finishes (503 on a live connection, or the listener is gone).
      const late = await http('GET', `${s.url}/healthz`).catch((err: Error) => err);
      if (!(late instanceof Error)) expectZohoError(late, { status: 503, code: 'INTERNAL_ERROR' });
      const result = await upload.done;
      expect(result.status).toBe(200);
      await stopped;
      // The acknowledged upload is there after a restart.
      await s.restart();
      const got = await s.api('GET', `/crm/v8/Leads/${id}/photo`);
      expect(got.body.equals(image)).toBe(true);
    } finally {
      await s.stop();
    }
  });

  it('cuts uploads that outlast the shutdown bound, and stores nothing of them', async () => {
    const s = await TestServer.start({ shutdownTimeoutMs: 300 });
    try {
      const id = await s.createRecord('Leads');
      const upload = slowUpload(s, id, png(300, 200), 5_000);
      await upload.headSent;
      const before = await s.blobFiles();
      const started = Date.now();
      await s.server.stop();
      expect(Date.now() - started).toBeLessThan(4_000);
      await expect(upload.done).rejects.toThrow();
      await s.restart();
      expect(await s.blobFiles()).toEqual(before);
      expect((await s.api('GET', `/crm/v8/Leads/${id}/photo`)).status).toBe(204);
    } finally {
      await s.stop();
    }
  });
});
