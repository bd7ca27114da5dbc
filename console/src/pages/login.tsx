/** The login form: the admin key, posted once in the request body; the session then lives in an HttpOnly cookie. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Session, api } from '../api';
import { message } from '../ui';

export function Login({ ended, onIn }: { ended: boolean; onIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    document.title = 'Log in · crm-media console';
    input.current?.focus();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await api.login(key);
      setKey('');
      onIn(session);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('That is not the admin key.');
      else setError(message(err));
      input.current?.select();
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <form method="post" action="/_console/login" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">crm-media console</h1>
        {ended ? (
          <p class="notice" role="status">
            Your session has ended. Log in again to go on.
          </p>
        ) : null}
        <label class="field">
          <span class="label">Admin key</span>
          <input
            ref={input}
            name="key"
            type="password"
            autocomplete="current-password"
            required
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            aria-describedby="key-hint"
          />
          <span class="hint" id="key-hint">
            From <code>--admin-key</code>, <code>CRM_MEDIA_ADMIN_KEY</code> or the data directory's <code>admin.key</code>.
          </span>
        </label>
        {error ? (
          <p class="notice error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
