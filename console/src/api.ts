/**
 * Calls to the admin API with the console's session: the cookie goes by itself (same origin); every change also
 * carries the session's CSRF token. A refusal becomes an ApiError with Zoho's code and message; an ended session
 * sends the console back to its login form.
 */
import type {
  Attachment,
  ClockAdvance,
  ClockStatus,
  CrmRecord,
  Delivery,
  DeliveryCounts,
  FaultRule,
  GrantCode,
  IssuedClient,
  IssuedToken,
  JournalEntry,
  LimitReport,
  ModuleSetting,
  NewFault,
  NewGrantCode,
  NewLimits,
  NewModule,
  NewOAuthClient,
  NewOrg,
  NewProfile,
  NewRecord,
  NewToken,
  NewUser,
  NewWorkflowRule,
  OAuthClient,
  Org,
  OrgChange,
  Photo,
  Profile,
  ProfileChange,
  RecordDetail,
  RefreshToken,
  SeedDocument,
  SeedReport,
  Token,
  User,
  UserChange,
  WorkflowRule,
  ZohoErrorBody,
} from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ZohoErrorBody | undefined,
  ) {
    super(body ? `${body.code}: ${body.message}` : `HTTP ${status}`);
  }
}

let csrf: string | undefined;
let onSessionEnded: () => void = () => {};

export function setSession(token: string | undefined): void {
  csrf = token;
}
export function whenSessionEnds(handler: () => void): void {
  onSessionEnded = handler;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

async function call<T>(method: Method, path: string, body?: unknown | FormData): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload ?? null, credentials: 'same-origin' });
  const text = await res.text();
  const json = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    if (res.status === 401 && path.startsWith('/_admin')) onSessionEnded();
    throw new ApiError(res.status, json as ZohoErrorBody | undefined);
  }
  return json as T;
}

const admin = <T>(method: Method, path: string, body?: unknown) => call<T>(method, `/_admin${path}`, body);
const o = (org: string) => `/orgs/${encodeURIComponent(org)}`;
const q = (params: Record<string, string | number | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') s.set(k, String(v));
  const text = s.toString();
  return text ? `?${text}` : '';
};

export interface Session {
  csrf_token: string;
  expires_at: string;
}

export const api = {
  session: () => call<Session>('GET', '/_console/session'),
  login: (key: string) => call<Session>('POST', '/_console/login', { key }),
  logout: () => call<{ logged_out: true }>('POST', '/_console/logout'),

  orgs: () => admin<{ orgs: Org[] }>('GET', '/orgs'),
  createOrg: (b: NewOrg) => admin<Org>('POST', '/orgs', b),
  updateOrg: (org: string, b: OrgChange) => admin<Org>('PUT', o(org), b),
  profiles: (org: string) => admin<{ profiles: Profile[] }>('GET', `${o(org)}/profiles`),
  createProfile: (org: string, b: NewProfile) => admin<Profile>('POST', `${o(org)}/profiles`, b),
  updateProfile: (org: string, id: string, b: ProfileChange) => admin<Profile>('PUT', `${o(org)}/profiles/${id}`, b),
  users: (org: string) => admin<{ users: User[] }>('GET', `${o(org)}/users`),
  createUser: (org: string, b: NewUser) => admin<User>('POST', `${o(org)}/users`, b),
  updateUser: (org: string, id: string, b: UserChange) => admin<User>('PUT', `${o(org)}/users/${id}`, b),
  modules: (org: string) => admin<{ modules: ModuleSetting[] }>('GET', `${o(org)}/modules`),
  createModule: (org: string, b: NewModule) => admin<ModuleSetting>('POST', `${o(org)}/modules`, b),
  setSharing: (org: string, module: string, sharing: NonNullable<NewModule['sharing']>) =>
    admin<ModuleSetting>('PUT', `${o(org)}/modules/${encodeURIComponent(module)}/sharing`, { sharing }),

  records: (org: string, module: string, offset = 0) => admin<{ records: CrmRecord[] }>('GET', `${o(org)}/records${q({ module, limit: 100, offset })}`),
  createRecord: (org: string, b: NewRecord) => admin<CrmRecord>('POST', `${o(org)}/records`, b),
  record: (org: string, id: string) => admin<RecordDetail>('GET', `${o(org)}/records/${id}`),
  setState: (org: string, id: string, state: CrmRecord['state']) => admin<CrmRecord>('PUT', `${o(org)}/records/${id}/state`, { state }),
  deleteRecord: (org: string, id: string) => admin<{ deleted: string }>('DELETE', `${o(org)}/records/${id}`),
  photoUrl: (org: string, id: string, as: string, version: string) => `/_admin${o(org)}/records/${id}/photo${q({ as, v: version })}`,
  uploadPhoto: (org: string, id: string, as: string, file: File) => admin<{ photo: Photo | null }>('POST', `${o(org)}/records/${id}/photo${q({ as })}`, form(file)),
  deletePhoto: (org: string, id: string, as: string) => admin<{ deleted: string }>('DELETE', `${o(org)}/records/${id}/photo${q({ as })}`),
  uploadAttachment: (org: string, id: string, as: string, file: File) => admin<Attachment>('POST', `${o(org)}/records/${id}/attachments${q({ as })}`, form(file)),
  addLink: (org: string, id: string, as: string, url: string, title: string) =>
    admin<Attachment>('POST', `${o(org)}/records/${id}/attachments${q({ as, attachmentUrl: url, title })}`),
  attachmentUrl: (org: string, id: string, att: string, as: string) => `/_admin${o(org)}/records/${id}/attachments/${att}${q({ as })}`,
  deleteAttachment: (org: string, id: string, att: string, as: string) => admin<{ deleted: string }>('DELETE', `${o(org)}/records/${id}/attachments/${att}${q({ as })}`),

  tokens: (org: string) => admin<{ tokens: Token[] }>('GET', `${o(org)}/tokens`),
  issueToken: (org: string, b: NewToken) => admin<IssuedToken>('POST', `${o(org)}/tokens`, b),
  revokeToken: (org: string, id: string) => admin<{ revoked: string }>('DELETE', `${o(org)}/tokens/${id}`),
  clients: (org: string) => admin<{ clients: OAuthClient[] }>('GET', `${o(org)}/oauth-clients`),
  createClient: (org: string, b: NewOAuthClient) => admin<IssuedClient>('POST', `${o(org)}/oauth-clients`, b),
  deleteClient: (org: string, id: string) => admin<{ deleted: string }>('DELETE', `${o(org)}/oauth-clients/${id}`),
  grantCode: (org: string, client: string, b: NewGrantCode) => admin<{ code: string; expires_at: string }>('POST', `${o(org)}/oauth-clients/${client}/grant-codes`, b),
  grantCodes: (org: string) => admin<{ grant_codes: GrantCode[] }>('GET', `${o(org)}/grant-codes`),
  refreshTokens: (org: string) => admin<{ refresh_tokens: RefreshToken[] }>('GET', `${o(org)}/refresh-tokens`),

  rules: (org: string) => admin<{ rules: WorkflowRule[] }>('GET', `${o(org)}/workflows`),
  createRule: (org: string, b: NewWorkflowRule) => admin<WorkflowRule>('POST', `${o(org)}/workflows`, b),
  deleteRule: (org: string, id: string) => admin<{ deleted: string }>('DELETE', `${o(org)}/workflows/${id}`),
  deliveries: (org: string, status?: string) => admin<{ deliveries: Delivery[] }>('GET', `${o(org)}/workflow-deliveries${q({ status, limit: 100 })}`),
  deliveryCounts: (org?: string) => admin<DeliveryCounts>('GET', `/workflow-deliveries/counts${q({ org })}`),
  waitDeliveries: (org: string | undefined, timeoutMs: number) =>
    admin<DeliveryCounts & { settled: boolean }>('GET', `/workflow-deliveries/wait${q({ org, timeout_ms: timeoutMs })}`),

  limits: (org: string) => admin<LimitReport>('GET', `${o(org)}/limits`),
  setLimits: (org: string, b: NewLimits) => admin<LimitReport>('PUT', `${o(org)}/limits`, b),
  clearLimits: (org: string) => admin<LimitReport>('DELETE', `${o(org)}/limits`),
  resetCredits: (org: string) => admin<LimitReport>('POST', `${o(org)}/limits/reset-credits`),
  faults: () => admin<{ faults: FaultRule[] }>('GET', '/faults'),
  addFault: (b: NewFault) => admin<FaultRule>('POST', '/faults', b),
  deleteFault: (id: string) => admin<{ deleted: string }>('DELETE', `/faults/${encodeURIComponent(id)}`),
  clearFaults: () => admin<{ deleted: number }>('DELETE', '/faults'),
  clock: () => admin<ClockStatus>('GET', '/clock'),
  advanceClock: (b: ClockAdvance) => admin<ClockStatus>('POST', '/clock/advance', b),
  resetClock: () => admin<ClockStatus>('DELETE', '/clock'),

  journal: (filter: Record<string, string | number | undefined>) => admin<{ capacity: number; entries: JournalEntry[] }>('GET', `/journal${q(filter)}`),
  clearJournal: () => admin<{ cleared: number }>('DELETE', '/journal'),

  exportUrl: (media: boolean) => `/_admin/export${media ? '' : '?media=false'}`,
  exportState: () => admin<SeedDocument>('GET', '/export'),
  importSeed: (doc: unknown) => admin<SeedReport>('POST', '/seed', doc),
  reset: () => admin<{ reset: true }>('POST', '/reset'),
};

function form(file: File): FormData {
  const f = new FormData();
  f.append('file', file, file.name);
  return f;
}
