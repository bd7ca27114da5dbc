/**
 * The module catalog: Zoho's standard module API names, which endpoint families each supports, and from which API
 * version (docs/zoho-api.md §9, and §1.1 for the endpoints). Custom modules live in the metadata
 * store; this file decides what they support.
 */
import type { OperationFamily } from './operations.js';

export const API_VERSIONS = ['v2', 'v2.1', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8'] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

export function parseApiVersion(segment: string): ApiVersion | undefined {
  const v = segment.toLowerCase();
  return (API_VERSIONS as readonly string[]).includes(v) ? (v as ApiVersion) : undefined;
}

function versionIndex(v: ApiVersion): number {
  return API_VERSIONS.indexOf(v);
}

export interface StandardModule {
  apiName: string;
  /** The module's name inside scopes (`ZohoCRM.modules.pricebooks.READ`). */
  scopeName: string;
  singular: string;
  plural: string;
  /** First API version in which each family supports the module; absent = never. */
  since: Partial<Record<OperationFamily, ApiVersion>>;
}

const ALL: ApiVersion = 'v2';

function std(
  apiName: string,
  scopeName: string,
  singular: string,
  plural: string,
  since: Partial<Record<OperationFamily, ApiVersion>>,
): StandardModule {
  return { apiName, scopeName, singular, plural, since };
}

export const STANDARD_MODULES: readonly StandardModule[] = [
  std('Leads', 'leads', 'Lead', 'Leads', { photo: ALL, attachment: ALL, record: ALL }),
  std('Contacts', 'contacts', 'Contact', 'Contacts', { photo: ALL, attachment: ALL, record: ALL }),
  std('Accounts', 'accounts', 'Account', 'Accounts', { photo: ALL, attachment: ALL, record: ALL }),
  // Deals photos are documented for upload from v5 only; download/delete follow upload (docs/compatibility.md).
  std('Deals', 'deals', 'Deal', 'Deals', { photo: 'v5', attachment: ALL, record: ALL }),
  std('Campaigns', 'campaigns', 'Campaign', 'Campaigns', { attachment: ALL, record: ALL }),
  std('Tasks', 'tasks', 'Task', 'Tasks', { attachment: ALL, record: ALL }),
  std('Cases', 'cases', 'Case', 'Cases', { attachment: ALL, record: ALL }),
  std('Events', 'events', 'Meeting', 'Meetings', { attachment: ALL, record: ALL }),
  std('Calls', 'calls', 'Call', 'Calls', { attachment: 'v2.1', record: ALL }),
  std('Solutions', 'solutions', 'Solution', 'Solutions', { attachment: ALL, record: ALL }),
  std('Products', 'products', 'Product', 'Products', { photo: ALL, attachment: ALL, record: ALL }),
  std('Vendors', 'vendors', 'Vendor', 'Vendors', { photo: ALL, attachment: ALL, record: ALL }),
  std('Price_Books', 'pricebooks', 'Price Book', 'Price Books', { attachment: ALL, record: ALL }),
  std('Quotes', 'quotes', 'Quote', 'Quotes', { attachment: ALL, record: ALL }),
  std('Sales_Orders', 'salesorders', 'Sales Order', 'Sales Orders', { attachment: ALL, record: ALL }),
  std('Purchase_Orders', 'purchaseorders', 'Purchase Order', 'Purchase Orders', { attachment: ALL, record: ALL }),
  std('Invoices', 'invoices', 'Invoice', 'Invoices', { attachment: ALL, record: ALL }),
  std('Appointments__s', 'appointments', 'Appointment', 'Appointments', { attachment: 'v3', record: 'v3' }),
  std('Services__s', 'services', 'Service', 'Services', { attachment: 'v3', record: 'v3' }),
  std('Notes', 'notes', 'Note', 'Notes', { attachment: ALL, record: ALL }),
];

/** Modules Zoho knows but does not serve through these APIs ("The given module is not supported in API"). */
export const UNSUPPORTED_MODULES: readonly string[] = [
  'Documents',
  'Projects',
  'Forecasts',
  'Visits',
  'Social',
  'Reports',
  'Dashboards',
  'Home',
  'Feeds',
  'Analytics',
  'SalesInbox',
  'Activities',
  'Approvals',
];

const STANDARD_BY_LOWER = new Map(STANDARD_MODULES.map((m) => [m.apiName.toLowerCase(), m]));
const UNSUPPORTED_LOWER = new Set(UNSUPPORTED_MODULES.map((m) => m.toLowerCase()));

export function standardModule(name: string): StandardModule | undefined {
  return STANDARD_BY_LOWER.get(name.toLowerCase());
}

export function isReservedModuleName(name: string): boolean {
  const lower = name.toLowerCase();
  return STANDARD_BY_LOWER.has(lower) || UNSUPPORTED_LOWER.has(lower) || lower === 'custom' || lower === 'attachments';
}

export function isKnownUnsupportedModule(name: string): boolean {
  return UNSUPPORTED_LOWER.has(name.toLowerCase());
}

/** A module as the request sees it: standard from the catalog, or an org's custom module. */
export interface ResolvedModule {
  apiName: string;
  custom: boolean;
  /** Resource names under which a scope grants this module. */
  scopeNames: readonly string[];
  singular: string;
  plural: string;
}

export function resolvedStandard(m: StandardModule): ResolvedModule {
  return { apiName: m.apiName, custom: false, scopeNames: [m.scopeName], singular: m.singular, plural: m.plural };
}

export function resolvedCustom(apiName: string, singular: string, plural: string): ResolvedModule {
  return { apiName, custom: true, scopeNames: ['custom', apiName.toLowerCase()], singular, plural };
}

/** Whether `family` endpoints serve `module` in API `version`. Custom modules support every family everywhere. */
export function moduleSupports(module: ResolvedModule, family: OperationFamily, version: ApiVersion): boolean {
  if (module.custom) return true;
  const m = STANDARD_BY_LOWER.get(module.apiName.toLowerCase());
  const since = m?.since[family];
  return since !== undefined && versionIndex(version) >= versionIndex(since);
}

/** Custom module API names: a letter, then letters, digits and underscores (Zoho's rule for API names). */
export function isValidCustomModuleName(name: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_]{0,49}$/.test(name) && !isReservedModuleName(name);
}
