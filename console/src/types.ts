/**
 * The console's view of the admin API, derived from the server's own view functions and input schemas
 * (src/admin/views.ts, src/admin/limit-documents.ts, src/admin/schemas.ts, src/admin/seed.ts): a change of shape there is a type error here, so
 * the console and the API cannot drift apart.
 */
import type { z } from 'zod';
import type * as limitViews from '../../src/admin/limit-documents';
import type { adminSchemas, changeSchemas, clockAdvanceSchema, faultSchema, limitsSchema } from '../../src/admin/schemas';
import type { SeedDocument, SeedReport } from '../../src/admin/seed';
import type * as views from '../../src/admin/views';

export type Org = ReturnType<typeof views.orgJson>;
export type Profile = ReturnType<typeof views.profileJson>;
export type User = ReturnType<typeof views.userJson>;
export type ModuleSetting = ReturnType<typeof views.moduleJson>;
export type CrmRecord = ReturnType<typeof views.recordJson>;
export type Token = ReturnType<typeof views.tokenJson>;
export type IssuedToken = Token & { access_token: string };
export type OAuthClient = ReturnType<typeof views.oauthClientJson>;
export type IssuedClient = OAuthClient & { client_secret: string };
export type GrantCode = ReturnType<typeof views.grantCodeJson>;
export type RefreshToken = ReturnType<typeof views.refreshTokenJson>;
export type WorkflowRule = ReturnType<typeof views.workflowRuleJson>;
export type Delivery = ReturnType<typeof views.deliveryJson>;
export type JournalEntry = ReturnType<typeof views.journalEntryJson>;
export type Photo = ReturnType<typeof views.photoJson>;
export type Attachment = ReturnType<typeof views.attachmentJson>;
export type RecordDetail = CrmRecord & { photo: Photo | null; attachments: Attachment[] };
export type LimitReport = ReturnType<typeof limitViews.limitReportJson>;
export type FaultRule = ReturnType<typeof limitViews.faultRuleJson>;
export type ClockStatus = ReturnType<typeof limitViews.clockJson>;

export type NewOrg = z.input<typeof adminSchemas.org>;
export type NewProfile = z.input<typeof adminSchemas.profile>;
export type NewUser = z.input<typeof adminSchemas.user>;
export type NewModule = z.input<typeof adminSchemas.module>;
export type NewRecord = z.input<typeof adminSchemas.record>;
export type NewToken = z.input<typeof adminSchemas.token>;
export type NewOAuthClient = z.input<typeof adminSchemas.oauthClient>;
export type NewGrantCode = z.input<typeof adminSchemas.grantCode>;
export type NewWorkflowRule = z.input<typeof adminSchemas.workflow>;
export type NewLimits = z.input<typeof limitsSchema>;
export type NewFault = z.input<typeof faultSchema>;
export type ClockAdvance = z.input<typeof clockAdvanceSchema>;
export type OrgChange = z.input<typeof changeSchemas.org>;
export type ProfileChange = z.input<typeof changeSchemas.profile>;
export type UserChange = z.input<typeof changeSchemas.user>;
export type { SeedDocument, SeedReport };

export interface DeliveryCounts {
  pending: number;
  delivered: number;
  failed: number;
}

/** A Zoho-shaped error body, as every admin refusal is. */
export interface ZohoErrorBody {
  code: string;
  message: string;
  status: 'error';
  details: Record<string, unknown>;
}
