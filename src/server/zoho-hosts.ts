/**
 * Zoho's data-centre host names, for a server that stands in for them (the names pointed at it by a hosts file or a
 * proxy). Each data centre has an accounts host (the token endpoint), API hosts (production, sandbox, developer)
 * and a file-upload host; Zoho's token answers name the API host of the token's data centre as `api_domain`, and
 * the official SDKs switch to it. Sources: https://www.zoho.com/crm/developer/docs/api/multi-dc.html,
 * https://www.zoho.com/accounts/protocol/oauth/multi-dc.html and the SDKs' `*DataCenter` classes.
 */

/** Top-level domain of each data centre (US, EU, IN, AU, JP, CA, SA, CN). */
export const ZOHO_DATA_CENTRES = ['com', 'eu', 'in', 'com.au', 'jp', 'ca', 'sa', 'com.cn'] as const;
export type ZohoDataCentre = (typeof ZOHO_DATA_CENTRES)[number];

/** Canada's accounts host is `accounts.zohocloud.ca` (the SDKs'); `accounts.zoho.ca` is accepted as well. */
export function accountsHosts(dc: ZohoDataCentre): string[] {
  return dc === 'ca' ? ['accounts.zohocloud.ca', 'accounts.zoho.ca'] : [`accounts.zoho.${dc}`];
}

/** The API hosts: production first, then sandbox and developer editions. */
export function apiHosts(dc: ZohoDataCentre): string[] {
  return ['www', 'sandbox', 'developer'].map((edition) => `${edition}.zohoapis.${dc}`);
}

/** The SDKs' file-upload host of each data centre. */
export function uploadHost(dc: ZohoDataCentre): string {
  return dc === 'ca' ? 'upload.zohocloud.ca' : dc === 'sa' ? 'files.zoho.sa' : `content.zohoapis.${dc}`;
}

/** Every host name a client of any data centre calls (for a certificate's subjectAltName, a hosts file). */
export function allZohoHosts(): string[] {
  return ZOHO_DATA_CENTRES.flatMap((dc) => [...apiHosts(dc), ...accountsHosts(dc), uploadHost(dc)]);
}

/**
 * `api_domain` for a token request that arrived with `host` (optionally with a port): an API host answers with
 * itself and an accounts or upload host with its data centre's production API host, always over https (the SDKs know
 * no other); any other host with itself, over the request's protocol.
 */
export function apiDomainForHost(host: string, protocol: string): string {
  const name = host.replace(/:\d+$/, '').toLowerCase();
  for (const dc of ZOHO_DATA_CENTRES) {
    const api = apiHosts(dc);
    if (api.includes(name)) return `https://${name}`;
    if (accountsHosts(dc).includes(name) || uploadHost(dc) === name) return `https://${api[0]}`;
  }
  return `${protocol}://${host}`;
}
