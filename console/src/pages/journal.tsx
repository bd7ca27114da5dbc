/**
 * The request journal, live: the newest requests to the Zoho surface of this instance, filtered, appended as they
 * arrive (a poll for entries after the newest one shown). Never a token: the server keeps none.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import type { Route } from '../router';
import type { JournalEntry } from '../types';
import { DataTable, Field, Notice, Page, Section, bytes, message, useAction } from '../ui';

const FILTERS = [
  ['operation', 'Operation', 'photo.upload'],
  ['status', 'Status', '200'],
  ['code', 'Zoho code', 'RECORD_LOCKED'],
  ['record', 'Record id', ''],
  ['user', 'User id', ''],
  ['org', 'Org id', ''],
] as const;
type FilterName = (typeof FILTERS)[number][0];

const SHOWN = 500;
const POLL_MS = 1500;

export function JournalPage({ route }: { route: Route }) {
  const [filter, setFilter] = useState<Record<FilterName, string>>(() =>
    Object.fromEntries(FILTERS.map(([k]) => [k, route.query.get(k) ?? ''])) as Record<FilterName, string>,
  );
  const [applied, setApplied] = useState(filter);
  const [entries, setEntries] = useState<JournalEntry[]>([]);
  const [capacity, setCapacity] = useState<number | undefined>(undefined);
  const [live, setLive] = useState(true);
  const [error, setError] = useState<unknown>(undefined);
  const newest = useRef(0);
  const clear = useAction();

  // A new filter starts over; then, while live, only entries after the newest one shown are asked for.
  useEffect(() => {
    let stopped = false;
    newest.current = 0;
    setEntries([]);
    const poll = async () => {
      try {
        const page = await api.journal({ ...applied, after: newest.current || undefined, limit: SHOWN });
        if (stopped) return;
        setCapacity(page.capacity);
        setError(undefined);
        if (page.entries.length) {
          newest.current = page.entries[0]!.seq;
          setEntries((old) => [...page.entries, ...old].slice(0, SHOWN));
        }
      } catch (err) {
        if (!stopped) setError(err);
      }
    };
    void poll();
    const timer = live ? setInterval(poll, POLL_MS) : undefined;
    return () => {
      stopped = true;
      if (timer) clearInterval(timer);
    };
  }, [applied, live]);

  return (
    <Page title="Request journal">
      <Section title="Filter">
        <form
          class="form-grid"
          onSubmit={(e) => {
            e.preventDefault();
            setApplied({ ...filter });
          }}
        >
          {FILTERS.map(([k, label, placeholder]) => (
            <Field key={k} label={label}>
              <input value={filter[k]} placeholder={placeholder} onInput={(e) => setFilter({ ...filter, [k]: e.currentTarget.value })} />
            </Field>
          ))}
          <div class="actions">
            <button type="submit">Apply</button>
            <label class="check">
              <input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> Live
            </label>
            <button
              type="button"
              class="danger"
              onClick={async () => {
                if (confirm('Forget every journal entry of this instance?') && (await clear.run(() => api.clearJournal(), 'Journal cleared.'))) {
                  newest.current = 0;
                  setEntries([]);
                }
              }}
            >
              Clear journal
            </button>
          </div>
        </form>
        <Notice error={clear.error} ok={clear.ok} />
      </Section>
      <Section title="Requests">
        <p class="muted" role="status">
          {entries.length} shown{capacity !== undefined ? ` · this instance keeps the newest ${capacity}` : ''}
          {capacity === 0 ? ' (the journal is off: CRM_MEDIA_JOURNAL_SIZE=0)' : ''}
        </p>
        {error ? (
          <p class="notice error" role="alert">
            {message(error)}
          </p>
        ) : null}
        <DataTable head={['Time', 'Request', 'Operation', 'Status', 'Who', 'Latency', 'In / out']} class="journal">
          {entries.map((e) => (
            <tr key={e.seq} class={e.status >= 400 ? 'failed' : undefined}>
              <td>{new Date(e.time).toLocaleTimeString()}</td>
              <td class="mono wrap">
                {e.method} {e.path}
                {e.query ? `?${e.query}` : ''}
                <br />
                <span class="muted">id {e.id}</span>
              </td>
              <td>{e.operation}</td>
              <td>
                <span class={`badge ${e.status >= 400 ? 'failed' : 'delivered'}`}>{e.status}</span>
                {e.code ? <span class="mono"> {e.code}</span> : null}
                {e.marks.length ? <span class="muted"> {e.marks.join(' ')}</span> : null}
              </td>
              <td class="mono wrap">
                {e.user_id ?? '—'}
                {e.client_id ? <span class="muted"> via {e.client_id}</span> : null}
              </td>
              <td>{e.latency_ms.toFixed(1)} ms</td>
              <td>
                {bytes(e.bytes_in)} / {bytes(e.bytes_out)}
              </td>
            </tr>
          ))}
        </DataTable>
      </Section>
    </Page>
  );
}
