/**
 * Each limit and fault as Zoho's official TypeScript SDKs (8.0 and 7.0) see it: an APIException with Zoho's code, not
 * an SDK failure (docs/zoho-api.md §12.4: the SDK picks its parser from the Content-Type, and the 429, the storage
 * refusal and the faulted 500 are all Zoho-shaped JSON). Also: JSON answers with `Content-Disposition: attachment;
 * filename=response.json` are still parsed as JSON.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { SDK_VERSIONS, Scratch, className, fileStream, initWithAccessToken, outcome } from '../helpers/sdk.js';
import { TestServer } from '../helpers/server.js';
import { heldUpload } from '../helpers/slow-upload.js';
import { eventually } from '../helpers/uploads.js';

let server: TestServer;
let scratch: Scratch;

beforeAll(async () => {
  server = await TestServer.start();
  scratch = new Scratch();
});
afterAll(async () => {
  await server?.stop();
  scratch?.remove();
});

describe.each(SDK_VERSIONS)('official TypeScript SDK $name', (v) => {
  const { sdk } = v;
  const recordOps = (module: string) => new sdk.Record.RecordOperations(module);

  async function orgFor(limits: Record<string, unknown>): Promise<{ id: string; token: string; record: string }> {
    const org = await server.createOrg();
    const record = await server.createRecord('Leads', org.adminToken);
    await server.admin('PUT', `/orgs/${org.id}/limits`, limits);
    await initWithAccessToken(v, server.url, org.adminToken, scratch.dir);
    return { id: org.id, token: org.adminToken, record };
  }

  function photoBody(path: string) {
    const body = new sdk.Record.FileBodyWrapper();
    body.setFile(fileStream(v, path));
    return body;
  }

  function attachmentBody(path: string) {
    const body = new sdk.Attachments.FileBodyWrapper();
    body.setFile(fileStream(v, path));
    return body;
  }

  it('credits spent: getPhoto answers an APIException TOO_MANY_REQUESTS (429)', async () => {
    const org = await orgFor({ credits: 1 });
    const first = await recordOps('Leads').getPhoto(BigInt(org.record));
    expect(first.getStatusCode()).toBe(204);
    const res = await recordOps('Leads').getPhoto(BigInt(org.record));
    expect(res.getStatusCode()).toBe(429);
    // got, under the SDK, retried the GET twice (with back-off) before giving the SDK the 429: three refusals.
    const refusals = server.server.journal.list({ orgId: org.id, status: 429 }, 100);
    expect(refusals.map((e) => e.marks)).toEqual([['limit:credits'], ['limit:credits'], ['limit:credits']]);
    expect(res.getObject()).toBeInstanceOf(sdk.Record.APIException);
    expect(outcome(res.getObject())).toMatchObject({ code: 'TOO_MANY_REQUESTS', status: 'error', message: 'the API credits of the 24-hour period are exceeded' });
  });

  it('concurrency: uploadPhoto while another upload of the same user and app is in flight', async () => {
    const org = await orgFor({ concurrency: 1 });
    const image = png(12, 12);
    const held = heldUpload(`${server.url}/crm/${v.apiVersion}/Leads/${org.record}/photo`, org.token, image.subarray(0, 8), image.subarray(8));
    await held.waiting;
    await eventually(() => server.admin('GET', `/orgs/${org.id}/limits`), (r) => r.usage.in_flight.length === 1);
    const res = await recordOps('Leads').uploadPhoto(BigInt(org.record), photoBody(scratch.file(`c-${v.name}.png`, image)));
    expect(res.getStatusCode()).toBe(429);
    expect(res.getObject()).toBeInstanceOf(sdk.Record.APIException);
    expect(outcome(res.getObject())).toMatchObject({ code: 'TOO_MANY_REQUESTS', message: 'the concurrency limit of the user for the app is exceeded' });
    held.finish();
    expect(((await held.response) as { status: number }).status).toBe(200);
  });

  it('storage full: uploadPhoto and uploadAttachments answer an APIException STORAGE_SPACE_EXCEEDED', async () => {
    const org = await orgFor({ storage_bytes: 1000 });
    const photo = await recordOps('Leads').uploadPhoto(BigInt(org.record), photoBody(scratch.file(`s-${v.name}.png`, Buffer.concat([png(8, 8), Buffer.alloc(2000)]))));
    expect(photo.getStatusCode()).toBe(400);
    expect(photo.getObject()).toBeInstanceOf(sdk.Record.APIException);
    expect(outcome(photo.getObject())).toMatchObject({ code: 'STORAGE_SPACE_EXCEEDED', status: 'error' });

    const att = await new sdk.Attachments.AttachmentsOperations().uploadAttachments(BigInt(org.record), 'Leads', attachmentBody(scratch.file(`s-${v.name}.bin`, randomBytes(5000))));
    expect(att.getStatusCode()).toBe(400);
    expect(att.getObject()).toBeInstanceOf(sdk.Attachments.APIException);
    expect(outcome(att.getObject())).toMatchObject({ code: 'STORAGE_SPACE_EXCEEDED', status: 'error' });
  });

  it('a fault rule\'s INTERNAL_ERROR is an APIException INTERNAL_ERROR (500); the JSON answers keep parsing', async () => {
    const org = await orgFor({ credits: 100 });
    const rule = await server.admin('POST', '/faults', { match: { operation: 'photo.download', org: org.id }, action: { error: 'INTERNAL_ERROR' } });
    try {
      const res = await recordOps('Leads').getPhoto(BigInt(org.record));
      expect(res.getStatusCode()).toBe(500);
      expect(res.getObject()).toBeInstanceOf(sdk.Record.APIException);
      expect(outcome(res.getObject())).toEqual({ code: 'INTERNAL_ERROR', message: 'Internal Server Error', status: 'error', details: {} });
      // The SDK's HTTP client (got) retries a GET answered 500 twice before the SDK sees the answer.
      const fired = (await server.admin('GET', '/faults')).faults.find((f: { id: string }) => f.id === rule.id).fired;
      expect(fired).toBe(3);
      // JSON answers carry Content-Disposition: attachment; filename=response.json, and the SDK still reads them.
      const ok = await recordOps('Leads').uploadPhoto(BigInt(org.record), photoBody(scratch.file(`ok-${v.name}.png`, png(8, 8))));
      expect(className(ok.getObject())).toBe('SuccessResponse');
    } finally {
      await server.admin('DELETE', `/faults/${rule.id}`);
    }
  });

  it('a module without tab permission: an APIException INVALID_MODULE', async () => {
    const user = await server.createUser({ permissions: { '*': { view: true, create: true, edit: true, delete: true }, Leads: { view: true, create: true, edit: true, delete: true, tab: false } } });
    const record = await server.createRecord('Leads');
    await initWithAccessToken(v, server.url, user.token, scratch.dir);
    const res = await recordOps('Leads').getPhoto(BigInt(record));
    expect(res.getStatusCode()).toBe(400);
    expect(res.getObject()).toBeInstanceOf(sdk.Record.APIException);
    expect(outcome(res.getObject())).toMatchObject({ code: 'INVALID_MODULE', message: 'the module name given seems to be invalid' });
  });
});
