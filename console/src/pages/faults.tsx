/**
 * Fault rules: every rule with what it matches, what it does and how much firing it has left; a form to add one
 * (its lists of operations, reset points and errors are the server's own); one deleted, or all.
 */
import { useState } from 'preact/hooks';
import { ERROR_CATALOG } from '../../../src/domain/errors';
import { FAULT_OPERATIONS, RESET_POINTS, faultErrorNames } from '../../../src/domain/fault-vocabulary';
import { STANDARD_MODULES } from '../../../src/domain/modules';
import { api } from '../api';
import type { FaultRule, NewFault, Org } from '../types';
import { DataTable, Field, Loading, Notice, Options, OrgOptions, Section, UserOptions, bytes, fieldProblems, useAction, useLoad, when } from '../ui';

/** `photo.*` for every family the operations name: a rule may match a whole family. */
const FAMILIES = [...new Set(FAULT_OPERATIONS.filter((op) => op.includes('.')).map((op) => `${op.split('.')[0]}.*`))];
const ERRORS = faultErrorNames();
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];

const ACTIONS = {
  delay: 'Delay the answer',
  error: 'Answer with an error',
  token_error: 'Token endpoint error',
  reset: 'Reset the connection',
  truncate: 'Cut the body short',
  throttle: 'Send the body slowly',
} as const;
type ActionKind = keyof typeof ACTIONS;

const EMPTY = {
  operation: '',
  method: '',
  module: '',
  org: '',
  user: '',
  token: '',
  client: '',
  kind: 'delay' as ActionKind,
  delayMin: '500',
  delayMax: '',
  error: 'INTERNAL_ERROR',
  tokenError: 'Access Denied',
  reset: RESET_POINTS[0] as string,
  truncate: '1024',
  throttle: '65536',
  probability: '',
  times: '',
  until: '',
};
type FaultForm = typeof EMPTY;

function actionOf(f: FaultForm): NewFault['action'] {
  switch (f.kind) {
    case 'delay':
      return { delay_ms: f.delayMax ? [Number(f.delayMin), Number(f.delayMax)] : Number(f.delayMin) };
    case 'error':
      return { error: f.error };
    case 'token_error':
      return { token_error: f.tokenError };
    case 'reset':
      return { reset: f.reset as (typeof RESET_POINTS)[number] };
    case 'truncate':
      return { truncate_after_bytes: Number(f.truncate) };
    case 'throttle':
      return { throttle_bytes_per_second: Number(f.throttle) };
  }
}

function documentOf(f: FaultForm): NewFault {
  const match: NonNullable<NewFault['match']> = {};
  for (const k of ['operation', 'method', 'module', 'org', 'user', 'token', 'client'] as const) if (f[k].trim()) match[k] = f[k].trim();
  return {
    match,
    action: actionOf(f),
    ...(f.probability ? { probability: Number(f.probability) } : {}),
    ...(f.times ? { times: Number(f.times) } : {}),
    // datetime-local is the browser's local time; the server takes an absolute one.
    ...(f.until ? { until: new Date(f.until).toISOString() } : {}),
  };
}

function actionText(a: FaultRule['action']): string {
  if (a.delay_ms !== undefined) return `delay ${Array.isArray(a.delay_ms) ? `${a.delay_ms[0]}–${a.delay_ms[1]}` : a.delay_ms} ms`;
  if ('error' in a) return `error ${a.error}`;
  if (a.token_error !== undefined) return `token error “${a.token_error}”`;
  if (a.reset !== undefined) return `reset ${a.reset.replace('_', ' the ')}`;
  if (a.truncate_after_bytes !== undefined) return `cut after ${bytes(a.truncate_after_bytes)}`;
  return `throttle to ${bytes(a.throttle_bytes_per_second ?? 0)}/s`;
}

function matchText(m: FaultRule['match'], orgName: (id: string) => string): string {
  const parts = Object.entries(m)
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([k, v]) => `${k} ${k === 'org' ? orgName(v) : v}`);
  return parts.length ? parts.join(' · ') : 'every request';
}

export function FaultRules({ orgs, org }: { orgs: Org[]; org: Org | undefined }) {
  const faults = useLoad(() => api.faults(), []);
  const [form, setForm] = useState<FaultForm>(EMPTY);
  const userOrg = form.org || org?.id || '';
  const users = useLoad(() => (userOrg ? api.users(userOrg) : Promise.resolve({ users: [] })), [userOrg]);
  const add = useAction();
  const remove = useAction();
  const problems = fieldProblems(add.error);
  const orgName = (id: string) => orgs.find((o) => o.id === id)?.name ?? id;
  const set = (k: keyof FaultForm) => (e: { currentTarget: { value: string } }) => setForm({ ...form, [k]: e.currentTarget.value });
  const invalid = (...fields: string[]) => fields.map((f) => problems[f]).find(Boolean);
  const list = faults.data?.faults ?? [];
  return (
    <Section title="Fault rules">
      <p class="muted">Matching requests to /crm and the token endpoint are slowed, refused or broken. Every rule that matches applies, in the order added; the first outcome wins.</p>
      <Loading loaded={faults} />
      {faults.data && list.length === 0 ? <p class="muted">No fault rules.</p> : null}
      {list.length > 0 ? (
        <DataTable head={['Rule', 'Match', 'Action', 'Probability', 'Times left', 'Until', 'Fired', '']} caption="Fault rules" class="faults">
          {list.map((f) => (
            <tr key={f.id} class={f.times_left === 0 ? 'spent' : undefined}>
              <td class="mono wrap">{f.id}</td>
              <td class="wrap">{matchText(f.match, orgName)}</td>
              <td>{actionText(f.action)}</td>
              <td>{f.probability === null ? 'always' : f.probability}</td>
              <td>{f.times_left === null ? 'unlimited' : f.times_left === 0 ? <span class="badge failed">spent</span> : f.times_left}</td>
              <td>{f.until ? when(f.until) : 'no end'}</td>
              <td>{f.fired}</td>
              <td>
                <button
                  type="button"
                  class="danger small"
                  aria-label={`Delete fault rule ${f.id}`}
                  onClick={async () => {
                    if (await remove.run(() => api.deleteFault(f.id), `Fault rule ${f.id} deleted.`)) faults.reload();
                  }}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      <div class="row wrap">
        <button type="button" class="secondary" onClick={faults.reload}>
          Refresh
        </button>
        {list.length > 0 ? (
          <button
            type="button"
            class="danger"
            disabled={remove.busy}
            onClick={async () => {
              if (confirm('Delete every fault rule?') && (await remove.run(() => api.clearFaults(), 'Every fault rule deleted.'))) faults.reload();
            }}
          >
            Delete all rules
          </button>
        ) : null}
      </div>
      <Notice error={remove.error} ok={remove.ok} />

      <h3 id="new-fault-heading" class="subhead">Add a fault rule</h3>
      <form
        class="form-grid align-start"
        aria-labelledby="new-fault-heading"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await add.run(() => api.addFault(documentOf(form)), 'Fault rule added.')) {
            setForm({ ...form, token: '' });
            faults.reload();
          }
        }}
      >
        <fieldset class="span-all">
          <legend>Which requests (every criterion given must hold)</legend>
          <div class="form-grid align-start">
            <Field label="Operation" problem={invalid('match.operation')}>
              <select value={form.operation} onChange={set('operation')}>
                <option value="">any</option>
                <optgroup label="Families">
                  <Options values={FAMILIES} />
                </optgroup>
                <optgroup label="Operations">
                  <Options values={FAULT_OPERATIONS} />
                </optgroup>
              </select>
            </Field>
            <Field label="Method">
              <select value={form.method} onChange={set('method')}>
                <option value="">any</option>
                <Options values={METHODS} />
              </select>
            </Field>
            <Field label="Module" hint="as the path names it; empty: any">
              <input list="fault-modules" value={form.module} onInput={set('module')} />
            </Field>
            <datalist id="fault-modules">
              {STANDARD_MODULES.map((m) => (
                <option key={m.apiName} value={m.apiName} />
              ))}
            </datalist>
            <Field label="Org" problem={invalid('match.org')}>
              <select value={form.org} onChange={(e) => setForm({ ...form, org: e.currentTarget.value, user: '' })}>
                <option value="">any</option>
                <OrgOptions orgs={orgs} />
              </select>
            </Field>
            <Field label="User" hint={userOrg ? `of ${orgName(userOrg)}` : undefined} problem={invalid('match.user')}>
              <select value={form.user} onChange={set('user')}>
                <option value="">any</option>
                <UserOptions users={users.data?.users ?? []} />
              </select>
            </Field>
            <Field label="Access token" hint="its value; kept as the token's id" problem={invalid('match.token')}>
              <input type="password" autocomplete="off" value={form.token} onInput={set('token')} />
            </Field>
            <Field label="OAuth client id" problem={invalid('match.client')}>
              <input value={form.client} onInput={set('client')} />
            </Field>
          </div>
        </fieldset>
        <Field label="Action" problem={invalid('action')}>
          <select value={form.kind} onChange={set('kind')}>
            {Object.entries(ACTIONS).map(([k, text]) => (
              <option key={k} value={k}>
                {text}
              </option>
            ))}
          </select>
        </Field>
        <ActionFields form={form} set={set} problem={invalid('action.delay_ms', 'action.error', 'action.token_error', 'action.reset', 'action.truncate_after_bytes', 'action.throttle_bytes_per_second')} />
        <Field label="Probability" hint="0 to 1; empty: always" problem={invalid('probability')}>
          <input type="number" step="any" value={form.probability} onInput={set('probability')} />
        </Field>
        <Field label="Times" hint="the next N matches; empty: no count" problem={invalid('times')}>
          <input type="number" value={form.times} onInput={set('times')} />
        </Field>
        <Field label="Until" hint="your local time; of the test clock when it runs" problem={invalid('until')}>
          <input type="datetime-local" value={form.until} onInput={set('until')} />
        </Field>
        <div class="actions">
          <button type="submit" disabled={add.busy}>
            Add fault rule
          </button>
          <button type="button" class="secondary" onClick={() => (setForm(EMPTY), add.clear())}>
            Clear form
          </button>
        </div>
      </form>
      <Notice error={add.error} ok={add.ok} />
    </Section>
  );
}

function ActionFields({ form, set, problem }: { form: FaultForm; set: (k: keyof FaultForm) => (e: { currentTarget: { value: string } }) => void; problem: string | undefined }) {
  switch (form.kind) {
    case 'delay':
      return (
        <>
          <Field label="Delay (ms)" hint="at most 10 minutes" problem={problem}>
            <input type="number" value={form.delayMin} onInput={set('delayMin')} />
          </Field>
          <Field label="Up to (ms)" hint="optional: a delay drawn between the two">
            <input type="number" value={form.delayMax} onInput={set('delayMax')} />
          </Field>
        </>
      );
    case 'error':
      return (
        <Field label="Error" hint="rendered as the server renders it" problem={problem}>
          <select value={form.error} onChange={set('error')}>
            {ERRORS.map((n) => (
              <option key={n} value={n}>
                {n} ({ERROR_CATALOG[n].status})
              </option>
            ))}
          </select>
        </Field>
      );
    case 'token_error':
      return (
        <Field label="Token error" hint="token endpoint only: HTTP 200 {error}" problem={problem}>
          <input value={form.tokenError} onInput={set('tokenError')} />
        </Field>
      );
    case 'reset':
      return (
        <Field label="Reset when" problem={problem}>
          <select value={form.reset} onChange={set('reset')}>
            {RESET_POINTS.map((p) => (
              <option key={p} value={p}>
                {p.replace('_', ' the ')}
              </option>
            ))}
          </select>
        </Field>
      );
    case 'truncate':
      return (
        <Field label="Cut after (bytes)" problem={problem}>
          <input type="number" value={form.truncate} onInput={set('truncate')} />
        </Field>
      );
    case 'throttle':
      return (
        <Field label="Bytes per second" problem={problem}>
          <input type="number" value={form.throttle} onInput={set('throttle')} />
        </Field>
      );
  }
}
