/**
 * The sample requests of Zoho's pages for the five endpoints (docs/zoho-api.md §1.1), replayed against a record made
 * through the Records API, with the sample responses compared field by field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart, multipart } from '../helpers/multipart.js';
import { TestServer } from '../helpers/server.js';

let server: TestServer;
let record: string;

beforeAll(async () => {
  server = await TestServer.start();
  record = await server.createRecord('Leads');
});
afterAll(() => server?.stop());

const ZOHO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/;
const ID = /^\d{19}$/;

describe(`spec samples (${process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk'})`, () => {
  const image = png(64, 48);

  it('upload-photo: POST /crm/v7/Leads/{id}/photo?restrict_triggers=workflow -F file=@img1.png', async () => {
    const { body, contentType } = filePart(image, 'img1.png', 'image/png');
    const res = await server.api('POST', `/crm/v7/Leads/${record}/photo?restrict_triggers=workflow`, {
      headers: { 'content-type': contentType },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json).toEqual({ code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' });
  });

  it('download-photo: GET /crm/v7/Leads/{id}/photo', async () => {
    const res = await server.api('GET', `/crm/v7/Leads/${record}/photo`);
    expect(res.status).toBe(200);
    expect(res.body.equals(image)).toBe(true);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-length']).toBe(String(image.length));
    expect(res.headers['content-disposition']).toBe('attachment; filename="img1.png"');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('delete-photo: DELETE /crm/v8/Leads/{id}/photo', async () => {
    const res = await server.api('DELETE', `/crm/v8/Leads/${record}/photo`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ code: 'SUCCESS', details: {}, message: 'Photo deleted', status: 'success' });
    const after = await server.api('GET', `/crm/v8/Leads/${record}/photo`);
    expect(after.status).toBe(204);
    expect(after.body.length).toBe(0);
  });

  let attachmentId = '';

  it('upload-attachment: POST /crm/v7/Leads/{id}/Attachments -F file=@attachment1.txt', async () => {
    const { body, contentType } = filePart('attachment one\n', 'attachment1.txt', 'text/plain');
    const res = await server.api('POST', `/crm/v7/Leads/${record}/Attachments`, { headers: { 'content-type': contentType }, body });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json)).toEqual(['data']);
    const item = res.json.data[0];
    expect(item).toMatchObject({ code: 'SUCCESS', message: 'attachment uploaded successfully', status: 'success' });
    expect(Object.keys(item.details)).toEqual(['Modified_Time', 'Modified_By', 'Created_Time', 'id', 'Created_By']);
    expect(item.details.Modified_Time).toMatch(ZOHO_TIME);
    expect(item.details.Created_Time).toMatch(ZOHO_TIME);
    expect(item.details.id).toMatch(ID);
    expect(item.details.Created_By).toEqual({ name: 'Admin User', id: server.adminUserId });
    expect(item.details.Modified_By).toEqual({ name: 'Admin User', id: server.adminUserId });
    attachmentId = item.details.id;
  });

  it('upload-attachment: -F attachmentUrl=https://www.zohocorp.com (link)', async () => {
    const { body, contentType } = multipart([{ name: 'attachmentUrl', data: 'https://www.zohocorp.com' }]);
    const res = await server.api('POST', `/crm/v7/Leads/${record}/Attachments`, { headers: { 'content-type': contentType }, body });
    expect(res.status).toBe(200);
    expect(res.json.data[0]).toMatchObject({ code: 'SUCCESS', message: 'attachment uploaded successfully', status: 'success' });
  });

  it('delete-attachment: DELETE /crm/v7/Leads/{id}/Attachments/{attachment_id}', async () => {
    const res = await server.api('DELETE', `/crm/v7/Leads/${record}/Attachments/${attachmentId}`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      data: [{ code: 'SUCCESS', details: { id: attachmentId }, message: 'record deleted', status: 'success' }],
    });
  });
});
