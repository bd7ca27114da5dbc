/** Orgs: the list and a new one; an org's overview: its name and time zone, its modules and their sharing. */
import { useState } from 'preact/hooks';
import { STANDARD_MODULES } from '../../../src/domain/modules';
import { SHARING_SETTINGS } from '../../../src/domain/entities';
import { api } from '../api';
import { href } from '../router';
import type { Org } from '../types';
import { DataTable, Field, Loading, Notice, Page, Section, useAction, useLoad, when } from '../ui';

const TIME_ZONES: string[] = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : ['UTC'];

export function OrgsPage({ onChanged }: { onChanged: () => void }) {
  const orgs = useLoad(() => api.orgs(), []);
  const [name, setName] = useState('');
  const [timeZone, setTimeZone] = useState('UTC');
  const action = useAction();
  const create = async (e: Event) => {
    e.preventDefault();
    if (await action.run(() => api.createOrg({ name, time_zone: timeZone }), `Org “${name}” created.`)) {
      setName('');
      orgs.reload();
      onChanged();
    }
  };
  return (
    <Page title="Orgs">
      <Section title="All orgs">
        <Loading loaded={orgs} />
        {orgs.data ? (
          orgs.data.orgs.length === 0 ? (
            <p>No org yet. Create one below, or import a seed document.</p>
          ) : (
            <DataTable head={['Name', 'Id', 'Time zone', 'Created']}>
              {orgs.data.orgs.map((o) => (
                <tr key={o.id}>
                  <td>
                    <a href={href('orgs', o.id)}>{o.name}</a>
                  </td>
                  <td class="mono">{o.id}</td>
                  <td>{o.time_zone}</td>
                  <td>{when(o.created_at)}</td>
                </tr>
              ))}
            </DataTable>
          )
        ) : null}
      </Section>
      <Section title="New org">
        <form class="form-grid" onSubmit={create}>
          <Field label="Name">
            <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field label="Time zone">
            <input list="time-zones" value={timeZone} onInput={(e) => setTimeZone(e.currentTarget.value)} />
          </Field>
          <datalist id="time-zones">
            {TIME_ZONES.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
          <div class="actions">
            <button type="submit" disabled={action.busy}>
              Create org
            </button>
          </div>
        </form>
        <Notice error={action.error} ok={action.ok} />
      </Section>
    </Page>
  );
}

export function OrgPage({ org, onChanged }: { org: Org; onChanged: () => void }) {
  const [name, setName] = useState(org.name);
  const [timeZone, setTimeZone] = useState(org.time_zone);
  const save = useAction();
  const modules = useLoad(() => api.modules(org.id), [org.id]);
  const counts = useLoad(() => api.deliveryCounts(org.id), [org.id]);
  const [apiName, setApiName] = useState('');
  const moduleAction = useAction();
  const settings = modules.data?.modules ?? [];
  const sharingOf = (m: string) => settings.find((s) => s.api_name.toLowerCase() === m.toLowerCase())?.sharing ?? 'public_read_write';
  const allModules = [
    ...STANDARD_MODULES.map((m) => ({ api_name: m.apiName, label: m.plural, custom: false })),
    ...settings.filter((s) => s.custom).map((s) => ({ api_name: s.api_name, label: s.plural, custom: true })),
  ];
  return (
    <Page title={org.name}>
      <Section title="Org">
        <form
          class="form-grid"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await save.run(() => api.updateOrg(org.id, { name, time_zone: timeZone }), 'Saved.')) onChanged();
          }}
        >
          <Field label="Name">
            <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field label="Time zone" hint="API times are shown with this zone's offset">
            <input list="org-time-zones" value={timeZone} onInput={(e) => setTimeZone(e.currentTarget.value)} />
          </Field>
          <datalist id="org-time-zones">
            {TIME_ZONES.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
          <div class="actions">
            <button type="submit" disabled={save.busy}>
              Save
            </button>
          </div>
        </form>
        <Notice error={save.error} ok={save.ok} />
        <dl class="facts">
          <dt>Id</dt>
          <dd class="mono">{org.id}</dd>
          <dt>Created</dt>
          <dd>{when(org.created_at)}</dd>
          <dt>Webhook deliveries</dt>
          <dd>
            {counts.data ? (
              <a href={href('orgs', org.id, 'workflows')}>
                {counts.data.pending} pending, {counts.data.delivered} delivered, {counts.data.failed} failed
              </a>
            ) : (
              '…'
            )}
          </dd>
        </dl>
      </Section>
      <Section title="Modules and sharing">
        <Loading loaded={modules} />
        <DataTable head={['Module', 'Kind', 'Sharing']}>
          {allModules.map((m) => (
            <tr key={m.api_name}>
              <td>
                <a href={href('orgs', org.id, 'records', { module: m.api_name })}>{m.api_name}</a>
              </td>
              <td>{m.custom ? 'custom' : 'standard'}</td>
              <td>
                <select
                  aria-label={`Sharing of ${m.api_name}`}
                  value={sharingOf(m.api_name)}
                  onChange={async (e) => {
                    const sharing = e.currentTarget.value as (typeof SHARING_SETTINGS)[number];
                    if (await moduleAction.run(() => api.setSharing(org.id, m.api_name, sharing), `${m.api_name}: ${sharing}.`)) modules.reload();
                  }}
                >
                  {SHARING_SETTINGS.map((s) => (
                    <option key={s} value={s}>
                      {s.replace(/_/g, ' ')}
                    </option>
                  ))}
                </select>
              </td>
            </tr>
          ))}
        </DataTable>
        <form
          class="form-grid"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await moduleAction.run(() => api.createModule(org.id, { api_name: apiName }), `Module ${apiName} created.`)) {
              setApiName('');
              modules.reload();
            }
          }}
        >
          <Field label="New custom module (API name)">
            <input required pattern="[A-Za-z][A-Za-z0-9_]*" value={apiName} onInput={(e) => setApiName(e.currentTarget.value)} />
          </Field>
          <div class="actions">
            <button type="submit" disabled={moduleAction.busy}>
              Add module
            </button>
          </div>
        </form>
        <Notice error={moduleAction.error} ok={moduleAction.ok} />
      </Section>
    </Page>
  );
}
