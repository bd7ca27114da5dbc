/** Small shared pieces: loading data, reporting outcomes, forms, tables, the value shown once, drop zones. */
import type { ComponentChildren, TargetedDragEvent } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import type { Org, User } from './types';

/** What a user option shows. */
type UserLabel = Pick<User, 'id' | 'name' | 'email'>;

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on `reload`), keeping the last data while a reload runs. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load().then(
      (d) => {
        if (!live) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { data, error, loading, reload: useCallback(() => setTick((t) => t + 1), []) };
}

export function message(err: unknown): string {
  if (err instanceof ApiError) {
    const body = err.body;
    if (!body) return `The server answered HTTP ${err.status}.`;
    const details = Object.keys(body.details).length ? ` (${describe(body.details)})` : '';
    return `${body.code}: ${body.message}${details}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * What a refusal says about single fields, by field name: the admin API names them as `{"field", "reason"}` (the
 * domain's checks) or `{"problems": [{"field", "message"}]}` (the schema's), so a form can put each next to its input.
 */
export function fieldProblems(err: unknown): Record<string, string> {
  if (!(err instanceof ApiError) || !err.body) return {};
  const d = err.body.details;
  const out: Record<string, string> = {};
  if (typeof d['field'] === 'string') out[d['field']] = typeof d['reason'] === 'string' ? d['reason'] : err.body.message;
  if (Array.isArray(d['problems'])) {
    for (const p of d['problems'] as { field?: unknown; message?: unknown }[]) {
      if (typeof p.field === 'string' && typeof p.message === 'string') out[p.field] = p.message;
    }
  }
  return out;
}

function describe(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

/** An outcome the user should see: errors are announced at once (role=alert), successes politely. */
export function Notice({ error, ok }: { error?: unknown; ok?: string | undefined }) {
  if (error) {
    return (
      <p class="notice error" role="alert">
        {message(error)}
      </p>
    );
  }
  if (ok) {
    return (
      <p class="notice ok" role="status">
        {ok}
      </p>
    );
  }
  return null;
}

/** Runs an action, remembering its error or success text for a Notice. */
export function useAction(): {
  busy: boolean;
  error: unknown;
  ok: string | undefined;
  run: (what: () => Promise<unknown>, okText?: string) => Promise<boolean>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [ok, setOk] = useState<string | undefined>(undefined);
  const run = async (what: () => Promise<unknown>, okText?: string) => {
    setBusy(true);
    setError(undefined);
    setOk(undefined);
    try {
      await what();
      setOk(okText);
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, ok, run, clear: () => (setError(undefined), setOk(undefined)) };
}

export function Page({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · crm-media console`;
  }, [title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">{title}</h1>
        {actions ? <div class="page-actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  const headingId = `${id ?? title.toLowerCase().replace(/\W+/g, '-')}-heading`;
  return (
    <section class="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}

/** A labelled input; `problem` is the server's word on this field, shown under it (the input says aria-invalid). */
export function Field({ label, children, hint, problem }: { label: string; children: ComponentChildren; hint?: string | undefined; problem?: string | undefined }) {
  return (
    <label class="field">
      <span class="label">{label}</span>
      {children}
      {hint ? <span class="hint">{hint}</span> : null}
      {problem ? <span class="field-problem">{problem}</span> : null}
    </label>
  );
}

export function Loading({ loaded }: { loaded: Loaded<unknown> }) {
  if (loaded.error) return <Notice error={loaded.error} />;
  if (loaded.loading && loaded.data === undefined) return <p class="muted">Loading…</p>;
  return null;
}

/** A secret shown once (a token, a client secret, a grant code): selectable, copyable, then gone. */
export function ShownOnce({ label, value, onDone }: { label: string; value: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div class="shown-once" role="region" aria-label={label}>
      <p>
        <strong>{label}</strong> — shown once; only its hash is kept.
      </p>
      <output class="secret" data-testid="shown-once">
        {value}
      </output>
      <div class="row">
        <button type="button" onClick={copy}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" class="secondary" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

/** Files by drag and drop or the file picker (the picker is a real input: keyboard users get it with Tab and Enter). */
export function DropZone({ label, accept, multiple, onFiles, disabled }: { label: string; accept?: string; multiple?: boolean; onFiles: (files: File[]) => void; disabled?: boolean }) {
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const take = (list: FileList | null | undefined) => {
    const files = list ? Array.from(list) : [];
    if (files.length) onFiles(multiple ? files : files.slice(0, 1));
  };
  const onDrop = (e: TargetedDragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setOver(false);
    if (!disabled) take(e.dataTransfer?.files);
  };
  return (
    <div
      class={`dropzone${over ? ' over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <label>
        <span>{label}</span>
        <span class="muted"> — drop files here, or choose: </span>
        <input
          ref={input}
          type="file"
          accept={accept}
          multiple={multiple}
          disabled={disabled}
          onChange={(e) => {
            take(e.currentTarget.files);
            e.currentTarget.value = '';
          }}
        />
      </label>
    </div>
  );
}

/**
 * A table that scrolls sideways on a narrow window (and can be scrolled by keyboard); an empty heading is an actions
 * column, named for screen readers.
 */
export function DataTable({ head, children, caption, class: className }: { head: string[]; children: ComponentChildren; caption?: string; class?: string }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={caption ?? 'Scrollable table'}>
      <table class={className}>
        {caption ? <caption class="sr-only">{caption}</caption> : null}
        <thead>
          <tr>
            {head.map((h, i) => (
              <th key={i} scope="col">
                {h || <span class="sr-only">Actions</span>}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** A select's options whose value is their text. */
export function Options({ values }: { values: readonly string[] }) {
  return (
    <>
      {values.map((v) => (
        <option key={v} value={v}>
          {v}
        </option>
      ))}
    </>
  );
}

/** A select's options for users: each by name and email, its value the user's id. */
export function UserOptions({ users }: { users: readonly UserLabel[] }) {
  return (
    <>
      {users.map((u) => (
        <option key={u.id} value={u.id}>
          {u.name} ({u.email})
        </option>
      ))}
    </>
  );
}

/** A select's options for orgs: each by name, its value the org's id. */
export function OrgOptions({ orgs }: { orgs: readonly Pick<Org, 'id' | 'name'>[] }) {
  return (
    <>
      {orgs.map((o) => (
        <option key={o.id} value={o.id}>
          {o.name}
        </option>
      ))}
    </>
  );
}

export const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}
