/**
 * The movable test clock: where it stands, moved forward by a duration, put back to real time. A server started
 * without CRM_MEDIA_TEST_CLOCK=1 refuses moves, so the page says so rather than offering buttons that fail.
 */
import { useState } from 'preact/hooks';
import { api } from '../api';
import { Field, Loading, Notice, Section, fieldProblems, useAction, useLoad, when } from '../ui';

/** "1d 1h 30m", the offset as a person reads it. */
function span(ms: number): string {
  if (ms === 0) return 'none (real time)';
  const parts: string[] = [];
  let left = Math.round(ms / 1000);
  for (const [unit, s] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (left >= s) parts.push(`${Math.floor(left / s)}${unit}`);
    left %= s;
  }
  return parts.join(' ') || `${ms} ms`;
}

export function TestClock({ onMoved }: { onMoved: () => void }) {
  const clock = useLoad(() => api.clock(), []);
  const [by, setBy] = useState('1h');
  const move = useAction();
  const problem = fieldProblems(move.error)['by'];
  const moved = async (what: () => Promise<unknown>, ok: string) => {
    if (await move.run(what, ok)) {
      clock.reload();
      onMoved();
    }
  };
  const c = clock.data;
  return (
    <Section title="Test clock">
      <Loading loaded={clock} />
      {c && !c.enabled ? (
        <p role="note">
          This server keeps real time: it was started without <code>CRM_MEDIA_TEST_CLOCK=1</code>, so its clock cannot be moved. Its time now: {when(c.now)}.
        </p>
      ) : null}
      {c?.enabled ? (
        <>
          <dl class="facts">
            <dt>Server time</dt>
            <dd>{when(c.now)}</dd>
            <dt>Ahead of real time</dt>
            <dd>{span(c.offset_ms)}</dd>
          </dl>
          <p class="muted">Moves token and grant-code expiry, credit windows, fault rules' end times and webhook retries. It only moves forward; back to real time gives no credits back.</p>
          <form
            class="row wrap align-end"
            aria-label="Advance the clock"
            onSubmit={async (e) => {
              e.preventDefault();
              await moved(() => api.advanceClock({ by }), `Clock advanced by ${by}.`);
            }}
          >
            <Field label="Advance by" hint="90s, 15m, 25h, 2d or 1h30m" problem={problem}>
              <input value={by} required aria-invalid={problem ? true : undefined} onInput={(e) => setBy(e.currentTarget.value)} />
            </Field>
            <button type="submit" disabled={move.busy}>
              Advance
            </button>
            <button type="button" class="secondary" disabled={move.busy || c.offset_ms === 0} onClick={() => moved(() => api.resetClock(), 'Back to real time.')}>
              Back to real time
            </button>
          </form>
          <Notice error={move.error} ok={move.ok} />
        </>
      ) : null}
    </Section>
  );
}
