/** Access tokens: issued with chosen scopes and lifetime (the value shown once), listed, revoked. */
import { useState } from 'preact/hooks';
import { api } from '../api';
import type { Org, Token } from '../types';
import { DataTable, Field, Loading, Notice, Page, Section, ShownOnce, UserOptions, useAction, useLoad, when } from '../ui';

const SCOPES = [
  ['ZohoCRM.modules.ALL', 'every module, every operation'],
  ['ZohoCRM.modules.READ', 'read records, photos, attachments'],
  ['ZohoCRM.modules.CREATE', 'create'],
  ['ZohoCRM.modules.UPDATE', 'update (uploads)'],
  ['ZohoCRM.modules.DELETE', 'delete'],
  ['ZohoCRM.settings.ALL', 'modules and fields metadata'],
  ['ZohoCRM.users.ALL', 'users'],
  ['ZohoCRM.org.ALL', 'org'],
] as const;

const LIFETIMES = [
  ['3600', '1 hour'],
  ['86400', '1 day'],
  ['604800', '1 week'],
  ['', 'never expires'],
] as const;

function tokenState(t: Token): string {
  if (t.revoked_at) return 'revoked';
  if (t.expires_at && Date.parse(t.expires_at) <= Date.now()) return 'expired';
  return 'active';
}

export function TokensPage({ org }: { org: Org }) {
  const tokens = useLoad(() => api.tokens(org.id), [org.id]);
  const users = useLoad(() => api.users(org.id), [org.id]);
  const [user, setUser] = useState('');
  const [scopes, setScopes] = useState<string[]>(['ZohoCRM.modules.ALL']);
  const [extra, setExtra] = useState('');
  const [lifetime, setLifetime] = useState('3600');
  const [label, setLabel] = useState('');
  const [issued, setIssued] = useState<string | undefined>(undefined);
  const issue = useAction();
  const revoke = useAction();
  const email = (id: string) => users.data?.users.find((u) => u.id === id)?.email ?? id;
  const chosen = [...scopes, ...extra.split(/[\s,]+/).filter(Boolean)];
  return (
    <Page title="Tokens">
      <Section title="Issue a token">
        <form
          class="form-grid"
          onSubmit={async (e) => {
            e.preventDefault();
            const target = user || users.data?.users[0]?.id;
            if (!target) return;
            let value = '';
            const ok = await issue.run(async () => {
              const t = await api.issueToken(org.id, {
                user: target,
                scopes: chosen.join(','),
                expires_in: lifetime ? Number(lifetime) : null,
                ...(label ? { label } : {}),
              });
              value = t.access_token;
            }, 'Token issued.');
            if (ok) {
              setIssued(value);
              tokens.reload();
            }
          }}
        >
          <Field label="User">
            <select value={user || users.data?.users[0]?.id} onChange={(e) => setUser(e.currentTarget.value)}>
              <UserOptions users={users.data?.users ?? []} />
            </select>
          </Field>
          <fieldset class="scopes">
            <legend>Scopes</legend>
            {SCOPES.map(([s, what]) => (
              <label key={s} class="check">
                <input
                  type="checkbox"
                  checked={scopes.includes(s)}
                  onChange={(e) => setScopes(e.currentTarget.checked ? [...scopes, s] : scopes.filter((x) => x !== s))}
                />{' '}
                <code>{s}</code> <span class="muted">{what}</span>
              </label>
            ))}
          </fieldset>
          <Field label="More scopes" hint="e.g. ZohoCRM.modules.Leads.READ, comma or space separated">
            <input value={extra} onInput={(e) => setExtra(e.currentTarget.value)} />
          </Field>
          <Field label="Expires">
            <select value={lifetime} onChange={(e) => setLifetime(e.currentTarget.value)}>
              {LIFETIMES.map(([v, text]) => (
                <option key={v} value={v}>
                  {text}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Label">
            <input value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
          </Field>
          <div class="actions">
            <button type="submit" disabled={issue.busy || chosen.length === 0}>
              Issue token
            </button>
          </div>
        </form>
        <Notice error={issue.error} />
        {issued ? <ShownOnce label="New access token" value={issued} onDone={() => setIssued(undefined)} /> : null}
      </Section>
      <Section title="Tokens of this org">
        <Loading loaded={tokens} />
        {tokens.data ? (
          <DataTable head={['User', 'Scopes', 'Label', 'State', 'Expires', 'Created', '']}>
            {tokens.data.tokens.map((t) => (
              <tr key={t.id}>
                <td>{email(t.user_id)}</td>
                <td>
                  <code class="wrap">{t.scopes}</code>
                </td>
                <td>{t.label ?? '—'}</td>
                <td>
                  <span class={`badge ${tokenState(t)}`}>{tokenState(t)}</span>
                </td>
                <td>{t.expires_at ? when(t.expires_at) : 'never'}</td>
                <td>{when(t.created_at)}</td>
                <td>
                  {t.revoked_at ? null : (
                    <button
                      type="button"
                      class="danger small"
                      aria-label={`Revoke token ${t.label ?? t.id}`}
                      onClick={async () => {
                        if (confirm('Revoke this token? Requests with it are refused from now on.') && (await revoke.run(() => api.revokeToken(org.id, t.id), 'Token revoked.'))) {
                          tokens.reload();
                        }
                      }}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </DataTable>
        ) : null}
        <Notice error={revoke.error} ok={revoke.ok} />
      </Section>
    </Page>
  );
}
