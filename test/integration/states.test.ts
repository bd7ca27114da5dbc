/**
 * Record states × endpoints (docs/compatibility.md "Record states (locks and approvals)"): locks and approvals
 * refuse photo changes, photo downloads and record deletes with exact codes, messages and details; a rejected
 * photo may be replaced or deleted, which returns the record to normal; attachments are never affected; the
 * Records API GET reflects the state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Fixture,
  MSG,
  callEndpoint,
  expectError,
  expectFixtureIntact,
  expectSuccess,
  fixtureTarget,
  makeFixture,
} from '../helpers/endpoint-matrix.js';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer } from '../helpers/server.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';

let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(() => server?.stop());

const STATES = ['zia_vision_processing', 'merge_in_progress', 'awaiting_approval', 'photo_rejected', 'normal'] as const;
type State = (typeof STATES)[number];
const OPS = ['GET photo', 'POST photo', 'DELETE photo', 'POST attachment', 'DELETE attachment', 'Records DELETE'] as const;
type Op = (typeof OPS)[number];

const IMAGE_NOT_APPROVED = 'cannot get the record image that is not approved yet';
const LOCKED = 'You cannot perform this operation as the record is locked.';
const MERGE_LOCKED = 'The record under merge is locked';
const UPDATE_NOT_APPROVED = 'Cannot update record that is not approved yet';

type Expected = 'ok' | { code: string; message: string; details: (id: string) => Record<string, unknown> };

const zia = (id: string) => ({ id, action: 'zia_vision_processing' });
const merge = (id: string) => ({ id, action: 'merge_duplicates' });
const approval = (id: string) => ({ id });
const rejected = (id: string) => ({ id, action: 'zia_vision_rejected' });

/** The table of the docs, written out. */
const TABLE: Record<State, Record<Op, Expected>> = {
  zia_vision_processing: {
    'GET photo': { code: 'RECORD_LOCKED', message: IMAGE_NOT_APPROVED, details: zia },
    'POST photo': { code: 'RECORD_LOCKED', message: LOCKED, details: zia },
    'DELETE photo': { code: 'RECORD_LOCKED', message: LOCKED, details: zia },
    'POST attachment': 'ok',
    'DELETE attachment': 'ok',
    'Records DELETE': { code: 'RECORD_LOCKED', message: LOCKED, details: zia },
  },
  merge_in_progress: {
    'GET photo': { code: 'RECORD_LOCKED', message: IMAGE_NOT_APPROVED, details: merge },
    'POST photo': { code: 'RECORD_LOCKED', message: MERGE_LOCKED, details: merge },
    'DELETE photo': { code: 'RECORD_LOCKED', message: MERGE_LOCKED, details: merge },
    'POST attachment': 'ok',
    'DELETE attachment': 'ok',
    'Records DELETE': { code: 'RECORD_LOCKED', message: MERGE_LOCKED, details: merge },
  },
  awaiting_approval: {
    'GET photo': { code: 'NOT_APPROVED', message: IMAGE_NOT_APPROVED, details: approval },
    'POST photo': { code: 'NOT_APPROVED', message: UPDATE_NOT_APPROVED, details: approval },
    'DELETE photo': { code: 'NOT_APPROVED', message: UPDATE_NOT_APPROVED, details: approval },
    'POST attachment': 'ok',
    'DELETE attachment': 'ok',
    'Records DELETE': { code: 'NOT_APPROVED', message: UPDATE_NOT_APPROVED, details: approval },
  },
  photo_rejected: {
    'GET photo': { code: 'NOT_APPROVED', message: IMAGE_NOT_APPROVED, details: rejected },
    'POST photo': 'ok',
    'DELETE photo': 'ok',
    'POST attachment': 'ok',
    'DELETE attachment': 'ok',
    'Records DELETE': 'ok',
  },
  normal: {
    'GET photo': 'ok',
    'POST photo': 'ok',
    'DELETE photo': 'ok',
    'POST attachment': 'ok',
    'DELETE attachment': 'ok',
    'Records DELETE': 'ok',
  },
};

const NEW_PHOTO = png(7, 3);

function perform(op: Op, fx: Fixture): Promise<HttpResponse> {
  const t = fixtureTarget(fx);
  switch (op) {
    case 'GET photo':
      return callEndpoint(server, 'photo.download', t);
    case 'POST photo':
      return callEndpoint(server, 'photo.upload', t, { upload: filePart(NEW_PHOTO, 'new.png', 'image/png') });
    case 'DELETE photo':
      return callEndpoint(server, 'photo.delete', t);
    case 'POST attachment':
      return callEndpoint(server, 'attachment.upload', t);
    case 'DELETE attachment':
      return callEndpoint(server, 'attachment.delete', t);
    case 'Records DELETE':
      return server.api('DELETE', `/crm/v8/${fx.module}/${fx.recordId}`);
  }
}

async function stateOf(fx: Fixture): Promise<string | undefined> {
  return (await server.runtime.store.records.get(fx.org, fx.recordId))?.state;
}

describe(`states: record state × endpoint (${BACKEND})`, () => {
  const cases = STATES.flatMap((s) => OPS.map((op) => [s, op] as const));

  it.each(cases)('%s × %s', async (state, op) => {
    const fx = await makeFixture(server);
    await server.setState(fx.recordId, state);
    const blobsBefore = await server.blobFiles();
    const res = await perform(op, fx);
    const exp = TABLE[state][op];

    if (exp !== 'ok') {
      if (op === 'Records DELETE') {
        expect(res.status, res.text).toBe(400);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(res.json).toEqual({
          data: [{ code: exp.code, details: exp.details(fx.recordId), message: exp.message, status: 'error' }],
        });
      } else {
        expectError(res, 400, exp.code, exp.message, exp.details(fx.recordId));
      }
      // Refused: the state, the photo, the attachment and the blobs are as they were.
      expect(await stateOf(fx)).toBe(state);
      expect(await server.blobFiles()).toEqual(blobsBefore);
      await server.setState(fx.recordId, 'normal');
      await expectFixtureIntact(server, fx);
      return;
    }

    switch (op) {
      case 'GET photo':
        expect(res.status).toBe(200);
        expect(res.body.equals(fx.photo)).toBe(true);
        break;
      case 'POST photo':
        expectSuccess('photo.upload', res);
        break;
      case 'DELETE photo':
        expectSuccess('photo.delete', res);
        break;
      case 'POST attachment':
        expectSuccess('attachment.upload', res);
        break;
      case 'DELETE attachment':
        expectSuccess('attachment.delete', res);
        expect(await server.runtime.store.attachments.get(fx.org, fx.recordId, fx.attachmentId)).toBeUndefined();
        break;
      case 'Records DELETE':
        expect(res.status, res.text).toBe(200);
        expect(res.json).toEqual({ data: [{ code: 'SUCCESS', details: { id: fx.recordId }, message: 'record deleted', status: 'success' }] });
        expect(await server.runtime.store.records.get(fx.org, fx.recordId)).toBeUndefined();
        // Its photo and attachment bytes went with it.
        expect((await server.blobFiles()).length).toBe(blobsBefore.length - 2);
        return;
    }

    // A photo change on a rejected record returns it to normal; anything else leaves the state alone.
    const photoChange = op === 'POST photo' || op === 'DELETE photo';
    expect(await stateOf(fx)).toBe(state === 'photo_rejected' && photoChange ? 'normal' : state);
  });
});

describe(`states: bulk Records DELETE (${BACKEND})`, () => {
  it('?ids= with a locked, an unapproved and a normal record: 200, per-item results, only the normal one deleted', async () => {
    const locked = await server.createRecord('Leads');
    const pending = await server.createRecord('Leads');
    const plain = await server.createRecord('Leads');
    await server.setState(locked, 'zia_vision_processing');
    await server.setState(pending, 'awaiting_approval');
    const res = await server.api('DELETE', '/crm/v8/Leads', { query: { ids: `${locked},${pending},${plain}` } });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({
      data: [
        { code: 'RECORD_LOCKED', details: zia(locked), message: LOCKED, status: 'error' },
        { code: 'NOT_APPROVED', details: approval(pending), message: UPDATE_NOT_APPROVED, status: 'error' },
        { code: 'SUCCESS', details: { id: plain }, message: 'record deleted', status: 'success' },
      ],
    });
    expect(await server.runtime.store.records.get(server.orgId, locked)).toBeDefined();
    expect(await server.runtime.store.records.get(server.orgId, pending)).toBeDefined();
    expect(await server.runtime.store.records.get(server.orgId, plain)).toBeUndefined();
  });
});

describe(`states: recovering from a rejected photo (${BACKEND})`, () => {
  it('upload on photo_rejected → normal, and GET photo then returns the new photo', async () => {
    const fx = await makeFixture(server);
    await server.setState(fx.recordId, 'photo_rejected');
    expectError(await callEndpoint(server, 'photo.download', fixtureTarget(fx)), 400, 'NOT_APPROVED', IMAGE_NOT_APPROVED, rejected(fx.recordId));
    expectSuccess('photo.upload', await callEndpoint(server, 'photo.upload', fixtureTarget(fx), { upload: filePart(NEW_PHOTO, 'n.png', 'image/png') }));
    expect(await stateOf(fx)).toBe('normal');
    const got = await callEndpoint(server, 'photo.download', fixtureTarget(fx));
    expect(got.status).toBe(200);
    expect(got.body.equals(NEW_PHOTO)).toBe(true);
    const rec = await server.api('GET', `/crm/v8/Leads/${fx.recordId}`);
    expect(rec.json.data[0]).toMatchObject({ $approved: true, $approval_state: 'approved', $locked_for_me: false });
  });

  it('delete on photo_rejected → normal, and GET photo then answers 204', async () => {
    const fx = await makeFixture(server);
    await server.setState(fx.recordId, 'photo_rejected');
    expectSuccess('photo.delete', await callEndpoint(server, 'photo.delete', fixtureTarget(fx)));
    expect(await stateOf(fx)).toBe('normal');
    const got = await callEndpoint(server, 'photo.download', fixtureTarget(fx));
    expect(got.status).toBe(204);
    expect(got.body.length).toBe(0);
    expect(got.headers['content-type']).toBeUndefined();
  });

  it('a refused upload on a locked record stores nothing, and the lock lifted the same upload succeeds', async () => {
    const fx = await makeFixture(server);
    for (const state of ['zia_vision_processing', 'merge_in_progress', 'awaiting_approval'] as const) {
      await server.setState(fx.recordId, state);
      const before = await server.blobFiles();
      const res = await callEndpoint(server, 'photo.upload', fixtureTarget(fx), { upload: filePart(NEW_PHOTO, 'n.png', 'image/png') });
      expect(res.status).toBe(400);
      expect(await server.blobFiles()).toEqual(before);
      expect(await server.tempFiles()).toEqual([]);
    }
    await server.setState(fx.recordId, 'normal');
    await expectFixtureIntact(server, fx);
    expectSuccess('photo.upload', await callEndpoint(server, 'photo.upload', fixtureTarget(fx), { upload: filePart(NEW_PHOTO, 'n.png', 'image/png') }));
  });
});

describe(`states: attachments are unaffected (${BACKEND})`, () => {
  it.each(STATES)('in %s an attachment can be added and removed, file and link alike', async (state) => {
    const fx = await makeFixture(server);
    await server.setState(fx.recordId, state);
    const file = await callEndpoint(server, 'attachment.upload', fixtureTarget(fx));
    expectSuccess('attachment.upload', file);
    const link = await server.api('POST', `/crm/v8/Leads/${fx.recordId}/Attachments`, {
      query: { attachmentUrl: 'https://example.com/doc', title: 'doc' },
    });
    expectSuccess('attachment.upload', link);
    for (const id of [file.json.data[0].details.id, link.json.data[0].details.id, fx.attachmentId]) {
      expectSuccess('attachment.delete', await callEndpoint(server, 'attachment.delete', { ...fixtureTarget(fx), attachmentId: id }));
    }
    expect(await stateOf(fx)).toBe(state);
  });
});

describe(`states: the Records API GET reflects the state (${BACKEND})`, () => {
  const FLAGS: Record<State, { $approved: boolean; $approval_state: string; $locked_for_me: boolean }> = {
    normal: { $approved: true, $approval_state: 'approved', $locked_for_me: false },
    zia_vision_processing: { $approved: true, $approval_state: 'approved', $locked_for_me: true },
    merge_in_progress: { $approved: true, $approval_state: 'approved', $locked_for_me: true },
    awaiting_approval: { $approved: false, $approval_state: 'approval_process_pending', $locked_for_me: false },
    photo_rejected: { $approved: true, $approval_state: 'approved', $locked_for_me: false },
  };

  it.each(STATES)('%s: GET answers 200 with its flags', async (state) => {
    const id = await server.createRecord('Leads', server.devToken, { Last_Name: `State ${state}` });
    await server.setState(id, state);
    const res = await server.api('GET', `/crm/v8/Leads/${id}`);
    expect(res.status, res.text).toBe(200);
    expect(res.json.data[0]).toMatchObject({ Last_Name: `State ${state}`, id, ...FLAGS[state] });
  });

  it('awaiting_approval in particular shows $approved false', async () => {
    const id = await server.createRecord('Contacts');
    await server.setState(id, 'awaiting_approval');
    const res = await server.api('GET', `/crm/v2/Contacts/${id}`);
    expect(res.json.data[0].$approved).toBe(false);
  });
});

describe(`states: states are checked after access (${BACKEND})`, () => {
  it('a locked record in another org is INVALID_DATA, not RECORD_LOCKED (the state does not leak)', async () => {
    const fx = await makeFixture(server);
    await server.setState(fx.recordId, 'zia_vision_processing');
    const other = await server.createOrg();
    const res = await callEndpoint(server, 'photo.upload', fixtureTarget(fx), { token: other.adminToken });
    expectError(res, 400, 'INVALID_DATA', 'the related id given seems to be invalid', {});
    await server.setState(fx.recordId, 'normal');
  });

  it('a token without the scope is told so even on a locked record', async () => {
    const fx = await makeFixture(server);
    await server.setState(fx.recordId, 'merge_in_progress');
    const u = await server.createUser({ scopes: 'ZohoCRM.modules.contacts.ALL' });
    const res = await callEndpoint(server, 'photo.delete', fixtureTarget(fx), { token: u.token });
    expectError(res, 401, 'OAUTH_SCOPE_MISMATCH', MSG.OAUTH_SCOPE_MISMATCH, {});
  });
});
