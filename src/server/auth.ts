/**
 * The `Authorization` header of Zoho's API: `Zoho-oauthtoken <access token>`. A missing or unusable header is
 * AUTHENTICATION_FAILURE; a well-formed header with a token the server does not accept is INVALID_TOKEN (decided
 * by the Authenticator).
 */
import { zohoError } from '../domain/errors.js';
import { isPlausibleTokenValue } from '../domain/tokens.js';

const HEADER = /^zoho-oauthtoken[ \t]+(\S+)[ \t]*$/i;

export function tokenFromAuthorization(header: string | undefined): string {
  const value = header === undefined ? undefined : HEADER.exec(header)?.[1];
  if (value === undefined || !isPlausibleTokenValue(value)) throw zohoError('AUTHENTICATION_FAILURE');
  return value;
}
