/**
 * Links clients hand the server (attachment links, webhook URLs): absolute http(s) URLs, kept as given. URL
 * parsers silently drop tabs and line breaks, so a value holding any control character is not a link here.
 */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

export function isHttpLink(value: string): boolean {
  if (CONTROL_CHARACTER.test(value)) return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}
