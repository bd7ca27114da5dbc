// Types for rgw.mjs, which test/support/ceph/global-setup.ts imports (bench/lib/systems.mjs uses it untyped).
export interface RadosgwInfo {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  dir: string;
  startSeconds: number;
  pids: { name: string; pid: number }[];
}
export declare function radosgwInstalled(): { ok: boolean; why: string };
export declare function startRadosgw(opts?: { dir?: string; owner?: number; memstoreBytes?: number; timeoutMs?: number }): Promise<RadosgwInfo & { stop(): Promise<void> }>;
export declare function stopRadosgw(dir: string): Promise<void>;
