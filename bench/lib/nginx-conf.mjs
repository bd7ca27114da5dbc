/**
 * The nginx configuration for crm-media with X-Accel-Redirect (CRM_MEDIA_ACCEL_REDIRECT, disk store), as
 * docs/deployment.md prints it: the bench and the nginx integration test run exactly this text, and a test checks
 * that the documented copy has not drifted from it.
 *
 * Why it is shaped this way:
 * - nginx never stores a reply it acts on with X-Accel-Redirect, and acting on one read back from its cache
 *   crashed nginx 1.22 workers (signal 11). So downloads are authorized by an `auth_request` subrequest to the
 *   same URL, whose reply is cached (keyed by URL and Authorization header) with X-Accel-Redirect ignored; crm-media
 *   says for how long with X-Accel-Expires (CRM_MEDIA_ACCEL_CACHE_SECONDS; 0 stores nothing). The file the reply
 *   names is then sent from the blob directory, with the reply's Content-Type and Content-Disposition.
 * - Anything but an allowed download — an error, a record without a photo, a link attachment — is answered by
 *   crm-media itself (`@crm_media`), so clients get Zoho's JSON. Not routed there: nginx's own 416 for a range past
 *   the end (an error_page would keep the file's headers beside crm-media's) and 412 for If-Match or
 *   If-Unmodified-Since; their status and Content-Range are what crm-media sends, their body is nginx's.
 * - Uploads and deletes on the same URLs go straight to crm-media, streamed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Keeps blob files and cached authorizations open between downloads (stat and open are a good part of a small
 * download's cost). Safe with reuse: a file is only asked for while an authorization names it, and retired files
 * outlive that. `max` stays well below nginx's open-file limit. The bench gives nginx's static files the same line.
 */
export const OPEN_FILE_CACHE = 'open_file_cache max=1000 inactive=20s; open_file_cache_valid 1s;';

/** Where the blob path in X-Accel-Redirect starts (CRM_MEDIA_ACCEL_REDIRECT). */
export const ACCEL_PREFIX = '/_protected/';

const PROXY = `proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`;

/**
 * The `http {}` lines for one crm-media site.
 * @param {{ listen: string, upstreams: string[], blobsDir: string, cacheDir: string, extra?: string }} o
 *   listen: nginx's `listen` argument; upstreams: crm-media instances (host:port); blobsDir: `<data>/blobs`;
 *   cacheDir: where nginx keeps authorizations (their keys hold Authorization headers: tmpfs, nginx's user only);
 *   extra: more lines inside the server block (TLS, server_name).
 */
export function crmMediaNginxSite({ listen, upstreams, blobsDir, cacheDir, extra = '' }) {
  return `upstream crm_media {
${upstreams.map((u) => `    server ${u};`).join('\n')}
    keepalive 64;
}
proxy_cache_path ${cacheDir} levels=1:2 keys_zone=crm_media_authorizations:10m
                 max_size=64m inactive=10s use_temp_path=off;
map $crm_media_blob $crm_media_blob_file {
    "~^${ACCEL_PREFIX}(?<file>[0-9a-f]{2}/[^/]+)$" $file;
    default "";
}
server {
    listen ${listen};${extra ? `\n    ${extra.trim().split('\n').join('\n    ')}` : ''}
    client_max_body_size 101m;          # above the largest accepted upload (attachments: 100 MiB)
    proxy_request_buffering off;        # stream uploads through; crm-media enforces limits while reading
    proxy_read_timeout 300s;
    proxy_send_timeout 300s;
    ${OPEN_FILE_CACHE}

    location /crm/ {
        proxy_pass http://crm_media;
        ${PROXY}
    }
    # Downloads: authorized by crm-media, bytes sent by nginx.
    location ~* "^/crm/v[0-9][0-9.]*/[^/]+/[^/]+/(photo|Attachments/[^/]+)/?$" {
        error_page 418 = @crm_media;
        if ($request_method !~ ^(GET|HEAD)$) { return 418; }
        auth_request /_crm_media_authorize;
        auth_request_set $crm_media_blob $upstream_http_x_accel_redirect;
        auth_request_set $crm_media_type $upstream_http_content_type;
        auth_request_set $crm_media_disposition $upstream_http_content_disposition;
        error_page 401 403 500 = @crm_media;
        root ${blobsDir};
        max_ranges 1;                   # several ranges: the whole file, as crm-media answers them
        types { }
        default_type "";
        add_header Content-Type $crm_media_type;
        add_header Content-Disposition $crm_media_disposition;
        add_header X-Content-Type-Options nosniff;
        try_files /$crm_media_blob_file @crm_media;
    }
    location = /_crm_media_authorize {
        internal;
        proxy_pass http://crm_media$request_uri;
        ${PROXY}
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_buffering on;
        proxy_cache crm_media_authorizations;
        proxy_cache_key "$request_uri $http_authorization";
        proxy_ignore_headers X-Accel-Redirect;
    }
    location @crm_media {
        proxy_pass http://crm_media;
        ${PROXY}
    }
    location ${ACCEL_PREFIX} {
        internal;
        alias ${blobsDir}/;
        max_ranges 1;
    }
}`;
}

/** The site as docs/deployment.md prints it. */
export const DOCUMENTED_SITE = crmMediaNginxSite({
  listen: '443 ssl http2',
  upstreams: ['127.0.0.1:8787'],
  blobsDir: '/var/lib/crm-media/blobs',
  cacheDir: '/run/nginx-crm-media',
  extra: 'server_name crm-media.example.com;\n# ssl_certificate …; ssl_certificate_key …;',
});

/** A whole nginx.conf around one site: one worker, in the foreground, every path under `prefix`. */
export function standaloneNginxConf({ prefix, site, asRoot = process.getuid?.() === 0 }) {
  return `${asRoot ? 'user root;\n' : ''}worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 600s;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  types { image/png png; application/octet-stream bin; }
${site}
}
`;
}

/** The directories `standaloneNginxConf` names below its prefix. */
export const STANDALONE_DIRS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];

/** The nginx binary, where bench/setup.sh would find it (the usual paths, then PATH), or undefined. */
export function nginxBinary() {
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) if (existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v nginx']).toString().trim() || undefined;
  } catch {
    return undefined;
  }
}
