/**
 * Drives Zoho's official TypeScript SDKs (`@zohocrm/typescript-sdk-8.0` 3.0.0 and `@zohocrm/typescript-sdk-7.0`
 * 2.0.0) against a test server: an in-memory TokenStore, initialisation against a custom Environment, and small
 * accessors for the SDK's model classes (its `Choice` wrappers, `Map` details, BigInt ids).
 *
 * The two packages have the same class and namespace paths; v7 calls `/crm/v7/…`. Each package keeps its own
 * process-wide Initializer, so the two never interfere; within one package, `init()` replaces the current user
 * (`switchUser` is unreliable for going back to an earlier token: docs/zoho-api.md §12.1).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sdk7 from '@zohocrm/typescript-sdk-7.0';
import sdk8 from '@zohocrm/typescript-sdk-8.0';

/** The SDK package's exports; typed as 8.0, whose surface is a superset of 7.0's for what the tests use. */
export type Sdk = typeof sdk8;
type Token = InstanceType<Sdk['OAuthToken']>;

export interface SdkVersion {
  /** Package name suffix, for test titles. */
  name: '7.0' | '8.0';
  /** npm package name. */
  pkg: string;
  /**
   * Whether the SDK's JSON converter keeps `details` keys its model does not declare (8.0: `getMapData` adds the
   * rest after the declared keys; 7.0: only the keys declared in config/json_details.json survive).
   */
  keepsUndeclaredDetails: boolean;
  /** The API version segment the SDK calls (`/crm/v7/…` or `/crm/v8/…`). */
  apiVersion: 'v7' | 'v8';
  sdk: Sdk;
}

export const SDK_VERSIONS: SdkVersion[] = [
  { name: '8.0', pkg: '@zohocrm/typescript-sdk-8.0', keepsUndeclaredDetails: true, apiVersion: 'v8', sdk: sdk8 },
  { name: '7.0', pkg: '@zohocrm/typescript-sdk-7.0', keepsUndeclaredDetails: false, apiVersion: 'v7', sdk: sdk7 as unknown as Sdk },
];

/** What the SDK handed to `saveToken`, copied at that moment. */
export interface SavedToken {
  id: string | undefined;
  accessToken: string | undefined;
  refreshToken: string | undefined;
  grantToken: string | undefined;
  /** Epoch milliseconds (as the SDK keeps it: a string) when the access token expires. */
  expiresIn: string | undefined;
  userName: string | undefined;
}

/**
 * An in-memory TokenStore. `findToken` never matches: the SDK then keeps using the token object it was initialised
 * with (the one it mutates on refresh), which is what the tests want; every `saveToken` is recorded.
 */
export class MemoryTokenStore {
  readonly saves: SavedToken[] = [];
  private readonly tokens = new Map<string, Token>();
  private nextId = 1;

  async findToken(_token: Token): Promise<Token | null> {
    return null;
  }

  async findTokenById(id: string): Promise<Token | null> {
    return this.tokens.get(id) ?? null;
  }

  async saveToken(token: Token): Promise<void> {
    if (token.getId() == null) token.setId(String(this.nextId++));
    this.tokens.set(String(token.getId()), token);
    this.saves.push({
      id: token.getId() ?? undefined,
      accessToken: token.getAccessToken() ?? undefined,
      refreshToken: token.getRefreshToken() ?? undefined,
      grantToken: token.getGrantToken() ?? undefined,
      expiresIn: token.getExpiresIn() ?? undefined,
      userName: token.getUserSignature()?.getName() ?? undefined,
    });
  }

  async deleteToken(id: string): Promise<void> {
    this.tokens.delete(id);
  }

  async getTokens(): Promise<Token[]> {
    return [...this.tokens.values()];
  }

  async deleteTokens(): Promise<void> {
    this.tokens.clear();
  }

  get last(): SavedToken | undefined {
    return this.saves.at(-1);
  }
}

/** A scratch directory for the SDK's resources and for files to upload. */
export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'crm-media-sdk-'));

  file(name: string, data: Buffer | string): string {
    const path = join(this.dir, name);
    writeFileSync(path, data);
    return path;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface SdkSession {
  v: SdkVersion;
  token: Token;
  store: MemoryTokenStore;
}

/**
 * Initialises `v`'s SDK for `baseUrl` with `token` (build it with `v.sdk.OAuthBuilder`). Logging stays off (the
 * SDK's default); fields are not refreshed and pick lists not validated, so no metadata calls are made.
 */
export async function initSdk(
  v: SdkVersion,
  baseUrl: string,
  token: Token,
  resourceDir: string,
  environment: InstanceType<Sdk['Environment']> = new v.sdk.Environment(baseUrl, `${baseUrl}/oauth/v2/token`, baseUrl),
): Promise<SdkSession> {
  const { sdk } = v;
  const store = new MemoryTokenStore();
  await new sdk.InitializeBuilder()
    .environment(environment)
    .token(token)
    .store(store)
    .SDKConfig(new sdk.SDKConfigBuilder().autoRefreshFields(false).pickListValidation(false).build())
    .logger(new sdk.LogBuilder().level(sdk.Levels.OFF).build())
    .resourcePath(resourceDir)
    .initialize();
  return { v, token, store };
}

/** Access-token-only initialisation (no refresh flow, no side calls). */
export function initWithAccessToken(v: SdkVersion, baseUrl: string, accessToken: string, resourceDir: string): Promise<SdkSession> {
  return initSdk(v, baseUrl, new v.sdk.OAuthBuilder().accessToken(accessToken).findUser(false).build(), resourceDir);
}

/** The plain value of an SDK `Choice` (or the value itself when the SDK kept a plain string). */
export function val(x: unknown): unknown {
  return x !== null && typeof x === 'object' && typeof (x as { getValue?: unknown }).getValue === 'function'
    ? (x as { getValue(): unknown }).getValue()
    : x;
}

/** An SDK `details` Map as a plain object: BigInts as decimal strings, Choices as their values. */
export function details(x: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (x instanceof Map) {
    for (const [k, raw] of x) {
      const value = val(raw);
      out[String(k)] = typeof value === 'bigint' ? value.toString() : value;
    }
  }
  return out;
}

const requireHere = createRequire(import.meta.url);
const declaredCache = new Map<string, Set<string>>();

/** The `details` keys the SDK's model `core/com/zoho/crm/api/<model>` declares (its config/json_details.json). */
export function declaredDetailKeys(v: SdkVersion, model: string): Set<string> {
  const cacheKey = `${v.name}:${model}`;
  let keys = declaredCache.get(cacheKey);
  if (!keys) {
    const file = join(dirname(requireHere.resolve(v.pkg)), 'config', 'json_details.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, { keys?: { name: string }[] }>>;
    keys = new Set((json[`core/com/zoho/crm/api/${model}`]?.['details']?.keys ?? []).map((k) => k.name));
    declaredCache.set(cacheKey, keys);
  }
  return keys;
}

/** What of the server's `details` an SDK user gets to see through `model` (e.g. `record/api_exception`). */
export function visibleDetails(v: SdkVersion, model: string, serverDetails: Record<string, unknown>): Record<string, unknown> {
  if (v.keepsUndeclaredDetails) return serverDetails;
  const declared = declaredDetailKeys(v, model);
  return Object.fromEntries(Object.entries(serverDetails).filter(([k]) => declared.has(k)));
}

/** Code, message, status and details of an SDK APIException or SuccessResponse, as plain values. */
export function outcome(x: any): { code: unknown; message: unknown; status: unknown; details: Record<string, unknown> } {
  return { code: val(x.getCode()), message: val(x.getMessage()), status: val(x.getStatus()), details: details(x.getDetails()) };
}

/** The name of the class an SDK result object was parsed into (`SuccessResponse`, `APIException`, …). */
export function className(x: unknown): string | null {
  return x === null || x === undefined ? null : (x as object).constructor.name;
}

/** A StreamWrapper over a file path (a fresh one per call: its stream can be read once). */
export function fileStream(v: SdkVersion, path: string): InstanceType<Sdk['StreamWrapper']> {
  return new v.sdk.StreamWrapper(undefined, undefined, path);
}

/** A StreamWrapper over an in-memory Buffer (the SDK sends it without a filename). */
export function bufferStream(v: SdkVersion, name: string, data: Buffer): InstanceType<Sdk['StreamWrapper']> {
  return new v.sdk.StreamWrapper(name, data as unknown as ReadStream);
}

/** Bytes of a downloaded FileBodyWrapper. */
export function downloadedBytes(wrapper: any): Buffer {
  const stream = wrapper.getFile().getStream();
  return Buffer.isBuffer(stream) ? stream : Buffer.from(stream);
}

/** The error an SDK call threw (an SDKException), or fails when it returned. */
export async function sdkThrows(call: () => Promise<unknown>): Promise<{ name: string; code: unknown; message: string }> {
  try {
    await call();
  } catch (err) {
    const e = err as { constructor: { name: string }; code?: unknown; message?: string };
    return { name: e.constructor.name, code: e.code, message: e.message ?? '' };
  }
  throw new Error('expected the SDK call to throw');
}
