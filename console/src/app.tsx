/**
 * The console's frame: the login gate, the header (org, session, log out), the section navigation and the page the
 * route names. Landmarks, a skip link and visible focus make it usable by keyboard and screen reader; the layout
 * folds into one column on a phone-sized window.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, setSession, whenSessionEnds } from './api';
import { type Route, href, useRoute } from './router';
import { Login } from './pages/login';
import { JournalPage } from './pages/journal';
import { LimitsPage } from './pages/limits';
import { OAuthPage } from './pages/oauth';
import { OrgPage, OrgsPage } from './pages/orgs';
import { PeoplePage } from './pages/people';
import { RecordPage } from './pages/record';
import { RecordsPage } from './pages/records';
import { StatePage } from './pages/state';
import { TokensPage } from './pages/tokens';
import { WorkflowsPage } from './pages/workflows';
import type { Org } from './types';
import { OrgOptions, useLoad } from './ui';

type SessionState = { kind: 'checking' } | { kind: 'out'; ended?: boolean } | { kind: 'in'; expiresAt: string };

export function App() {
  const [session, setSessionState] = useState<SessionState>({ kind: 'checking' });
  useEffect(() => {
    whenSessionEnds(() => {
      setSession(undefined);
      setSessionState({ kind: 'out', ended: true });
    });
    api.session().then(
      (s) => {
        setSession(s.csrf_token);
        setSessionState({ kind: 'in', expiresAt: s.expires_at });
      },
      () => setSessionState({ kind: 'out' }),
    );
  }, []);

  if (session.kind === 'checking') return <p class="muted center">Loading…</p>;
  if (session.kind === 'out') {
    return (
      <Login
        ended={session.ended === true}
        onIn={(s) => {
          setSession(s.csrf_token);
          setSessionState({ kind: 'in', expiresAt: s.expires_at });
        }}
      />
    );
  }
  return (
    <Shell
      expiresAt={session.expiresAt}
      onOut={() => {
        setSession(undefined);
        setSessionState({ kind: 'out' });
      }}
    />
  );
}

const SECTIONS: { id: string; label: string; perOrg: boolean }[] = [
  { id: '', label: 'Overview', perOrg: true },
  { id: 'people', label: 'Profiles & users', perOrg: true },
  { id: 'records', label: 'Records', perOrg: true },
  { id: 'tokens', label: 'Tokens', perOrg: true },
  { id: 'oauth', label: 'OAuth clients', perOrg: true },
  { id: 'workflows', label: 'Workflows', perOrg: true },
];

function Shell({ expiresAt, onOut }: { expiresAt: string; onOut: () => void }) {
  const route = useRoute();
  // Pages of one org: its sections (`#/orgs/{org}/…`) and its limits (`#/limits/{org}`).
  const perOrg = route.parts[0] === 'orgs' || route.parts[0] === 'limits';
  const orgId = perOrg ? route.parts[1] : undefined;
  const orgs = useLoad(() => api.orgs(), [orgId ?? '']);
  const current = orgId ?? orgs.data?.orgs[0]?.id;
  const org = orgs.data?.orgs.find((o) => o.id === current);
  const logout = async () => {
    await api.logout().catch(() => undefined);
    onOut();
  };
  return (
    <div class="shell">
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href()}>
          crm-media <span>console</span>
        </a>
        <OrgPicker orgs={orgs.data?.orgs ?? []} current={current} route={route} />
        <span class="muted session" title="The session ends after a while without use">
          Session until {new Date(expiresAt).toLocaleTimeString()}
        </span>
        <button type="button" class="secondary" onClick={logout}>
          Log out
        </button>
      </header>
      <nav class="side" aria-label="Sections">
        <ul>
          <li>
            <a href={href()} aria-current={route.parts.length === 0 ? 'page' : undefined}>
              Orgs
            </a>
          </li>
          {current
            ? SECTIONS.map((s) => {
                const to = s.id ? href('orgs', current, s.id) : href('orgs', current);
                const active = route.parts[0] === 'orgs' && orgId === current && (route.parts[2] ?? '') === s.id;
                return (
                  <li key={s.id}>
                    <a href={to} aria-current={active ? 'page' : undefined}>
                      {s.label}
                    </a>
                  </li>
                );
              })
            : null}
          <li>
            <a href={href('journal')} aria-current={route.parts[0] === 'journal' ? 'page' : undefined}>
              Request journal
            </a>
          </li>
          <li>
            <a href={current ? href('limits', current) : href('limits')} aria-current={route.parts[0] === 'limits' ? 'page' : undefined}>
              Limits & faults
            </a>
          </li>
          <li>
            <a href={href('state')} aria-current={route.parts[0] === 'state' ? 'page' : undefined}>
              Export, import, reset
            </a>
          </li>
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        <Content route={route} org={org} orgs={orgs.data?.orgs} reloadOrgs={orgs.reload} />
      </main>
    </div>
  );
}

function OrgPicker({ orgs, current, route }: { orgs: Org[]; current: string | undefined; route: Route }) {
  if (orgs.length === 0) return <span class="spacer" />;
  return (
    <label class="org-picker">
      <span class="label">Org</span>
      <select
        value={current}
        onChange={(e) => {
          // The same section of the other org (a record page becomes that org's record list).
          const id = e.currentTarget.value;
          const section = route.parts[0] === 'orgs' ? (route.parts[2] ?? '') : '';
          const to = route.parts[0] === 'limits' ? href('limits', id) : section ? href('orgs', id, section) : href('orgs', id);
          location.hash = to.slice(1);
        }}
      >
        <OrgOptions orgs={orgs} />
      </select>
    </label>
  );
}

function Content({ route, org, orgs, reloadOrgs }: { route: Route; org: Org | undefined; orgs: Org[] | undefined; reloadOrgs: () => void }) {
  const [first, orgId, section, id] = route.parts;
  const orgsLoaded = orgs !== undefined;
  if (first === 'journal') return <JournalPage route={route} />;
  if (first === 'limits') return orgsLoaded ? <LimitsPage org={org} orgs={orgs} orgId={orgId} /> : <p class="muted">Loading…</p>;
  if (first === 'state') return <StatePage onChanged={reloadOrgs} />;
  if (first === 'orgs' && orgId) {
    if (!org) return orgsLoaded ? <p role="alert">No org {orgId}. It may have been removed by a reset.</p> : <p class="muted">Loading…</p>;
    switch (section) {
      case undefined:
        return <OrgPage org={org} onChanged={reloadOrgs} />;
      case 'people':
        return <PeoplePage org={org} />;
      case 'records':
        return id ? <RecordPage org={org} recordId={id} /> : <RecordsPage org={org} route={route} />;
      case 'tokens':
        return <TokensPage org={org} />;
      case 'oauth':
        return <OAuthPage org={org} />;
      case 'workflows':
        return <WorkflowsPage org={org} />;
      default:
        return <p role="alert">No such page.</p>;
    }
  }
  return <OrgsPage onChanged={reloadOrgs} />;
}
