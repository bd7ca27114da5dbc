/**
 * Zoho's official TypeScript SDKs (8.0 3.0.0 and 7.0 2.0.0) against the real server: every photo and attachment
 * operation, the errors a client sees, the SDK's side calls, and the OAuth flows (grant code, refresh, revoke).
 * Assertions are on what the SDK parsed (its classes, Choice values, Map details, BigInt ids, downloaded bytes),
 * which is what an SDK user sees. How the SDK builds requests and parses replies: docs/zoho-api.md §12.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pngHeaderOnly, png } from '../helpers/images.js';
import {
  SDK_VERSIONS,
  Scratch,
  type SdkSession,
  type SdkVersion,
  bufferStream,
  className,
  details,
  downloadedBytes,
  visibleDetails,
  fileStream,
  initSdk,
  initWithAccessToken,
  outcome,
  sdkThrows,
  val,
} from '../helpers/sdk.js';
import { TestServer } from '../helpers/server.js';

const ADMIN_EMAIL = 'admin@crm-media.local';
const GRANT_SCOPES = 'ZohoCRM.modules.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ,ZohoCRM.settings.ALL';
/** The SDK refreshes an access token when less than this many ms of its life remain (OAuthToken.getTokenExpiry). */
const SDK_REFRESH_MARGIN_MS = 5_000;
/** Access-token lifetime of the refresh-flow server: long enough for a few calls before the SDK's margin. */
const SHORT_LIFETIME_S = 8;

const PHOTO_MODULES = ['Leads', 'Contacts', 'Accounts', 'Products', 'Vendors'] as const;
const UNKNOWN_ID = '1234567890123456789';
const TXT = Buffer.from('minutes of the meeting\nline two\n', 'utf8');
const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n', 'latin1'), randomBytes(3000), Buffer.from('\n%%EOF\n', 'latin1')]);

let server: TestServer;
let scratch: Scratch;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  server = await TestServer.start();
  scratch = new Scratch();
});

afterAll(async () => {
  await server?.stop();
  scratch?.remove();
});

/** A self client of `user` in `srv`'s bootstrap org and a one-time grant code for it. */
async function selfClientGrant(srv: TestServer, scopes = GRANT_SCOPES, user = ADMIN_EMAIL) {
  const client = await srv.admin('POST', `/orgs/${srv.orgId}/oauth-clients`, { user });
  const grant = await srv.admin('POST', `/orgs/${srv.orgId}/oauth-clients/${client.client_id}/grant-codes`, { scopes });
  return { clientId: client.client_id as string, clientSecret: client.client_secret as string, code: grant.code as string };
}

function grantToken(v: SdkVersion, g: { clientId: string; clientSecret: string; code: string }) {
  return new v.sdk.OAuthBuilder().clientId(g.clientId).clientSecret(g.clientSecret).grantToken(g.code).build();
}

/** Workflow outbox events of `rule` about `recordId`. */
async function workflowEventsFor(recordId: string, ruleId: string): Promise<unknown[]> {
  const list = await server.admin('GET', `/orgs/${server.orgId}/workflow-deliveries?limit=1000`);
  return (list.deliveries as { rule_id: string; payload: { record_id: string } }[]).filter(
    (d) => d.payload.record_id === recordId && d.rule_id === ruleId,
  );
}

describe.each(SDK_VERSIONS)('official TypeScript SDK $name', (v) => {
  const { sdk } = v;
  const recordOps = (module: string) => new sdk.Record.RecordOperations(module);
  const attachmentOps = () => new sdk.Attachments.AttachmentsOperations();

  const asAdmin = () => initWithAccessToken(v, server.url, server.devToken, scratch.dir);

  function photoBody(stream: ReturnType<typeof fileStream>) {
    const body = new sdk.Record.FileBodyWrapper();
    body.setFile(stream);
    return body;
  }

  function attachmentBody(path: string) {
    const body = new sdk.Attachments.FileBodyWrapper();
    body.setFile(fileStream(v, path));
    return body;
  }

  async function uploadPhotoFile(module: string, id: string, path: string, params?: InstanceType<typeof sdk.ParameterMap>) {
    return recordOps(module).uploadPhoto(BigInt(id), photoBody(fileStream(v, path)), params);
  }

  async function getPhotoBytes(module: string, id: string): Promise<Buffer> {
    const res = await recordOps(module).getPhoto(BigInt(id));
    expect(className(res.getObject())).toBe('FileBodyWrapper');
    return downloadedBytes(res.getObject());
  }

  /** Uploads a file attachment through the SDK and returns the new attachment id. */
  async function uploadAttachmentFile(module: string, recordId: string, path: string): Promise<string> {
    const res = await attachmentOps().uploadAttachments(BigInt(recordId), module, attachmentBody(path));
    const wrapper = res.getObject();
    expect(className(wrapper)).toBe('ActionWrapper');
    const item = wrapper.getData()[0];
    expect(className(item)).toBe('SuccessResponse');
    return String(details(item.getDetails())['id']);
  }

  type Expected = Partial<ReturnType<typeof outcome>>;
  type Res = { getStatusCode(): number; getObject(): unknown };

  /**
   * The result is an APIException of the SDK package `family` with `expected` (the server's code, message and
   * details; details as far as this SDK version keeps them, see visibleDetails).
   */
  function expectApiException(family: 'record' | 'attachments', res: Res, status: number, expected: Expected) {
    expect(res.getObject()).toBeInstanceOf(family === 'record' ? sdk.Record.APIException : sdk.Attachments.APIException);
    expect(res.getStatusCode()).toBe(status);
    const got = outcome(res.getObject());
    expect(got.status).toBe('error');
    const want = expected.details ? { ...expected, details: visibleDetails(v, `${family}/api_exception`, expected.details) } : expected;
    expect(got).toMatchObject(want);
    if (want.details) expect(got.details).toEqual(want.details);
    return got;
  }
  const photoError = (res: Res, status: number, expected: Expected) => expectApiException('record', res, status, expected);
  const attachmentError = (res: Res, status: number, expected: Expected) => expectApiException('attachments', res, status, expected);

  beforeEach(async () => {
    await asAdmin();
  });

  describe('photos', () => {
    it.each(PHOTO_MODULES)('uploadPhoto from a file path, getPhoto, deletePhoto on %s', async (module) => {
      const id = await server.createRecord(module, server.devToken, module === 'Leads' || module === 'Contacts' ? { Last_Name: 'Boyle' } : { [`${module.slice(0, -1)}_Name`]: 'Acme' });
      const image = png(64, 48);
      const path = scratch.file(`face-${module.toLowerCase()}-${v.name}.png`, image);

      const up = await uploadPhotoFile(module, id, path);
      expect(up.getStatusCode()).toBe(200);
      expect(className(up.getObject())).toBe('SuccessResponse');
      expect(outcome(up.getObject())).toEqual({ code: 'SUCCESS', message: 'photo uploaded successfully', status: 'success', details: {} });

      const got = await recordOps(module).getPhoto(BigInt(id));
      expect(got.getStatusCode()).toBe(200);
      expect(className(got.getObject())).toBe('FileBodyWrapper');
      expect(got.getObject().getFile().getName()).toBe(`face-${module.toLowerCase()}-${v.name}.png`);
      expect(downloadedBytes(got.getObject()).equals(image)).toBe(true);

      const del = await recordOps(module).deletePhoto(BigInt(id));
      expect(del.getStatusCode()).toBe(200);
      expect(className(del.getObject())).toBe('SuccessResponse');
      expect(outcome(del.getObject())).toEqual({ code: 'SUCCESS', message: 'Photo deleted', status: 'success', details: {} });

      // No photo any more: 204 without a body, which the SDK turns into a null object.
      const after = await recordOps(module).getPhoto(BigInt(id));
      expect(after.getStatusCode()).toBe(204);
      expect(after.getObject()).toBeNull();

      // Deleting again: there is nothing to delete.
      const again = await recordOps(module).deletePhoto(BigInt(id));
      photoError(again, 400, { code: 'INVALID_DATA', message: 'No such photo exists', details: {} });
    });

    it('the module name is matched case-insensitively (RecordOperations("leads"))', async () => {
      const id = await server.createRecord('Leads');
      const image = png(10, 10);
      const up = await uploadPhotoFile('leads', id, scratch.file(`lower-${v.name}.png`, image));
      expect(className(up.getObject())).toBe('SuccessResponse');
      expect((await getPhotoBytes('LEADS', id)).equals(image)).toBe(true);
    });

    it('uploadPhoto from an in-memory Buffer (sent without a filename) is stored as photo.png', async () => {
      const id = await server.createRecord('Leads');
      const image = png(33, 21);
      const res = await recordOps('Leads').uploadPhoto(BigInt(id), photoBody(bufferStream(v, 'ignored-by-the-sdk.png', image)));
      expect(className(res.getObject())).toBe('SuccessResponse');
      expect(val(res.getObject().getMessage())).toBe('photo uploaded successfully');

      const got = await recordOps('Leads').getPhoto(BigInt(id));
      expect(got.getObject().getFile().getName()).toBe('photo.png');
      expect(downloadedBytes(got.getObject()).equals(image)).toBe(true);
    });

    it('uploadPhoto replaces the photo: the download is the new bytes, the old blob is gone', async () => {
      const id = await server.createRecord('Contacts');
      const first = png(20, 20);
      const second = png(40, 30);
      await uploadPhotoFile('Contacts', id, scratch.file(`first-${v.name}.png`, first));
      const blobsAfterFirst = await server.blobFiles();
      await uploadPhotoFile('Contacts', id, scratch.file(`second-${v.name}.png`, second));
      const got = await recordOps('Contacts').getPhoto(BigInt(id));
      expect(got.getObject().getFile().getName()).toBe(`second-${v.name}.png`);
      expect(downloadedBytes(got.getObject()).equals(second)).toBe(true);
      expect((await server.blobFiles()).length).toBe(blobsAfterFirst.length);
    });

    it('uploadPhoto with ParameterMap restrict_triggers=workflow fires no workflow rule; without it, the rule fires', async () => {
      const rule = await server.admin('POST', `/orgs/${server.orgId}/workflows`, {
        name: `photo rule ${v.name}`,
        module: 'Leads',
        event: 'photo_uploaded',
        url: 'http://127.0.0.1:9/hook',
      });
      const restricted = await server.createRecord('Leads');
      const params = new sdk.ParameterMap();
      await params.add(sdk.Record.UploadPhotoParam.RESTRICT_TRIGGERS, 'workflow');
      const res = await uploadPhotoFile('Leads', restricted, scratch.file(`restricted-${v.name}.png`, png(8, 8)), params);
      expect(className(res.getObject())).toBe('SuccessResponse');
      expect(val(res.getObject().getCode())).toBe('SUCCESS');
      expect((await getPhotoBytes('Leads', restricted)).equals(png(8, 8))).toBe(true);
      expect(await workflowEventsFor(restricted, rule.id)).toHaveLength(0);

      const plain = await server.createRecord('Leads');
      const res2 = await uploadPhotoFile('Leads', plain, scratch.file(`plain-${v.name}.png`, png(8, 8)));
      expect(className(res2.getObject())).toBe('SuccessResponse');
      expect(await workflowEventsFor(plain, rule.id)).toHaveLength(1);
    });
  });

  describe('attachments', () => {
    it('uploadAttachments (.txt and .pdf file paths) → ActionWrapper of SuccessResponse; getAttachment returns the exact bytes', async () => {
      const id = await server.createRecord('Leads');
      const txtPath = scratch.file(`minutes-${v.name}.txt`, TXT);
      const res = await attachmentOps().uploadAttachments(BigInt(id), 'Leads', attachmentBody(txtPath));
      expect(res.getStatusCode()).toBe(200);
      const wrapper = res.getObject();
      expect(className(wrapper)).toBe('ActionWrapper');
      expect(wrapper.getData()).toHaveLength(1);
      const item = wrapper.getData()[0];
      expect(className(item)).toBe('SuccessResponse');
      expect(val(item.getCode())).toBe('SUCCESS');
      expect(val(item.getStatus())).toBe('success');
      expect(val(item.getMessage())).toBe('attachment uploaded successfully');
      const d = item.getDetails() as Map<string, any>;
      expect(typeof d.get('id')).toBe('bigint');
      expect(d.get('Created_Time')).toBeInstanceOf(Date);
      expect(d.get('Modified_Time')).toBeInstanceOf(Date);
      expect(d.get('Created_By').getName()).toBe('Admin User');
      expect(String(d.get('Created_By').getId())).toBe(server.adminUserId);
      const txtId = String(d.get('id'));

      const pdfId = await uploadAttachmentFile('Leads', id, scratch.file(`report-${v.name}.pdf`, PDF));

      const txt = await attachmentOps().getAttachment(BigInt(txtId), BigInt(id), 'Leads');
      expect(txt.getStatusCode()).toBe(200);
      expect(className(txt.getObject())).toBe('FileBodyWrapper');
      expect(txt.getObject().getFile().getName()).toBe(`minutes-${v.name}.txt`);
      expect(downloadedBytes(txt.getObject()).equals(TXT)).toBe(true);
      // text/* is served as application/octet-stream, so that SDK 7.0 does not JSON-parse it.
      const direct = await server.api('GET', `/crm/${v.apiVersion}/Leads/${id}/Attachments/${txtId}`);
      expect(direct.headers['content-type']).toBe('application/octet-stream');

      const pdf = await attachmentOps().getAttachment(BigInt(pdfId), BigInt(id), 'leads');
      expect(className(pdf.getObject())).toBe('FileBodyWrapper');
      expect(pdf.getObject().getFile().getName()).toBe(`report-${v.name}.pdf`);
      expect(downloadedBytes(pdf.getObject()).equals(PDF)).toBe(true);
    });

    it('uploadUrlAttachments with attachmentUrl and title (query parameters, no body)', async () => {
      const id = await server.createRecord('Contacts');
      const params = new sdk.ParameterMap();
      await params.add(sdk.Attachments.UploadUrlAttachmentsParam.ATTACHMENTURL, 'https://example.com/docs/spec sheet.html?a=1&b=2');
      await params.add(sdk.Attachments.UploadUrlAttachmentsParam.TITLE, 'Spec sheet, v2: final');
      const res = await attachmentOps().uploadUrlAttachments(BigInt(id), 'contacts', params);
      expect(res.getStatusCode()).toBe(200);
      expect(className(res.getObject())).toBe('ActionWrapper');
      const item = res.getObject().getData()[0];
      expect(className(item)).toBe('SuccessResponse');
      expect(val(item.getMessage())).toBe('attachment uploaded successfully');
      const linkId = String(details(item.getDetails())['id']);

      const fields = new sdk.ParameterMap();
      await fields.add(sdk.Attachments.GetAttachmentsParam.FIELDS, 'File_Name,$type,$link_url,Size,$file_id');
      const list = await attachmentOps().getAttachments(BigInt(id), 'Contacts', fields);
      expect(className(list.getObject())).toBe('ResponseWrapper');
      const [link] = list.getObject().getData();
      expect(String(link.getId())).toBe(linkId);
      expect(link.getFileName()).toBe('Spec sheet, v2: final');
      expect(link.getType()).toBe('Link URL');
      expect(link.getLinkUrl()).toBe('https://example.com/docs/spec sheet.html?a=1&b=2');
      expect(link.getSize()).toBe('0');

      // A link has no bytes: 204, which the SDK gives as a null object.
      const got = await attachmentOps().getAttachment(BigInt(linkId), BigInt(id), 'Contacts');
      expect(got.getStatusCode()).toBe(204);
      expect(got.getObject()).toBeNull();
    });

    it('getAttachments with fields, ids, page and per_page parses into Attachment/Info', async () => {
      const id = await server.createRecord('Accounts', server.devToken, { Account_Name: 'Zylker' });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await uploadAttachmentFile('Accounts', id, scratch.file(`page-${i}-${v.name}.txt`, `file ${i}\n`)));

      const fields = 'File_Name,Size,Owner,Created_By,Modified_By,Created_Time,Modified_Time,Parent_Id,$type,$se_module,$editable,$file_id,$link_url';
      const params = new sdk.ParameterMap();
      await params.add(sdk.Attachments.GetAttachmentsParam.FIELDS, fields);
      const all = await attachmentOps().getAttachments(BigInt(id), 'Accounts', params);
      expect(all.getStatusCode()).toBe(200);
      expect(className(all.getObject())).toBe('ResponseWrapper');
      const data = all.getObject().getData();
      expect(data).toHaveLength(3);
      expect(data.map((a: any) => String(a.getId())).sort()).toEqual([...ids].sort());
      const first = data.find((a: any) => String(a.getId()) === ids[0]);
      expect(className(first)).toBe('Attachment');
      expect(first.getFileName()).toBe(`page-0-${v.name}.txt`);
      expect(first.getSize()).toBe(String(`file 0\n`.length));
      expect(first.getOwner().getName()).toBe('Admin User');
      expect(first.getOwner().getEmail()).toBe(ADMIN_EMAIL);
      expect(String(first.getCreatedBy().getId())).toBe(server.adminUserId);
      expect(first.getCreatedTime()).toBeInstanceOf(Date);
      expect(first.getModifiedTime()).toBeInstanceOf(Date);
      expect(String(first.getParentId().getId())).toBe(id);
      expect(first.getType()).toBe('File');
      expect(first.getSeModule()).toBe('Accounts');
      expect(first.getEditable()).toBe(true);
      expect(typeof first.getFileId()).toBe('string');
      expect(first.getLinkUrl() ?? null).toBeNull();
      const info = all.getObject().getInfo();
      expect(className(info)).toBe('Info');
      expect(info.getCount()).toBe(3);
      expect(info.getPage()).toBe(1);
      expect(info.getMoreRecords()).toBe(false);

      // Pages of two.
      const page1 = new sdk.ParameterMap();
      await page1.add(sdk.Attachments.GetAttachmentsParam.FIELDS, 'File_Name');
      await page1.add(sdk.Attachments.GetAttachmentsParam.PER_PAGE, 2);
      await page1.add(sdk.Attachments.GetAttachmentsParam.PAGE, 1);
      const p1 = await attachmentOps().getAttachments(BigInt(id), 'Accounts', page1);
      expect(p1.getObject().getData()).toHaveLength(2);
      expect(p1.getObject().getInfo().getPerPage()).toBe(2);
      expect(p1.getObject().getInfo().getMoreRecords()).toBe(true);
      const page2 = new sdk.ParameterMap();
      await page2.add(sdk.Attachments.GetAttachmentsParam.FIELDS, 'File_Name');
      await page2.add(sdk.Attachments.GetAttachmentsParam.PER_PAGE, 2);
      await page2.add(sdk.Attachments.GetAttachmentsParam.PAGE, 2);
      const p2 = await attachmentOps().getAttachments(BigInt(id), 'Accounts', page2);
      expect(p2.getObject().getData()).toHaveLength(1);
      expect(p2.getObject().getInfo().getPage()).toBe(2);
      expect(p2.getObject().getInfo().getMoreRecords()).toBe(false);
      const seen = [...p1.getObject().getData(), ...p2.getObject().getData()].map((a: any) => String(a.getId()));
      expect(seen.sort()).toEqual([...ids].sort());

      if (v.name === '8.0') {
        // page_token exists only in SDK 8.0.
        const next = p1.getObject().getInfo().getNextPageToken();
        expect(typeof next).toBe('string');
        const byToken = new sdk.ParameterMap();
        await byToken.add(sdk.Attachments.GetAttachmentsParam.FIELDS, 'File_Name');
        await byToken.add(sdk.Attachments.GetAttachmentsParam.PER_PAGE, 2);
        await byToken.add(sdk.Attachments.GetAttachmentsParam.PAGE_TOKEN, next);
        const t = await attachmentOps().getAttachments(BigInt(id), 'Accounts', byToken);
        expect(t.getObject().getData().map((a: any) => String(a.getId()))).toEqual(p2.getObject().getData().map((a: any) => String(a.getId())));
        expect(t.getObject().getInfo().getPreviousPageToken()).toEqual(expect.any(String));
      }

      // ids: only the attachments named.
      const byIds = new sdk.ParameterMap();
      await byIds.add(sdk.Attachments.GetAttachmentsParam.FIELDS, 'File_Name');
      await byIds.add(sdk.Attachments.GetAttachmentsParam.IDS, ids[1]!);
      const one = await attachmentOps().getAttachments(BigInt(id), 'Accounts', byIds);
      expect(one.getObject().getData().map((a: any) => String(a.getId()))).toEqual([ids[1]]);
      expect(one.getObject().getData()[0].getFileName()).toBe(`page-1-${v.name}.txt`);
    });

    it('getAttachments of a record without attachments → 204, null object', async () => {
      const id = await server.createRecord('Leads');
      const params = new sdk.ParameterMap();
      await params.add(sdk.Attachments.GetAttachmentsParam.FIELDS, 'File_Name');
      const res = await attachmentOps().getAttachments(BigInt(id), 'Leads', params);
      expect(res.getStatusCode()).toBe(204);
      expect(res.getObject()).toBeNull();
    });

    it('getAttachments without fields → APIException REQUIRED_PARAM_MISSING', async () => {
      const id = await server.createRecord('Leads');
      const res = await attachmentOps().getAttachments(BigInt(id), 'Leads');
      attachmentError(res, 400, { code: 'REQUIRED_PARAM_MISSING', message: 'One of the expected parameter is missing', details: { param_name: 'fields' } });
    });

    it('deleteAttachment → SuccessResponse "record deleted"; then the id is unknown', async () => {
      const id = await server.createRecord('Leads');
      const attId = await uploadAttachmentFile('Leads', id, scratch.file(`to-delete-${v.name}.txt`, TXT));
      const blobs = await server.blobFiles();

      const res = await attachmentOps().deleteAttachment(BigInt(attId), BigInt(id), 'Leads');
      expect(res.getStatusCode()).toBe(200);
      expect(className(res.getObject())).toBe('ActionWrapper');
      const [item] = res.getObject().getData();
      expect(className(item)).toBe('SuccessResponse');
      expect(outcome(item)).toEqual({ code: 'SUCCESS', message: 'record deleted', status: 'success', details: { id: attId } });
      expect((await server.blobFiles()).length).toBe(blobs.length - 1);

      const again = await attachmentOps().deleteAttachment(BigInt(attId), BigInt(id), 'Leads');
      attachmentError(again, 400, { code: 'INVALID_DATA', message: 'the id given seems to be invalid', details: { id: attId, resource_path_index: 3 } });
      const download = await attachmentOps().getAttachment(BigInt(attId), BigInt(id), 'Leads');
      attachmentError(download, 400, { code: 'INVALID_DATA', message: 'the id given seems to be invalid', details: { id: attId, resource_path_index: 3 } });
    });

    it('deleteAttachments with ids: one result per id, a bad id gets its own error item', async () => {
      const id = await server.createRecord('Leads');
      const a = await uploadAttachmentFile('Leads', id, scratch.file(`bulk-a-${v.name}.txt`, 'a'));
      const b = await uploadAttachmentFile('Leads', id, scratch.file(`bulk-b-${v.name}.txt`, 'b'));
      const keep = await uploadAttachmentFile('Leads', id, scratch.file(`bulk-keep-${v.name}.txt`, 'keep'));
      const blobs = await server.blobFiles();

      const params = new sdk.ParameterMap();
      // Added one by one: the SDK joins them into a single comma list (ids=a%2Cbad%2Cb).
      await params.add(sdk.Attachments.DeleteAttachmentsParam.IDS, a);
      await params.add(sdk.Attachments.DeleteAttachmentsParam.IDS, UNKNOWN_ID);
      await params.add(sdk.Attachments.DeleteAttachmentsParam.IDS, b);
      const res = await attachmentOps().deleteAttachments(BigInt(id), 'leads', params);
      expect(res.getStatusCode()).toBe(200);
      expect(className(res.getObject())).toBe('ActionWrapper');
      const items = res.getObject().getData();
      expect(items).toHaveLength(3);
      expect(outcome(items[0])).toEqual({ code: 'SUCCESS', message: 'record deleted', status: 'success', details: { id: a } });
      expect(outcome(items[2])).toEqual({ code: 'SUCCESS', message: 'record deleted', status: 'success', details: { id: b } });
      // The SDK's attachments ActionResponse has only SuccessResponse (config/json_details.json), so the error
      // item comes out as a SuccessResponse whose status is "error": a client must look at getStatus().
      expect(className(items[1])).toBe('SuccessResponse');
      expect(outcome(items[1])).toEqual({ code: 'INVALID_DATA', message: 'the id given seems to be invalid', status: 'error', details: { id: UNKNOWN_ID } });

      const fields = new sdk.ParameterMap();
      await fields.add(sdk.Attachments.GetAttachmentsParam.FIELDS, 'File_Name');
      const left = await attachmentOps().getAttachments(BigInt(id), 'Leads', fields);
      expect(left.getObject().getData().map((x: any) => String(x.getId()))).toEqual([keep]);
      expect((await server.blobFiles()).length).toBe(blobs.length - 2);
    });
  });

  describe('errors come back as APIException', () => {
    it('unknown record id', async () => {
      const blobs = await server.blobFiles();
      const png1 = scratch.file(`unknown-${v.name}.png`, png(5, 5));
      photoError(await recordOps('Leads').getPhoto(BigInt(UNKNOWN_ID)), 400, {
        code: 'INVALID_DATA',
        message: 'the id given seems to be invalid',
        details: {},
      });
      photoError(await uploadPhotoFile('Leads', UNKNOWN_ID, png1), 400, {
        code: 'INVALID_DATA',
        message: 'the related id given seems to be invalid',
        details: {},
      });
      photoError(await recordOps('Leads').deletePhoto(BigInt(UNKNOWN_ID)), 400, {
        code: 'INVALID_DATA',
        message: 'the id given seems to be invalid',
        details: {},
      });
      const attachment = { code: 'INVALID_DATA', message: 'the related id given seems to be invalid', details: { related_status: 'invalid', resource_path_index: 1 } };
      attachmentError(
        await attachmentOps().uploadAttachments(BigInt(UNKNOWN_ID), 'Leads', attachmentBody(scratch.file(`unknown-${v.name}.txt`, TXT))),
        400,
        attachment,
      );
      const fields = new sdk.ParameterMap();
      await fields.add(sdk.Attachments.GetAttachmentsParam.FIELDS, 'File_Name');
      attachmentError(await attachmentOps().getAttachments(BigInt(UNKNOWN_ID), 'Leads', fields), 400, { code: 'INVALID_DATA' });
      attachmentError(await attachmentOps().deleteAttachment(BigInt(UNKNOWN_ID), BigInt(UNKNOWN_ID), 'Leads'), 400, attachment);
      expect(await server.blobFiles()).toEqual(blobs);
      expect(await server.tempFiles()).toEqual([]);
    });

    it('a token without the needed scope → OAUTH_SCOPE_MISMATCH', async () => {
      const id = await server.createRecord('Leads');
      const image = png(12, 12);
      await uploadPhotoFile('Leads', id, scratch.file(`scoped-${v.name}.png`, image));
      const blobs = await server.blobFiles();
      const mismatch = { code: 'OAUTH_SCOPE_MISMATCH', message: 'invalid oauth scope to access this URL', details: {} };

      const usersOnly = await server.createUser({ scopes: 'ZohoCRM.users.READ', admin: true });
      await initWithAccessToken(v, server.url, usersOnly.token, scratch.dir);
      photoError(await recordOps('Leads').getPhoto(BigInt(id)), 401, mismatch);
      photoError(await uploadPhotoFile('Leads', id, scratch.file(`scoped2-${v.name}.png`, png(3, 3))), 401, mismatch);
      photoError(await recordOps('Leads').deletePhoto(BigInt(id)), 401, mismatch);
      attachmentError(await attachmentOps().uploadAttachments(BigInt(id), 'Leads', attachmentBody(scratch.file(`scoped-${v.name}.txt`, TXT))), 401, mismatch);

      // The module scope alone is enough for photos but not for attachments.
      const leadsOnly = await server.createUser({ scopes: 'ZohoCRM.modules.leads.ALL', admin: true });
      await initWithAccessToken(v, server.url, leadsOnly.token, scratch.dir);
      expect((await getPhotoBytes('Leads', id)).equals(image)).toBe(true);
      attachmentError(await attachmentOps().uploadAttachments(BigInt(id), 'Leads', attachmentBody(scratch.file(`scoped3-${v.name}.txt`, TXT))), 401, mismatch);

      await asAdmin();
      expect((await getPhotoBytes('Leads', id)).equals(image)).toBe(true);
      expect(await server.blobFiles()).toEqual(blobs);
    });

    it('a module without photos (Tasks) → INVALID_MODULE "The given module is not supported in API"', async () => {
      const id = await server.createRecord('Tasks', server.devToken, { Subject: 'Call back' });
      const unsupported = { code: 'INVALID_MODULE', message: 'The given module is not supported in API' };
      photoError(await recordOps('Tasks').getPhoto(BigInt(id)), 400, unsupported);
      photoError(await recordOps('Tasks').deletePhoto(BigInt(id)), 400, unsupported);
      // Attachments are served for Tasks.
      const attId = await uploadAttachmentFile('Tasks', id, scratch.file(`task-${v.name}.txt`, TXT));
      const got = await attachmentOps().getAttachment(BigInt(attId), BigInt(id), 'Tasks');
      expect(downloadedBytes(got.getObject()).equals(TXT)).toBe(true);
    });

    it('an unknown module → INVALID_MODULE "the module name given seems to be invalid"', async () => {
      const res = await recordOps('Nonexistent_Things').getPhoto(BigInt(UNKNOWN_ID));
      photoError(res, 400, { code: 'INVALID_MODULE', message: 'the module name given seems to be invalid', details: { resource_path_index: 0 } });
    });

    it('a locked record (Zia vision processing) → RECORD_LOCKED on getPhoto and uploadPhoto; attachments still work', async () => {
      const id = await server.createRecord('Leads');
      const image = png(16, 9);
      await uploadPhotoFile('Leads', id, scratch.file(`locked-${v.name}.png`, image));
      const blobs = await server.blobFiles();
      await server.setState(id, 'zia_vision_processing');
      try {
        photoError(await recordOps('Leads').getPhoto(BigInt(id)), 400, {
          code: 'RECORD_LOCKED',
          message: 'cannot get the record image that is not approved yet',
          details: { id, action: 'zia_vision_processing' },
        });
        photoError(await uploadPhotoFile('Leads', id, scratch.file(`locked2-${v.name}.png`, png(4, 4))), 400, {
          code: 'RECORD_LOCKED',
          message: 'You cannot perform this operation as the record is locked.',
          details: { id, action: 'zia_vision_processing' },
        });
        photoError(await recordOps('Leads').deletePhoto(BigInt(id)), 400, { code: 'RECORD_LOCKED' });
        expect(await server.blobFiles()).toEqual(blobs);
        const attId = await uploadAttachmentFile('Leads', id, scratch.file(`locked-${v.name}.txt`, TXT));
        await attachmentOps().deleteAttachment(BigInt(attId), BigInt(id), 'Leads');
      } finally {
        await server.setState(id, 'normal');
      }
      expect((await getPhotoBytes('Leads', id)).equals(image)).toBe(true);
    });

    it('a PNG over 10 megapixels → FILE_SIZE_MORE_THAN_ALLOWED_SIZE (415), the old photo stays', async () => {
      const id = await server.createRecord('Leads');
      const image = png(30, 20);
      await uploadPhotoFile('Leads', id, scratch.file(`small-${v.name}.png`, image));
      const blobs = await server.blobFiles();
      const huge = scratch.file(`huge-${v.name}.png`, pngHeaderOnly(4000, 2501));
      photoError(await uploadPhotoFile('Leads', id, huge), 415, {
        code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
        message: 'please check if the file size is in the correct range',
        details: {},
      });
      expect((await getPhotoBytes('Leads', id)).equals(image)).toBe(true);
      expect(await server.blobFiles()).toEqual(blobs);
      expect(await server.tempFiles()).toEqual([]);
    });

    it('a file that is not an image → INVALID_DATA "The image format is invalid."', async () => {
      const id = await server.createRecord('Leads');
      const res = await uploadPhotoFile('Leads', id, scratch.file(`not-an-image-${v.name}.png`, TXT));
      photoError(res, 400, { code: 'INVALID_DATA', message: 'The image format is invalid.', details: {} });
      expect((await recordOps('Leads').getPhoto(BigInt(id))).getStatusCode()).toBe(204);
    });

    it('an unknown token → INVALID_TOKEN', async () => {
      const id = await server.createRecord('Leads');
      const bogus = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
      await initWithAccessToken(v, server.url, bogus, scratch.dir);
      const invalid = { code: 'INVALID_TOKEN', message: 'invalid oauth token', details: {} };
      photoError(await recordOps('Leads').getPhoto(BigInt(id)), 401, invalid);
      photoError(await uploadPhotoFile('Leads', id, scratch.file(`bogus-${v.name}.png`, png(2, 2))), 401, invalid);
      const fields = new sdk.ParameterMap();
      await fields.add(sdk.Attachments.GetAttachmentsParam.FIELDS, 'File_Name');
      attachmentError(await attachmentOps().getAttachments(BigInt(id), 'Leads', fields), 401, invalid);
      await asAdmin();
      expect((await recordOps('Leads').getPhoto(BigInt(id))).getStatusCode()).toBe(204);
    });
  });

  describe('side calls', () => {
    it('UsersOperations.getUsers(type=CurrentUser) parses into a ResponseWrapper of User', async () => {
      const params = new sdk.ParameterMap();
      const type = v.name === '8.0' ? 'CurrentUser' : new sdk.Choice('CurrentUser');
      await params.add(sdk.Users.GetUsersParam.TYPE, type as never);
      const res = await new sdk.Users.UsersOperations().getUsers(params);
      expect(res.getStatusCode()).toBe(200);
      expect(className(res.getObject())).toBe('ResponseWrapper');
      const users = res.getObject().getUsers();
      expect(users).toHaveLength(1);
      expect(users[0].getEmail()).toBe(ADMIN_EMAIL);
      expect(String(users[0].getId())).toBe(server.adminUserId);
      expect(users[0].getFullName()).toBe('Admin User');
    });

    it('OrgOperations.getOrganization parses into a ResponseWrapper of Org', async () => {
      const res = await new sdk.Org.OrgOperations().getOrganization();
      expect(res.getStatusCode()).toBe(200);
      expect(className(res.getObject())).toBe('ResponseWrapper');
      const [org] = res.getObject().getOrg();
      expect(String(org.getId())).toBe(server.orgId);
      expect(String(org.getZgid())).toBe(server.orgId);
      expect(typeof org.getCompanyName()).toBe('string');
    });

    it('ModulesOperations.getModules parses into a ResponseWrapper of Module', async () => {
      const res = await new sdk.Modules.ModulesOperations().getModules();
      expect(res.getStatusCode()).toBe(200);
      expect(className(res.getObject())).toBe('ResponseWrapper');
      const modules = res.getObject().getModules();
      const leads = modules.find((m: any) => m.getAPIName() === 'Leads');
      expect(leads).toBeDefined();
      expect(leads.getAPISupported()).toBe(true);
      expect(val(leads.getGeneratedType())).toBe('default');
    });

    it('FieldsOperations.getFields(module=Leads) parses into a ResponseWrapper of Field', async () => {
      const params = new sdk.ParameterMap();
      await params.add(sdk.Fields.GetFieldsParam.MODULE, 'Leads');
      const res = await new sdk.Fields.FieldsOperations().getFields(params);
      expect(res.getStatusCode()).toBe(200);
      expect(className(res.getObject())).toBe('ResponseWrapper');
      const fields = res.getObject().getFields();
      expect(fields.length).toBeGreaterThan(0);
      expect(fields.map((f: any) => f.getAPIName())).toContain('Last_Name');
      expect(typeof fields[0].getId()).toBe('bigint');
    });
  });

  describe('OAuth: self client and grant code', () => {
    it('the SDK exchanges the grant code, makes its side calls, and then works', async () => {
      const g = await selfClientGrant(server);
      const session: SdkSession = await initSdk(v, server.url, grantToken(v, g), scratch.dir);
      const saved = session.store.last!;
      expect(saved.accessToken).toMatch(/^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$/);
      expect(saved.refreshToken).toMatch(/^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$/);
      // The user name is only set when GET /users?type=CurrentUser and GET /org both parsed (failures are only logged).
      expect(saved.userName).toBe(`${ADMIN_EMAIL}:${server.orgId}`);
      const expiresIn = Number(saved.expiresIn);
      expect(expiresIn).toBeGreaterThan(Date.now() + 3000_000);

      const id = await server.createRecord('Vendors', server.devToken, { Vendor_Name: 'Zylker Supplies' });
      const image = png(7, 7);
      const up = await uploadPhotoFile('Vendors', id, scratch.file(`grant-${v.name}.png`, image));
      expect(className(up.getObject())).toBe('SuccessResponse');
      expect((await getPhotoBytes('Vendors', id)).equals(image)).toBe(true);
      const attId = await uploadAttachmentFile('Vendors', id, scratch.file(`grant-${v.name}.txt`, TXT));
      const att = await attachmentOps().getAttachment(BigInt(attId), BigInt(id), 'Vendors');
      expect(downloadedBytes(att.getObject()).equals(TXT)).toBe(true);
      const del = await attachmentOps().deleteAttachment(BigInt(attId), BigInt(id), 'Vendors');
      expect(val(del.getObject().getData()[0].getStatus())).toBe('success');
      const photoDel = await recordOps('Vendors').deletePhoto(BigInt(id));
      expect(val(photoDel.getObject().getMessage())).toBe('Photo deleted');

      // The grant code was one-time: a second exchange fails inside the SDK's token step.
      const err = await sdkThrows(() => initSdk(v, server.url, grantToken(v, g), scratch.dir));
      expect(err.name).toBe('SDKException');
      expect(err.code).toBe('INVALID TOKEN ERROR');
      expect(err.message).toBe('invalid_code');
    });
  });
});

describe('OAuth refresh and revoke (access tokens live a few seconds)', () => {
  let short: TestServer;

  beforeAll(async () => {
    short = await TestServer.start({ accessTokenLifetimeS: SHORT_LIFETIME_S });
  });

  afterAll(async () => {
    await short?.stop();
  });

  it.each(SDK_VERSIONS)('SDK $name refreshes with grant_type=refresh_token, keeps working, and fails once revoked', async (v) => {
    expect(SHORT_LIFETIME_S * 1000).toBeGreaterThan(SDK_REFRESH_MARGIN_MS);
    const g = await selfClientGrant(short);
    const session = await initSdk(v, short.url, grantToken(v, g), scratch.dir);
    const first = session.store.last!;
    const refreshToken = first.refreshToken!;
    expect(first.userName).toBe(`${ADMIN_EMAIL}:${short.orgId}`);

    const id = await short.createRecord('Leads');
    const image = png(9, 9);
    const ops = new v.sdk.Record.RecordOperations('Leads');
    const body = new v.sdk.Record.FileBodyWrapper();
    body.setFile(fileStream(v, scratch.file(`refresh-${v.name}.png`, image)));
    expect(className((await ops.uploadPhoto(BigInt(id), body)).getObject())).toBe('SuccessResponse');

    // Keep calling until the SDK's stored expiry (less its margin) has passed and it has refreshed; every call works.
    let refreshed = false;
    for (let i = 0; i < 80 && !refreshed; i++) {
      const res = await ops.getPhoto(BigInt(id));
      expect(className(res.getObject())).toBe('FileBodyWrapper');
      expect(downloadedBytes(res.getObject()).equals(image)).toBe(true);
      refreshed = session.store.last!.accessToken !== first.accessToken;
      if (!refreshed) await sleep(250);
    }
    expect(refreshed).toBe(true);
    const second = session.store.last!;
    expect(second.accessToken).toMatch(/^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$/);
    // A refresh answer carries no refresh token: the SDK keeps the one it has.
    expect(second.refreshToken).toBe(refreshToken);
    expect(Number(second.expiresIn)).toBeGreaterThan(Number(first.expiresIn));
    // The server minted the new token from the refresh token: two OAuth tokens for the client, both live.
    const tokens = (await short.admin('GET', `/orgs/${short.orgId}/tokens`)).tokens as { label: string; revoked_at: string | null }[];
    expect(tokens.filter((t) => t.label === 'oauth Self Client' && t.revoked_at === null).length).toBeGreaterThanOrEqual(2);
    // The new token works on its own.
    expect((await short.api('GET', `/crm/${v.apiVersion}/Leads/${id}/photo`, { token: second.accessToken! })).status).toBe(200);

    // Revoke the refresh token (Zoho: POST {accounts}/oauth/v2/token/revoke?token=…): every token minted from it goes.
    const revoked = await short.api('POST', '/oauth/v2/token/revoke', { token: null, query: { token: refreshToken } });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toEqual({ status: 'success' });

    // The SDK's current access token is still fresh in its own eyes, so it sends it and gets INVALID_TOKEN.
    const now = await ops.getPhoto(BigInt(id));
    expect(className(now.getObject())).toBe('APIException');
    expect(now.getStatusCode()).toBe(401);
    expect(outcome(now.getObject())).toMatchObject({ code: 'INVALID_TOKEN', message: 'invalid oauth token' });

    // Once its expiry comes near, the SDK tries to refresh and the token endpoint refuses: an SDKException.
    let failure: Awaited<ReturnType<typeof sdkThrows>> | undefined;
    for (let i = 0; i < 80 && !failure; i++) {
      try {
        const res = await ops.getPhoto(BigInt(id));
        expect(outcome(res.getObject()).code).toBe('INVALID_TOKEN');
        await sleep(250);
      } catch (err) {
        const e = err as { constructor: { name: string }; code?: unknown; message: string };
        failure = { name: e.constructor.name, code: e.code, message: e.message };
      }
    }
    expect(failure).toEqual({ name: 'SDKException', code: 'INVALID TOKEN ERROR', message: 'invalid_code' });
    // And the photo is untouched.
    expect((await short.api('GET', `/crm/${v.apiVersion}/Leads/${id}/photo`)).body.equals(image)).toBe(true);
  });
});
