/** The whole state: exported as a seed document (a file), imported from one, or reset to nothing. */
import { useState } from 'preact/hooks';
import { api } from '../api';
import type { SeedReport } from '../types';
import { DropZone, Notice, Page, Section, useAction } from '../ui';

export function StatePage({ onChanged }: { onChanged: () => void }) {
  const importing = useAction();
  const resetting = useAction();
  const [report, setReport] = useState<SeedReport | undefined>(undefined);
  return (
    <Page title="Export, import, reset">
      <Section title="Export">
        <p>The current state as a seed document: orgs, profiles, users, modules, records with their photos and attachments, tokens, OAuth clients, workflow rules, limits and fault rules. Importing it into an empty server restores the same state. Tokens and secrets are written as the hashes the server keeps.</p>
        <p class="row wrap">
          <a class="button" href={api.exportUrl(true)} download>
            Download seed document
          </a>
          <a class="button secondary" href={api.exportUrl(false)} download>
            Without photos and files
          </a>
        </p>
      </Section>
      <Section title="Import">
        <p>Applies a seed document in one transaction: everything in it, or nothing. What already exists is left alone.</p>
        <DropZone
          label="Import a seed document (JSON)"
          accept="application/json,.json"
          disabled={importing.busy}
          onFiles={async ([file]) => {
            if (!file) return;
            setReport(undefined);
            await importing.run(async () => {
              let doc: unknown;
              try {
                doc = JSON.parse(await file.text());
              } catch {
                throw new Error(`${file.name} is not JSON.`);
              }
              setReport(await api.importSeed(doc));
              onChanged();
            }, `${file.name} imported.`);
          }}
        />
        <Notice error={importing.error} ok={importing.ok && report ? `${importing.ok} ${report.created} created in ${report.orgs.length} org(s).` : undefined} />
        {report && (report.tokens.length > 0 || report.client_secrets.length > 0) ? (
          <div class="shown-once">
            <p>
              <strong>Minted by this import</strong> — shown once.
            </p>
            <ul>
              {report.tokens.map((t) => (
                <li key={t.value}>
                  token for {t.user}: <output class="secret">{t.value}</output>
                </li>
              ))}
              {report.client_secrets.map((c) => (
                <li key={c.client_id}>
                  secret of {c.client_id}: <output class="secret">{c.secret}</output>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </Section>
      <Section title="Reset">
        <p>Deletes every org, user, token, record, photo and attachment. The server starts over empty (a restart makes the default org again).</p>
        <button
          type="button"
          class="danger"
          disabled={resetting.busy}
          onClick={async () => {
            if (confirm('Reset: delete everything? Export first if you want it back.') && (await resetting.run(() => api.reset(), 'Everything was deleted.'))) onChanged();
          }}
        >
          Reset everything
        </button>
        <Notice error={resetting.error} ok={resetting.ok} />
      </Section>
    </Page>
  );
}
