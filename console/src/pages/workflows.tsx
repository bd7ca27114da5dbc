/** Workflow rules (created, deleted) and every delivery with its attempts; a wait for pending deliveries. */
import { useState } from 'preact/hooks';
import { WORKFLOW_EVENTS } from '../../../src/domain/entities';
import { STANDARD_MODULES } from '../../../src/domain/modules';
import { api } from '../api';
import type { Org } from '../types';
import { DataTable, Field, Loading, Notice, Page, Section, useAction, useLoad, when } from '../ui';

export function WorkflowsPage({ org }: { org: Org }) {
  const rules = useLoad(() => api.rules(org.id), [org.id]);
  const [status, setStatus] = useState('');
  const deliveries = useLoad(() => api.deliveries(org.id, status || undefined), [org.id, status]);
  const counts = useLoad(() => api.deliveryCounts(org.id), [org.id]);
  const action = useAction();
  const wait = useAction();
  const [form, setForm] = useState({ name: '', module: 'Leads', event: 'photo_uploaded' as (typeof WORKFLOW_EVENTS)[number], url: '', secret: '', active: true });
  const ruleName = (id: string) => rules.data?.rules.find((r) => r.id === id)?.name ?? id;
  const reload = () => {
    deliveries.reload();
    counts.reload();
  };
  return (
    <Page title="Workflows">
      <Section title="Rules">
        <Loading loaded={rules} />
        {rules.data?.rules.length === 0 ? <p class="muted">No rules.</p> : null}
        {rules.data && rules.data.rules.length > 0 ? (
          <DataTable head={['Name', 'Module', 'Event', 'Webhook', 'Signed', 'Active', '']}>
            {rules.data.rules.map((r) => (
              <tr key={r.id}>
                <td>{r.name}</td>
                <td>{r.module}</td>
                <td>{r.event}</td>
                <td class="mono wrap">{r.url}</td>
                <td>{r.signed ? 'yes' : 'no'}</td>
                <td>{r.active ? 'yes' : 'no'}</td>
                <td>
                  <button
                    type="button"
                    class="danger small"
                    aria-label={`Delete rule ${r.name}`}
                    onClick={async () => {
                      if (confirm(`Delete rule ${r.name}?`) && (await action.run(() => api.deleteRule(org.id, r.id), 'Rule deleted.'))) rules.reload();
                    }}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </DataTable>
        ) : null}
        <form
          class="form-grid"
          aria-label="New rule"
          onSubmit={async (e) => {
            e.preventDefault();
            const { secret, ...rest } = form;
            if (await action.run(() => api.createRule(org.id, { ...rest, ...(secret ? { secret } : {}) }), `Rule ${form.name} created.`)) {
              setForm({ ...form, name: '', secret: '' });
              rules.reload();
            }
          }}
        >
          <Field label="Rule name">
            <input required value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
          </Field>
          <Field label="Module">
            <input list="rule-modules" required value={form.module} onInput={(e) => setForm({ ...form, module: e.currentTarget.value })} />
          </Field>
          <datalist id="rule-modules">
            {STANDARD_MODULES.map((m) => (
              <option key={m.apiName} value={m.apiName} />
            ))}
          </datalist>
          <Field label="Event">
            <select value={form.event} onChange={(e) => setForm({ ...form, event: e.currentTarget.value as (typeof WORKFLOW_EVENTS)[number] })}>
              {WORKFLOW_EVENTS.map((ev) => (
                <option key={ev} value={ev}>
                  {ev}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Webhook URL">
            <input type="url" required value={form.url} onInput={(e) => setForm({ ...form, url: e.currentTarget.value })} />
          </Field>
          <Field label="Signing secret" hint="optional: HMAC-SHA256 in X-CRM-Media-Signature">
            <input type="password" autocomplete="off" value={form.secret} onInput={(e) => setForm({ ...form, secret: e.currentTarget.value })} />
          </Field>
          <label class="check">
            <input type="checkbox" checked={form.active} onChange={(e) => setForm({ ...form, active: e.currentTarget.checked })} /> Active
          </label>
          <div class="actions">
            <button type="submit" disabled={action.busy}>
              Add rule
            </button>
          </div>
        </form>
        <Notice error={action.error} ok={action.ok} />
      </Section>
      <Section title="Deliveries">
        <div class="row wrap">
          <p class="counts" role="status">
            {counts.data ? `${counts.data.pending} pending · ${counts.data.delivered} delivered · ${counts.data.failed} failed` : '…'}
          </p>
          <label class="field inline-field">
            <span class="label">Show</span>
            <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="">all</option>
              <option value="pending">pending</option>
              <option value="delivered">delivered</option>
              <option value="failed">failed</option>
            </select>
          </label>
          <button type="button" class="secondary" onClick={reload}>
            Refresh
          </button>
          <button
            type="button"
            class="secondary"
            disabled={wait.busy}
            onClick={async () => {
              await wait.run(async () => {
                const r = await api.waitDeliveries(org.id, 30_000);
                if (!r.settled) throw new Error(`Still ${r.pending} pending after 30 s.`);
              }, 'Every delivery has been delivered or has failed.');
              reload();
            }}
          >
            {wait.busy ? 'Waiting…' : 'Wait until none is pending'}
          </button>
        </div>
        <Notice error={wait.error} ok={wait.ok} />
        <Loading loaded={deliveries} />
        {deliveries.data?.deliveries.length === 0 ? <p class="muted">No deliveries.</p> : null}
        <ul class="deliveries">
          {(deliveries.data?.deliveries ?? []).map((d) => (
            <li key={d.id}>
              <details>
                <summary>
                  <span class={`badge ${d.status}`}>{d.status}</span> {d.event} · {ruleName(d.rule_id)} · {d.attempts} attempt{d.attempts === 1 ? '' : 's'} · {when(d.created_at)}
                  {d.last_error ? <span class="muted"> · {d.last_error}</span> : null}
                </summary>
                <DataTable head={['#', 'Started', 'Took', 'HTTP', 'Error']} caption={`Attempts of delivery ${d.id}`}>
                  {d.attempt_log.map((a) => (
                    <tr key={a.attempt}>
                      <td>{a.attempt}</td>
                      <td>{when(a.started_at)}</td>
                      <td>{a.duration_ms} ms</td>
                      <td>{a.status_code ?? '—'}</td>
                      <td>{a.error ?? '—'}</td>
                    </tr>
                  ))}
                </DataTable>
                <pre class="json" tabIndex={0}>{JSON.stringify(d.payload, null, 2)}</pre>
              </details>
            </li>
          ))}
        </ul>
      </Section>
    </Page>
  );
}
