// Types for nginx-conf.mjs, which test/integration/nginx-accel.test.ts and test/unit/nginx-docs.test.ts import.
export declare const ACCEL_PREFIX: string;
export declare const OPEN_FILE_CACHE: string;
export declare function crmMediaNginxSite(o: { listen: string; upstreams: string[]; blobsDir: string; cacheDir: string; extra?: string }): string;
export declare const DOCUMENTED_SITE: string;
export declare function standaloneNginxConf(o: { prefix: string; site: string; asRoot?: boolean }): string;
export declare const STANDALONE_DIRS: string[];
export declare function nginxBinary(): string | undefined;
