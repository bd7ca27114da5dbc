/** A module's records, and a new record (module, owner, fields as JSON, state). */
import { useState } from 'preact/hooks';
import { RECORD_STATES } from '../../../src/domain/entities';
import { STANDARD_MODULES } from '../../../src/domain/modules';
import { api } from '../api';
import { type Route, go, href } from '../router';
import type { CrmRecord, Org } from '../types';
import { DataTable, Field, Loading, Notice, Page, Section, UserOptions, useAction, useLoad, when } from '../ui';

/** The field Zoho shows as a record's name, per module family; else the first text field. */
export function recordName(r: CrmRecord): string {
  const d = r.data as Record<string, unknown>;
  for (const k of ['Full_Name', 'Last_Name', 'Account_Name', 'Deal_Name', 'Product_Name', 'Vendor_Name', 'Subject', 'Name', 'Campaign_Name']) {
    if (typeof d[k] === 'string' && d[k]) return d[k];
  }
  const first = Object.values(d).find((v) => typeof v === 'string');
  return typeof first === 'string' ? first : '(no name)';
}

export function RecordsPage({ org, route }: { org: Org; route: Route }) {
  const module = route.query.get('module') ?? 'Leads';
  const modules = useLoad(() => api.modules(org.id), [org.id]);
  const records = useLoad(() => api.records(org.id, module), [org.id, module]);
  const users = useLoad(() => api.users(org.id), [org.id]);
  const names = [...STANDARD_MODULES.map((m) => m.apiName), ...(modules.data?.modules ?? []).filter((m) => m.custom).map((m) => m.api_name)];
  const userName = (id: string) => users.data?.users.find((u) => u.id === id)?.name ?? id;
  return (
    <Page title={`Records: ${module}`}>
      <Section title="Module">
        <label class="field inline-field">
          <span class="label">Module</span>
          <select value={module} onChange={(e) => go(href('orgs', org.id, 'records', { module: e.currentTarget.value }))}>
            {names.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
      </Section>
      <Section title={`${module} records`} id="records-list">
        <Loading loaded={records} />
        {records.data ? (
          records.data.records.length === 0 ? (
            <p>No {module} records yet.</p>
          ) : (
            <DataTable head={['Name', 'Id', 'State', 'Owner', 'Modified']}>
              {records.data.records.map((r) => (
                <tr key={r.id}>
                  <td>
                    <a href={href('orgs', org.id, 'records', r.id)}>{recordName(r)}</a>
                  </td>
                  <td class="mono">{r.id}</td>
                  <td>
                    <span class={`badge state-${r.state}`}>{r.state.replace(/_/g, ' ')}</span>
                  </td>
                  <td>{userName(r.owner_id)}</td>
                  <td>{when(r.modified_at)}</td>
                </tr>
              ))}
            </DataTable>
          )
        ) : null}
      </Section>
      <NewRecord org={org} module={module} users={users.data?.users ?? []} onCreated={(id) => go(href('orgs', org.id, 'records', id))} />
    </Page>
  );
}

function NewRecord({ org, module, users, onCreated }: { org: Org; module: string; users: { id: string; name: string; email: string }[]; onCreated: (id: string) => void }) {
  const [owner, setOwner] = useState('');
  const [data, setData] = useState('{\n "Last_Name": "Boyle"\n}');
  const [state, setState] = useState<(typeof RECORD_STATES)[number]>('normal');
  const action = useAction();
  return (
    <Section title={`New ${module} record`} id="new-record">
      <form
        class="form-grid"
        onSubmit={async (e) => {
          e.preventDefault();
          let fields: Record<string, unknown>;
          try {
            fields = JSON.parse(data) as Record<string, unknown>;
          } catch {
            await action.run(() => Promise.reject(new Error('The fields must be a JSON object, e.g. {"Last_Name": "Boyle"}.')));
            return;
          }
          let id = '';
          if (await action.run(async () => (id = (await api.createRecord(org.id, { module, owner: owner || undefined, data: fields, state })).id))) onCreated(id);
        }}
      >
        <Field label="Owner">
          <select value={owner} onChange={(e) => setOwner(e.currentTarget.value)}>
            <option value="">the org's first administrator</option>
            <UserOptions users={users} />
          </select>
        </Field>
        <Field label="State">
          <select value={state} onChange={(e) => setState(e.currentTarget.value as (typeof RECORD_STATES)[number])}>
            {RECORD_STATES.map((s) => (
              <option key={s} value={s}>
                {s.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Fields (JSON)">
          <textarea rows={4} value={data} onInput={(e) => setData(e.currentTarget.value)} />
        </Field>
        <div class="actions">
          <button type="submit" disabled={action.busy}>
            Create record
          </button>
        </div>
      </form>
      <Notice error={action.error} ok={action.ok} />
    </Section>
  );
}
