/** Profiles (permissions per module) and users (profile, active or not): listed, created, changed. */
import { useState } from 'preact/hooks';
import { api } from '../api';
import type { Org, Profile, User } from '../types';
import { DataTable, Field, Loading, Notice, Page, Section, useAction, useLoad, when } from '../ui';

const FULL = { view: true, create: true, edit: true, delete: true };

export function PeoplePage({ org }: { org: Org }) {
  const profiles = useLoad(() => api.profiles(org.id), [org.id]);
  const users = useLoad(() => api.users(org.id), [org.id]);
  const list = profiles.data?.profiles ?? [];
  return (
    <Page title="Profiles & users">
      <Section title="Users">
        <Loading loaded={users} />
        {users.data ? <UsersTable org={org} users={users.data.users} profiles={list} onChanged={users.reload} /> : null}
        <NewUser org={org} profiles={list} onCreated={users.reload} />
      </Section>
      <Section title="Profiles">
        <Loading loaded={profiles} />
        {profiles.data ? <ProfilesTable org={org} profiles={list} onChanged={profiles.reload} /> : null}
        <NewProfile org={org} onCreated={profiles.reload} />
      </Section>
    </Page>
  );
}

function UsersTable({ org, users, profiles, onChanged }: { org: Org; users: User[]; profiles: Profile[]; onChanged: () => void }) {
  const [editing, setEditing] = useState<string | undefined>(undefined);
  const action = useAction();
  const profileName = (id: string) => profiles.find((p) => p.id === id)?.name ?? id;
  return (
    <>
      <DataTable head={['Name', 'Email', 'Profile', 'Status', 'Id', '']}>
        {users.map((u) =>
          editing === u.id ? (
            <tr key={u.id}>
              <td colSpan={6}>
                <EditUser
                  user={u}
                  profiles={profiles}
                  onCancel={() => setEditing(undefined)}
                  onSave={async (change) => {
                    if (await action.run(() => api.updateUser(org.id, u.id, change), `${u.email} saved.`)) {
                      setEditing(undefined);
                      onChanged();
                    }
                  }}
                />
              </td>
            </tr>
          ) : (
            <tr key={u.id}>
              <td>{u.name}</td>
              <td>{u.email}</td>
              <td>{profileName(u.profile_id)}</td>
              <td>
                <span class={`badge ${u.status}`}>{u.status}</span>
              </td>
              <td class="mono">{u.id}</td>
              <td>
                <button type="button" class="secondary small" onClick={() => setEditing(u.id)} aria-label={`Edit ${u.email}`}>
                  Edit
                </button>
              </td>
            </tr>
          ),
        )}
      </DataTable>
      <Notice error={action.error} ok={action.ok} />
    </>
  );
}

function EditUser({ user, profiles, onSave, onCancel }: { user: User; profiles: Profile[]; onSave: (c: { name: string; email: string; profile: string; status: User['status'] }) => void; onCancel: () => void }) {
  const [name, setName] = useState(user.name);
  const [email, setEmail] = useState(user.email);
  const [profile, setProfile] = useState(user.profile_id);
  const [status, setStatus] = useState<User['status']>(user.status);
  return (
    <form
      class="form-grid inline"
      onSubmit={(e) => {
        e.preventDefault();
        onSave({ name, email, profile, status });
      }}
    >
      <Field label="Name">
        <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field label="Email">
        <input required type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </Field>
      <Field label="Profile">
        <select value={profile} onChange={(e) => setProfile(e.currentTarget.value)}>
          {profiles.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Status" hint="An inactive user's tokens stop working">
        <select value={status} onChange={(e) => setStatus(e.currentTarget.value as User['status'])}>
          <option value="active">active</option>
          <option value="inactive">inactive</option>
        </select>
      </Field>
      <div class="actions">
        <button type="submit">Save</button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function NewUser({ org, profiles, onCreated }: { org: Org; profiles: Profile[]; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [profile, setProfile] = useState('Standard');
  const action = useAction();
  return (
    <form
      class="form-grid"
      aria-label="New user"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await action.run(() => api.createUser(org.id, { name, email, profile }), `User ${email} created.`)) {
          setName('');
          setEmail('');
          onCreated();
        }
      }}
    >
      <Field label="New user's name">
        <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field label="Email">
        <input required type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </Field>
      <Field label="Profile">
        <select value={profile} onChange={(e) => setProfile(e.currentTarget.value)}>
          {profiles.map((p) => (
            <option key={p.id} value={p.name}>
              {p.name}
            </option>
          ))}
        </select>
      </Field>
      <div class="actions">
        <button type="submit" disabled={action.busy}>
          Add user
        </button>
      </div>
      <Notice error={action.error} ok={action.ok} />
    </form>
  );
}

function ProfilesTable({ org, profiles, onChanged }: { org: Org; profiles: Profile[]; onChanged: () => void }) {
  const [editing, setEditing] = useState<string | undefined>(undefined);
  const action = useAction();
  return (
    <>
      <DataTable head={['Name', 'Administrator', 'Permissions', 'Created', '']}>
        {profiles.map((p) =>
          editing === p.id ? (
            <tr key={p.id}>
              <td colSpan={5}>
                <ProfileForm
                  initial={p}
                  submitLabel="Save"
                  onCancel={() => setEditing(undefined)}
                  onSubmit={async (b) => {
                    if (await action.run(() => api.updateProfile(org.id, p.id, b), `${b.name} saved.`)) {
                      setEditing(undefined);
                      onChanged();
                    }
                  }}
                />
              </td>
            </tr>
          ) : (
            <tr key={p.id}>
              <td>{p.name}</td>
              <td>{p.admin ? 'yes' : 'no'}</td>
              <td>
                <code class="wrap">{permissionsText(p.permissions)}</code>
              </td>
              <td>{when(p.created_at)}</td>
              <td>
                <button type="button" class="secondary small" onClick={() => setEditing(p.id)} aria-label={`Edit profile ${p.name}`}>
                  Edit
                </button>
              </td>
            </tr>
          ),
        )}
      </DataTable>
      <Notice error={action.error} ok={action.ok} />
    </>
  );
}

function permissionsText(p: Profile['permissions']): string {
  return Object.entries(p)
    .map(([m, x]) => `${m}: ${(['view', 'create', 'edit', 'delete'] as const).filter((k) => x[k]).join('+') || 'none'}`)
    .join('; ');
}

interface ProfileInput {
  name: string;
  admin: boolean;
  permissions: Profile['permissions'];
}

function ProfileForm({ initial, submitLabel, onSubmit, onCancel }: { initial?: Profile; submitLabel: string; onSubmit: (b: ProfileInput) => void; onCancel?: () => void }) {
  const [name, setName] = useState(initial?.name ?? '');
  const [admin, setAdmin] = useState(initial?.admin ?? false);
  const [permissions, setPermissions] = useState(JSON.stringify(initial?.permissions ?? { '*': FULL }, null, 1));
  const [invalid, setInvalid] = useState<string | undefined>(undefined);
  return (
    <form
      class="form-grid inline"
      aria-label={initial ? `Edit profile ${initial.name}` : 'New profile'}
      onSubmit={(e) => {
        e.preventDefault();
        try {
          onSubmit({ name, admin, permissions: JSON.parse(permissions) as Profile['permissions'] });
          setInvalid(undefined);
        } catch {
          setInvalid('Permissions must be JSON, e.g. {"*": {"view": true}, "Leads": {"view": true, "edit": true}}');
        }
      }}
    >
      <Field label={initial ? 'Name' : "New profile's name"}>
        <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <label class="check">
        <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.currentTarget.checked)} /> Administrator (sees every record)
      </label>
      <Field label="Permissions per module (JSON; * for the rest)">
        <textarea rows={3} value={permissions} onInput={(e) => setPermissions(e.currentTarget.value)} />
      </Field>
      <div class="actions">
        <button type="submit">{submitLabel}</button>
        {onCancel ? (
          <button type="button" class="secondary" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
      {invalid ? (
        <p class="notice error" role="alert">
          {invalid}
        </p>
      ) : null}
    </form>
  );
}

function NewProfile({ org, onCreated }: { org: Org; onCreated: () => void }) {
  const action = useAction();
  const [key, setKey] = useState(0);
  return (
    <>
      <ProfileForm
        key={key}
        submitLabel="Add profile"
        onSubmit={async (b) => {
          if (await action.run(() => api.createProfile(org.id, b), `Profile ${b.name} created.`)) {
            setKey((k) => k + 1);
            onCreated();
          }
        }}
      />
      <Notice error={action.error} ok={action.ok} />
    </>
  );
}
