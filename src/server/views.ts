/**
 * Zoho's JSON shapes for successful responses. Key order follows Zoho's samples (clients should not care, but
 * people diff responses against the docs).
 */
import type { AttachmentField, AttachmentPage } from '../domain/attachments.js';
import type { DirectoryUser, FieldInfo, ModuleListing, UserNames } from '../domain/directory.js';
import type { Attachment, CrmRecord, Org } from '../domain/entities.js';
import { formatZohoTime } from '../domain/time.js';

export function userRef(users: UserNames, id: string): { name: string; id: string } {
  return { name: users.nameOf(id), id };
}

export const PHOTO_UPLOADED = { code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' };
export const PHOTO_DELETED = { code: 'SUCCESS', details: {}, message: 'Photo deleted', status: 'success' };

export function attachmentUploaded(org: Org, users: UserNames, a: Attachment) {
  return {
    data: [
      {
        code: 'SUCCESS',
        details: {
          Modified_Time: formatZohoTime(a.modifiedAt, org.timeZone),
          Modified_By: userRef(users, a.modifiedBy),
          Created_Time: formatZohoTime(a.createdAt, org.timeZone),
          id: a.id,
          Created_By: userRef(users, a.createdBy),
        },
        message: 'attachment uploaded successfully',
        status: 'success',
      },
    ],
  };
}

export function deletedItem(id: string) {
  return { code: 'SUCCESS', details: { id }, message: 'record deleted', status: 'success' };
}

export function recordAdded(org: Org, users: UserNames, r: CrmRecord) {
  return {
    code: 'SUCCESS',
    details: {
      Modified_Time: formatZohoTime(r.modifiedAt, org.timeZone),
      Modified_By: userRef(users, r.modifiedBy),
      Created_Time: formatZohoTime(r.createdAt, org.timeZone),
      id: r.id,
      Created_By: userRef(users, r.createdBy),
    },
    message: 'record added',
    status: 'success',
  };
}

export function recordView(org: Org, users: UserNames, r: CrmRecord): Record<string, unknown> {
  const email = users.emailOf(r.ownerId);
  return {
    ...r.data,
    Owner: { name: users.nameOf(r.ownerId), id: r.ownerId, ...(email ? { email } : {}) },
    Created_By: userRef(users, r.createdBy),
    Modified_By: userRef(users, r.modifiedBy),
    Created_Time: formatZohoTime(r.createdAt, org.timeZone),
    Modified_Time: formatZohoTime(r.modifiedAt, org.timeZone),
    $approved: r.state !== 'awaiting_approval',
    $approval_state: r.state === 'awaiting_approval' ? 'approval_process_pending' : 'approved',
    $locked_for_me: r.state === 'zia_vision_processing' || r.state === 'merge_in_progress',
    id: r.id,
  };
}

export function userWithEmail(users: UserNames, id: string): { name: string; id: string; email: string | null } {
  return { name: users.nameOf(id), id, email: users.emailOf(id) ?? null };
}

/** One attachment as GET …/Attachments shows it: the requested fields (in Zoho's order) plus `id`. */
export function attachmentView(
  org: Org,
  users: UserNames,
  a: Attachment,
  parent: { id: string; name: string | null },
  fields: readonly AttachmentField[],
): Record<string, unknown> {
  const all: Record<AttachmentField, unknown> = {
    Owner: userWithEmail(users, a.ownerId),
    Modified_By: userWithEmail(users, a.modifiedBy),
    Created_By: userWithEmail(users, a.createdBy),
    Created_Time: formatZohoTime(a.createdAt, org.timeZone),
    Modified_Time: formatZohoTime(a.modifiedAt, org.timeZone),
    File_Name: a.fileName,
    Size: String(a.size),
    Parent_Id: { name: parent.name, id: parent.id },
    $editable: true,
    $file_id: a.blobKey,
    $type: a.kind === 'link' ? 'Link URL' : 'File',
    $se_module: a.module,
    $state: 'save',
    $link_url: a.linkUrl,
    $sharing_permission: 'full_access',
    $attachment_type: a.kind === 'link' ? 3 : 1,
    Record_Status__s: 'Available',
    Attachment_Source__s: 'API',
    File_Id__s: a.blobKey,
    $field_states: null,
    $zia_visions: null,
  };
  const view: Record<string, unknown> = {};
  for (const f of fields) view[f] = all[f];
  view['id'] = a.id;
  return view;
}

export function attachmentPageView(org: Org, users: UserNames, page: AttachmentPage, parentName: string | null, withTokens: boolean) {
  const parent = { id: page.access.record.id, name: parentName };
  const info: Record<string, unknown> = {
    per_page: page.perPage,
    count: page.attachments.length,
    page: page.page,
    more_records: page.moreRecords,
  };
  if (withTokens) {
    info['next_page_token'] = page.nextPageToken;
    info['previous_page_token'] = page.previousPageToken;
    info['page_token_expiry'] = page.pageTokenExpiry === null ? null : formatZohoTime(page.pageTokenExpiry, org.timeZone);
  }
  return { data: page.attachments.map((a) => attachmentView(org, users, a, parent, page.fields)), info };
}

export function usersView(org: Org, list: readonly DirectoryUser[]) {
  return {
    users: list.map(({ user, profile }) => {
      const [first, ...rest] = user.name.split(' ');
      return {
        id: user.id,
        full_name: user.name,
        first_name: rest.length > 0 ? first : null,
        last_name: rest.length > 0 ? rest.join(' ') : user.name,
        email: user.email,
        status: user.status,
        confirm: true,
        profile: profile ? { name: profile.name, id: profile.id } : null,
        role: profile ? { name: profile.isAdmin ? 'CEO' : 'Manager', id: profile.id } : null,
        time_zone: org.timeZone,
        locale: 'en_US',
        zuid: user.id,
        created_time: formatZohoTime(user.createdAt, org.timeZone),
      };
    }),
    info: { per_page: 200, count: list.length, page: 1, more_records: false },
  };
}

export function orgView(org: Org) {
  return {
    org: [
      {
        id: org.id,
        zgid: org.id,
        domain_name: `org${org.id}`,
        company_name: org.name,
        time_zone: org.timeZone,
        currency: 'US Dollar - USD',
        currency_symbol: '$',
        iso_code: 'USD',
        country_code: 'US',
        type: 'production',
      },
    ],
  };
}

export function modulesView(list: readonly ModuleListing[]) {
  return {
    modules: list.map((m) => ({
      api_name: m.apiName,
      module_name: m.plural,
      singular_label: m.singular,
      plural_label: m.plural,
      api_supported: m.apiSupported,
      generated_type: m.custom ? 'custom' : 'default',
      visible: true,
      viewable: true,
      creatable: m.apiSupported,
      editable: m.apiSupported,
      deletable: m.apiSupported,
      status: 'visible',
    })),
  };
}

export function fieldsView(module: string, fields: readonly FieldInfo[]) {
  return {
    fields: fields.map((f, i) => ({
      api_name: f.apiName,
      field_label: f.label,
      display_label: f.label,
      data_type: f.dataType,
      json_type: f.jsonType,
      system_mandatory: f.mandatory,
      read_only: f.readOnly,
      custom_field: false,
      visible: true,
      // Stable per module and field, so that clients caching field metadata see the same ids every time.
      id: fieldId(module, i),
    })),
  };
}

function fieldId(module: string, index: number): string {
  let h = 0n;
  for (const c of module) h = (h * 131n + BigInt(c.charCodeAt(0))) % 1_000_000_000n;
  return (4_000_000_000_000_000_000n + h * 1000n + BigInt(index)).toString();
}
