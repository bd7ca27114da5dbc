/**
 * One record: its fields, its state (one click), its photo (a thumbnail; upload by drop or picker; delete) and its
 * attachments (upload, link, download, delete). Changes to photo and attachments are made as the user chosen under
 * "Acting as", through the same rules as the Zoho API: a locked record refuses them here too.
 */
import { useEffect, useState } from 'preact/hooks';
import { RECORD_STATES } from '../../../src/domain/entities';
import { api } from '../api';
import { go, href } from '../router';
import type { Org, RecordDetail } from '../types';
import { DataTable, DropZone, Field, Loading, Notice, Page, Section, bytes, useAction, useLoad, when } from '../ui';
import { recordName } from './records';

const STATE_HELP: Record<(typeof RECORD_STATES)[number], string> = {
  normal: 'no restriction',
  zia_vision_processing: 'locked: Zia checks the photo',
  merge_in_progress: 'locked: a merge is running',
  awaiting_approval: 'waits for approval',
  photo_rejected: 'Zia rejected the photo',
};

export function RecordPage({ org, recordId }: { org: Org; recordId: string }) {
  const record = useLoad(() => api.record(org.id, recordId), [org.id, recordId]);
  const users = useLoad(() => api.users(org.id), [org.id]);
  const [as, setAs] = useState('');
  useEffect(() => {
    if (record.data && !as) setAs(record.data.owner_id);
  }, [record.data, as]);
  const r = record.data;
  return (
    <Page title={r ? `${r.module}: ${recordName(r)}` : 'Record'}>
      <Loading loaded={record} />
      {r ? (
        <>
          <div class="row wrap record-bar">
            <a href={href('orgs', org.id, 'records', { module: r.module })}>← {r.module} records</a>
            <label class="field inline-field acting-as">
              <span class="label">Acting as</span>
              <select value={as} onChange={(e) => setAs(e.currentTarget.value)} aria-describedby="acting-as-hint">
                {(users.data?.users ?? []).map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.name} ({u.email}){u.id === r.owner_id ? ' — owner' : ''}
                  </option>
                ))}
              </select>
            </label>
            <span class="hint" id="acting-as-hint">
              Photo and attachment changes are made as this user, with their profile and every scope, through the API's rules.
            </span>
          </div>
          <div class="grid-2">
            <PhotoSection org={org} r={r} as={as || r.owner_id} onChanged={record.reload} />
            <AttachmentsSection org={org} r={r} as={as || r.owner_id} onChanged={record.reload} />
          </div>
          <div class="grid-2">
            <StateSection org={org} r={r} onChanged={record.reload} />
            <Section title="Record">
              <dl class="facts">
                <dt>Id</dt>
                <dd class="mono">{r.id}</dd>
                <dt>Owner</dt>
                <dd>{users.data?.users.find((u) => u.id === r.owner_id)?.email ?? r.owner_id}</dd>
                <dt>Created</dt>
                <dd>{when(r.created_at)}</dd>
                <dt>Modified</dt>
                <dd>{when(r.modified_at)}</dd>
              </dl>
              <pre class="json" tabIndex={0}>{JSON.stringify(r.data, null, 2)}</pre>
              <DeleteRecord org={org} r={r} />
            </Section>
          </div>
        </>
      ) : null}
    </Page>
  );
}

function StateSection({ org, r, onChanged }: { org: Org; r: RecordDetail; onChanged: () => void }) {
  const action = useAction();
  return (
    <Section title="State">
      <div class="state-buttons" role="group" aria-label="Record state">
        {RECORD_STATES.map((s) => (
          <button
            key={s}
            type="button"
            class={r.state === s ? 'state current' : 'state secondary'}
            aria-pressed={r.state === s}
            disabled={action.busy}
            onClick={async () => {
              if (await action.run(() => api.setState(org.id, r.id, s), `State: ${s.replace(/_/g, ' ')}.`)) onChanged();
            }}
          >
            <span>{s.replace(/_/g, ' ')}</span>
            <small>{STATE_HELP[s]}</small>
          </button>
        ))}
      </div>
      <Notice error={action.error} ok={action.ok} />
    </Section>
  );
}

function PhotoSection({ org, r, as, onChanged }: { org: Org; r: RecordDetail; as: string; onChanged: () => void }) {
  const action = useAction();
  const [broken, setBroken] = useState(false);
  const photo = r.photo;
  useEffect(() => setBroken(false), [photo?.created_at, as]);
  return (
    <Section title="Photo">
      {photo ? (
        <figure class="photo">
          {broken ? (
            <p class="muted">The photo cannot be shown as this user (the record's state or the user's rights refuse it).</p>
          ) : (
            <img class="thumb" src={api.photoUrl(org.id, r.id, as, photo.created_at ?? '')} alt={`Photo of record ${r.id}: ${photo.file_name}`} onError={() => setBroken(true)} />
          )}
          <figcaption>
            {photo.file_name} · {photo.content_type} · {photo.width}×{photo.height} · {bytes(photo.size)}
          </figcaption>
        </figure>
      ) : (
        <p class="muted">No photo.</p>
      )}
      <DropZone
        label="Upload a photo (PNG, JPEG, GIF or BMP)"
        accept="image/png,image/jpeg,image/gif,image/bmp"
        disabled={action.busy}
        onFiles={async ([file]) => {
          if (file && (await action.run(() => api.uploadPhoto(org.id, r.id, as, file), `Photo ${file.name} uploaded.`))) onChanged();
        }}
      />
      {photo ? (
        <button
          type="button"
          class="danger"
          disabled={action.busy}
          onClick={async () => {
            if (confirm('Delete this photo?') && (await action.run(() => api.deletePhoto(org.id, r.id, as), 'Photo deleted.'))) onChanged();
          }}
        >
          Delete photo
        </button>
      ) : null}
      <Notice error={action.error} ok={action.ok} />
    </Section>
  );
}

function AttachmentsSection({ org, r, as, onChanged }: { org: Org; r: RecordDetail; as: string; onChanged: () => void }) {
  const action = useAction();
  const [link, setLink] = useState('');
  const [title, setTitle] = useState('');
  return (
    <Section title="Attachments">
      {r.attachments.length === 0 ? (
        <p class="muted">No attachments.</p>
      ) : (
        <DataTable head={['Name', 'Size', 'Added', '']}>
          {r.attachments.map((a) => (
            <tr key={a.id}>
              <td>
                {a.kind === 'link' ? (
                  <a href={a.link_url ?? '#'} rel="noreferrer noopener" target="_blank">
                    {a.title ?? a.file_name} (link)
                  </a>
                ) : (
                  <a href={api.attachmentUrl(org.id, r.id, a.id, as)} download={a.file_name}>
                    {a.file_name}
                  </a>
                )}
              </td>
              <td>{a.kind === 'link' ? '—' : bytes(a.size)}</td>
              <td>{when(a.created_at)}</td>
              <td>
                <button
                  type="button"
                  class="danger small"
                  aria-label={`Delete attachment ${a.file_name}`}
                  disabled={action.busy}
                  onClick={async () => {
                    if (confirm(`Delete ${a.file_name}?`) && (await action.run(() => api.deleteAttachment(org.id, r.id, a.id, as), `${a.file_name} deleted.`))) onChanged();
                  }}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <DropZone
        label="Upload attachments"
        multiple
        disabled={action.busy}
        onFiles={async (files) => {
          for (const file of files) {
            if (!(await action.run(() => api.uploadAttachment(org.id, r.id, as, file), `${file.name} uploaded.`))) break;
          }
          onChanged();
        }}
      />
      <form
        class="form-grid"
        aria-label="Add a link"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await action.run(() => api.addLink(org.id, r.id, as, link, title), 'Link added.')) {
            setLink('');
            setTitle('');
            onChanged();
          }
        }}
      >
        <Field label="Link URL">
          <input type="url" required value={link} onInput={(e) => setLink(e.currentTarget.value)} />
        </Field>
        <Field label="Title">
          <input value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        </Field>
        <div class="actions">
          <button type="submit" class="secondary" disabled={action.busy}>
            Add link
          </button>
        </div>
      </form>
      <Notice error={action.error} ok={action.ok} />
    </Section>
  );
}

function DeleteRecord({ org, r }: { org: Org; r: RecordDetail }) {
  const action = useAction();
  return (
    <>
      <button
        type="button"
        class="danger"
        disabled={action.busy}
        onClick={async () => {
          if (confirm(`Delete record ${r.id} with its photo and attachments?`) && (await action.run(() => api.deleteRecord(org.id, r.id)))) {
            go(href('orgs', org.id, 'records', { module: r.module }));
          }
        }}
      >
        Delete record
      </button>
      <Notice error={action.error} />
    </>
  );
}
