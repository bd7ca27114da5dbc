/**
 * An org's limits: what is in force and where it comes from, what is used of it (credits, storage, calls in flight),
 * and the org's own settings — an edition preset, explicit figures, or both — set, removed, credits given back.
 */
import { useEffect, useState } from 'preact/hooks';
import { EDITIONS } from '../../../src/domain/limits';
import { api } from '../api';
import type { LimitReport, NewLimits, Org } from '../types';
import { DataTable, Field, Loading, Notice, Options, Section, bytes, fieldProblems, useAction, useLoad, when } from '../ui';

type Figure = 'users' | 'credits' | 'concurrency' | 'sub_concurrency' | 'storage_bytes' | 'record_attachment_bytes';

const FIGURES: { key: Figure; label: string; hint: string; size?: true }[] = [
  { key: 'users', label: 'Users', hint: "scales the edition's figures; 1 if empty" },
  { key: 'credits', label: 'Credits per 24 hours', hint: 'every /crm call costs 1' },
  { key: 'concurrency', label: 'Concurrency', hint: 'calls at once, per user and app' },
  { key: 'sub_concurrency', label: 'Sub-concurrency', hint: 'uploads and bulk calls at once' },
  { key: 'storage_bytes', label: 'Storage quota (bytes)', hint: "the org's photos and files together", size: true },
  { key: 'record_attachment_bytes', label: 'Attachments per record (bytes)', hint: "one record's files together", size: true },
];

interface LimitsForm {
  edition: string;
  tokenLimits: '' | 'on' | 'off';
  figures: Record<Figure, string>;
}

function formOf(settings: LimitReport['settings']): LimitsForm {
  const figures = Object.fromEntries(FIGURES.map(({ key }) => [key, settings?.[key] == null ? '' : String(settings[key])])) as Record<Figure, string>;
  const tokenLimits = settings?.token_limits == null ? '' : settings.token_limits ? 'on' : 'off';
  return { edition: settings?.edition ?? '', tokenLimits, figures };
}

/** Only what the form names: an empty field is "not set" (the edition's figure, or no limit). */
function documentOf(f: LimitsForm): NewLimits {
  const doc: NewLimits = {};
  if (f.edition) doc.edition = f.edition as (typeof EDITIONS)[number];
  // A field the browser could not read as a number is sent as null: the server then says which field is wrong.
  for (const { key } of FIGURES) if (f.figures[key].trim() !== '') doc[key] = Number(f.figures[key]);
  if (f.tokenLimits) doc.token_limits = f.tokenLimits === 'on';
  return doc;
}

const SOURCE: Record<LimitReport['source'], string> = {
  org: "the org's own settings",
  default: "the server's default for orgs without their own (CRM_MEDIA_DEFAULT_LIMITS)",
  none: 'none: no limit applies to this org',
};

const orNone = (v: number | null, show: (n: number) => string = String) => (v === null ? 'no limit' : show(v));

export function OrgLimits({ org, refreshKey }: { org: Org; refreshKey: number }) {
  const report = useLoad(() => api.limits(org.id), [org.id, refreshKey]);
  const users = useLoad(() => api.users(org.id), [org.id]);
  const [form, setForm] = useState<LimitsForm>(() => formOf(null));
  const save = useAction();
  const change = useAction();
  const settings = report.data?.settings ?? null;
  // The form shows the org's settings as stored, again whenever they change (not while a refused edit is on screen).
  useEffect(() => setForm(formOf(settings)), [org.id, settings?.updated_at ?? null]);
  const problems = fieldProblems(save.error);
  const email = (id: string) => users.data?.users.find((u) => u.id === id)?.email ?? id;
  const act = async (what: () => Promise<unknown>, ok: string) => {
    if (await change.run(what, ok)) report.reload();
  };
  return (
    <div class="grid-2 align-start">
      <Section title={`Limits of ${org.name}`} id="limits-in-force">
        <Loading loaded={report} />
        {report.data ? <InForce report={report.data} email={email} /> : null}
        <div class="row wrap">
          <button type="button" class="secondary" onClick={report.reload}>
            Refresh
          </button>
          <button type="button" class="secondary" disabled={change.busy} onClick={() => act(() => api.resetCredits(org.id), 'Credits reset: a fresh 24 hours.')}>
            Reset credits
          </button>
        </div>
        <Notice error={change.error} ok={change.ok} />
      </Section>
      <Section title="The org's own limits" id="org-limits-form">
        <p class="muted">
          An edition gives Zoho's figures for it; a figure given here replaces the edition's. All empty and no edition: remove them instead.
          {settings ? ` Set ${when(settings.updated_at)}.` : ' This org has none of its own.'}
        </p>
        <form
          class="form-grid align-start"
          aria-label="The org's own limits"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await save.run(() => api.setLimits(org.id, documentOf(form)), `Limits of ${org.name} saved.`)) report.reload();
          }}
        >
          <Field label="Edition" problem={problems['edition']}>
            <select value={form.edition} aria-invalid={problems['edition'] ? true : undefined} onChange={(e) => setForm({ ...form, edition: e.currentTarget.value })}>
              <option value="">none</option>
              <Options values={EDITIONS} />
            </select>
          </Field>
          {FIGURES.map(({ key, label, hint, size }) => {
            const v = form.figures[key];
            const shown = size && v !== '' && Number.isFinite(Number(v)) ? `${hint} · ${bytes(Number(v))}` : hint;
            return (
              <Field key={key} label={label} hint={shown} problem={problems[key]}>
                <input
                  type="number"
                  inputMode="numeric"
                  value={v}
                  aria-invalid={problems[key] ? true : undefined}
                  onInput={(e) => setForm({ ...form, figures: { ...form.figures, [key]: e.currentTarget.value } })}
                />
              </Field>
            );
          })}
          <Field label="Token endpoint limits" problem={problems['token_limits']}>
            <select value={form.tokenLimits} onChange={(e) => setForm({ ...form, tokenLimits: e.currentTarget.value as LimitsForm['tokenLimits'] })}>
              <option value="">as the edition says</option>
              <option value="on">on</option>
              <option value="off">off</option>
            </select>
          </Field>
          <div class="actions">
            <button type="submit" disabled={save.busy}>
              Save limits
            </button>
            {settings ? (
              <button
                type="button"
                class="danger"
                disabled={change.busy}
                onClick={() => {
                  if (confirm(`Remove the limits of ${org.name}? The server's default (if any) applies again.`)) void act(() => api.clearLimits(org.id), 'Limits removed.');
                }}
              >
                Remove limits
              </button>
            ) : null}
          </div>
        </form>
        <Notice error={save.error} ok={save.ok} />
      </Section>
    </div>
  );
}

/** A bar that turns amber past half and red near the end, as the room runs out. */
function Usage({ label, used, of }: { label: string; used: number; of: number }) {
  return <meter class="usage" min={0} max={of} low={of / 2} high={of * 0.9} optimum={0} value={used} aria-label={label} />;
}

function InForce({ report, email }: { report: LimitReport; email: (id: string) => string }) {
  const e = report.effective;
  const u = report.usage;
  return (
    <>
      <dl class="facts" aria-label="Limits in force and usage">
        <dt>From</dt>
        <dd>{SOURCE[report.source]}</dd>
        <dt>Credits</dt>
        <dd>
          {e.credits === null ? (
            // Calls are counted only under a credit limit: what shows here was spent while there was one.
            `no limit${u.credits_used > 0 ? ` · ${u.credits_used} spent in the last 24 hours` : ''}`
          ) : (
            <>
              {u.credits_used} used of {e.credits} · <strong>{u.credits_remaining} left</strong>
              <Usage label="Credits used" used={u.credits_used} of={e.credits} />
            </>
          )}
        </dd>
        <dt>Concurrency</dt>
        <dd>{orNone(e.concurrency)}</dd>
        <dt>Sub-concurrency</dt>
        <dd>{orNone(e.sub_concurrency)}</dd>
        <dt>Storage</dt>
        <dd>
          {e.storage_bytes === null ? (
            `${bytes(u.storage_used_bytes)} used · no quota`
          ) : (
            <>
              {bytes(u.storage_used_bytes)} used of {bytes(e.storage_bytes)} · {bytes(u.storage_remaining_bytes ?? 0)} left
              <Usage label="Storage used" used={u.storage_used_bytes} of={e.storage_bytes} />
            </>
          )}
        </dd>
        <dt>Per record</dt>
        <dd>{orNone(e.record_attachment_bytes, bytes)}</dd>
        <dt>Token endpoint</dt>
        <dd>{e.token_limits ? 'limits on' : 'no limits'}</dd>
        <dt>In flight</dt>
        <dd>{u.in_flight.length === 0 ? 'no call now' : `${u.in_flight.reduce((n, f) => n + f.count, 0)} call(s)`}</dd>
      </dl>
      {u.in_flight.length > 0 ? (
        <DataTable head={['User', 'App', 'Kind', 'Calls']} caption="Calls in flight">
          {u.in_flight.map((f) => (
            <tr key={`${f.user_id}|${f.client_id}|${f.kind}`}>
              <td>{email(f.user_id)}</td>
              <td class="mono wrap">{f.client_id}</td>
              <td>{f.kind}</td>
              <td>{f.count}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
    </>
  );
}
