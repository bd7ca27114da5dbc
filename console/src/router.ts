/**
 * Routes live in the URL's fragment (`#/orgs/…/records/…`): links work, the back button works, and the server has
 * one page to serve. Fragments not starting with `#/` (the skip link's) are not routes.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** Path segments after `#/`, decoded. */
  parts: string[];
  query: URLSearchParams;
}

function current(): Route {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  const [path = '', search = ''] = hash.split('?', 2);
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = () => {
      if (location.hash === '' || location.hash.startsWith('#/')) setRoute(current());
    };
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** A route's href: `href('orgs', id, 'records', { module: 'Leads' })`. */
export function href(...parts: (string | Record<string, string>)[]): string {
  const query = parts.find((p): p is Record<string, string> => typeof p !== 'string');
  const path = parts.filter((p): p is string => typeof p === 'string').map(encodeURIComponent).join('/');
  const search = query ? new URLSearchParams(query).toString() : '';
  return `#/${path}${search ? `?${search}` : ''}`;
}

export function go(to: string): void {
  location.hash = to.slice(1);
}
