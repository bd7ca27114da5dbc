/**
 * The operations the API exposes, and for each the rules that do not depend on the data: which scope operation
 * types grant it, whether it also needs the attachments scope, and which profile permission it needs.
 */
import type { ScopeOperation } from './scopes.js';

export type OperationName =
  | 'photo.download'
  | 'photo.upload'
  | 'photo.delete'
  | 'attachment.upload'
  | 'attachment.delete'
  | 'attachment.bulkDelete'
  | 'attachment.list'
  | 'attachment.download'
  | 'record.insert'
  | 'record.get'
  | 'record.delete';

/** What the official SDKs ask about around the media calls (directory.ts): rules of their own, no module. */
export type SideCallName = 'users.get' | 'org.get' | 'settings.modules' | 'settings.fields';

/** Every operation of the `/crm/` API. */
export type ApiOperation = OperationName | SideCallName;

export type ModulePermission = 'view' | 'create' | 'edit' | 'delete';

/** Which family of endpoints an operation belongs to; module support is decided per family. */
export type OperationFamily = 'photo' | 'attachment' | 'record';

export interface OperationRule {
  family: OperationFamily;
  /** Scope operation types that grant it (ALL always does). */
  scopeOps: readonly ScopeOperation[];
  /** Attachment endpoints need `ZohoCRM.modules.attachments.{op}` besides the module scope. */
  needsAttachmentScope: boolean;
  permission: ModulePermission;
  /** Whether it changes the record (so a private/read-only record refuses it to non-owners, and locks apply). */
  writes: boolean;
}

export const OPERATIONS: Record<OperationName, OperationRule> = {
  'photo.download': { family: 'photo', scopeOps: ['READ'], needsAttachmentScope: false, permission: 'view', writes: false },
  'photo.upload': { family: 'photo', scopeOps: ['WRITE', 'CREATE'], needsAttachmentScope: false, permission: 'edit', writes: true },
  'photo.delete': { family: 'photo', scopeOps: ['DELETE'], needsAttachmentScope: false, permission: 'edit', writes: true },
  'attachment.upload': { family: 'attachment', scopeOps: ['WRITE', 'CREATE'], needsAttachmentScope: true, permission: 'edit', writes: true },
  'attachment.delete': { family: 'attachment', scopeOps: ['DELETE'], needsAttachmentScope: true, permission: 'edit', writes: true },
  'attachment.bulkDelete': { family: 'attachment', scopeOps: ['DELETE'], needsAttachmentScope: true, permission: 'edit', writes: true },
  'attachment.list': { family: 'attachment', scopeOps: ['READ'], needsAttachmentScope: true, permission: 'view', writes: false },
  'attachment.download': { family: 'attachment', scopeOps: ['READ'], needsAttachmentScope: true, permission: 'view', writes: false },
  'record.insert': { family: 'record', scopeOps: ['WRITE', 'CREATE'], needsAttachmentScope: false, permission: 'create', writes: true },
  'record.get': { family: 'record', scopeOps: ['READ'], needsAttachmentScope: false, permission: 'view', writes: false },
  'record.delete': { family: 'record', scopeOps: ['WRITE', 'DELETE'], needsAttachmentScope: false, permission: 'delete', writes: true },
};
