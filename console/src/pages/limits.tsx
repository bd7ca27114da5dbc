/**
 * Limits, quotas and fault rules: an org's limits and usage (the org picked in the header), the fault rules of the
 * whole server, and the movable test clock — what the admin API's limits, faults and clock routes offer.
 */
import { useState } from 'preact/hooks';
import type { Org } from '../types';
import { Page, Section } from '../ui';
import { FaultRules } from './faults';
import { OrgLimits } from './org-limits';
import { TestClock } from './test-clock';

export function LimitsPage({ org, orgs, orgId }: { org: Org | undefined; orgs: Org[]; orgId: string | undefined }) {
  // Moving the clock moves credit windows: the org's usage is read again.
  const [moves, setMoves] = useState(0);
  return (
    <Page title="Limits & faults">
      {org ? (
        <OrgLimits org={org} refreshKey={moves} />
      ) : (
        <Section title="Limits">
          <p role="alert">{orgId ? `No org ${orgId}. It may have been removed by a reset.` : 'No org yet: limits are set per org.'}</p>
        </Section>
      )}
      <FaultRules orgs={orgs} org={org} />
      <TestClock onMoved={() => setMoves((n) => n + 1)} />
    </Page>
  );
}
