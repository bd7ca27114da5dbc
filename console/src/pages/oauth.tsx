/** OAuth "self clients": created (secret shown once), their grant codes (code shown once) and refresh tokens. */
import { useState } from 'preact/hooks';
import { api } from '../api';
import type { OAuthClient, Org, User } from '../types';
import { DataTable, Field, Loading, Notice, Page, Section, ShownOnce, UserOptions, useAction, useLoad, when } from '../ui';

export function OAuthPage({ org }: { org: Org }) {
  const clients = useLoad(() => api.clients(org.id), [org.id]);
  const users = useLoad(() => api.users(org.id), [org.id]);
  const codes = useLoad(() => api.grantCodes(org.id), [org.id]);
  const refresh = useLoad(() => api.refreshTokens(org.id), [org.id]);
  const [name, setName] = useState('Self Client');
  const [user, setUser] = useState('');
  const [secret, setSecret] = useState<{ client: string; secret: string } | undefined>(undefined);
  const create = useAction();
  const list = users.data?.users ?? [];
  const email = (id: string) => list.find((u) => u.id === id)?.email ?? id;
  const reloadAll = () => {
    clients.reload();
    codes.reload();
    refresh.reload();
  };
  return (
    <Page title="OAuth clients">
      <Section title="New client">
        <form
          class="form-grid"
          onSubmit={async (e) => {
            e.preventDefault();
            let issued: { client: string; secret: string } | undefined;
            const ok = await create.run(async () => {
              const c = await api.createClient(org.id, { name, user: user || list[0]?.id || '' });
              issued = { client: c.client_id, secret: c.client_secret };
            }, 'Client created.');
            if (ok && issued) {
              setSecret(issued);
              clients.reload();
            }
          }}
        >
          <Field label="Name">
            <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field label="Acts for">
            <UserSelect users={list} value={user || (list[0]?.id ?? '')} onChange={setUser} />
          </Field>
          <div class="actions">
            <button type="submit" disabled={create.busy}>
              Create client
            </button>
          </div>
        </form>
        <Notice error={create.error} />
        {secret ? <ShownOnce label={`Client secret of ${secret.client}`} value={secret.secret} onDone={() => setSecret(undefined)} /> : null}
      </Section>
      <Section title="Clients">
        <Loading loaded={clients} />
        {clients.data?.clients.length === 0 ? <p class="muted">No clients.</p> : null}
        {(clients.data?.clients ?? []).map((c) => (
          <ClientCard key={c.client_id} org={org} client={c} users={list} email={email} onChanged={reloadAll} />
        ))}
      </Section>
      <Section title="Grant codes">
        <Loading loaded={codes} />
        {codes.data ? (
          <DataTable head={['Client', 'User', 'Scopes', 'Status', 'Expires', 'Used']}>
            {codes.data.grant_codes.map((g) => (
              <tr key={`${g.client_id}-${g.created_at}-${g.scopes}`}>
                <td class="mono">{g.client_id}</td>
                <td>{email(g.user_id)}</td>
                <td>
                  <code class="wrap">{g.scopes}</code>
                </td>
                <td>
                  <span class={`badge ${g.status}`}>{g.status}</span>
                </td>
                <td>{when(g.expires_at)}</td>
                <td>{when(g.used_at)}</td>
              </tr>
            ))}
          </DataTable>
        ) : null}
      </Section>
      <Section title="Refresh tokens">
        <Loading loaded={refresh} />
        {refresh.data ? (
          <DataTable head={['Client', 'User', 'Scopes', 'Created', 'Revoked']}>
            {refresh.data.refresh_tokens.map((t) => (
              <tr key={t.id}>
                <td class="mono">{t.client_id}</td>
                <td>{email(t.user_id)}</td>
                <td>
                  <code class="wrap">{t.scopes}</code>
                </td>
                <td>{when(t.created_at)}</td>
                <td>{when(t.revoked_at)}</td>
              </tr>
            ))}
          </DataTable>
        ) : null}
      </Section>
    </Page>
  );
}

function UserSelect({ users, value, onChange, label }: { users: User[]; value: string; onChange: (v: string) => void; label?: string }) {
  return (
    <select value={value} onChange={(e) => onChange(e.currentTarget.value)} aria-label={label}>
      <UserOptions users={users} />
    </select>
  );
}

function ClientCard({ org, client, users, email, onChanged }: { org: Org; client: OAuthClient; users: User[]; email: (id: string) => string; onChanged: () => void }) {
  const [scopes, setScopes] = useState('ZohoCRM.modules.ALL');
  const [user, setUser] = useState(client.user_id);
  const [code, setCode] = useState<string | undefined>(undefined);
  const action = useAction();
  return (
    <article class="client" aria-label={`Client ${client.name}`}>
      <h3>
        {client.name} <span class="mono muted">{client.client_id}</span>
      </h3>
      <p class="muted">
        Acts for {email(client.user_id)} · created {when(client.created_at)}
      </p>
      <form
        class="form-grid"
        onSubmit={async (e) => {
          e.preventDefault();
          let value = '';
          const ok = await action.run(async () => {
            value = (await api.grantCode(org.id, client.client_id, { scopes, user })).code;
          });
          if (ok) {
            setCode(value);
            onChanged();
          }
        }}
      >
        <Field label="Grant code scopes">
          <input required value={scopes} onInput={(e) => setScopes(e.currentTarget.value)} />
        </Field>
        <Field label="For user">
          <UserSelect users={users} value={user} onChange={setUser} />
        </Field>
        <div class="actions">
          <button type="submit" disabled={action.busy}>
            Generate grant code
          </button>
          <button
            type="button"
            class="danger"
            onClick={async () => {
              if (confirm(`Delete client ${client.name}? Its refresh and access tokens are revoked.`) && (await action.run(() => api.deleteClient(org.id, client.client_id)))) {
                onChanged();
              }
            }}
          >
            Delete client
          </button>
        </div>
      </form>
      <Notice error={action.error} />
      {code ? <ShownOnce label="Grant code (valid 3 minutes, once)" value={code} onDone={() => setCode(undefined)} /> : null}
    </article>
  );
}
