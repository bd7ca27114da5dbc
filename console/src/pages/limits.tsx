/**
 * LIMITS-FAULTS: the place for limits, quotas and fault rules. They come with the limits issue's admin API (in
 * progress elsewhere); this page is to show and edit them once that API has landed.
 */
import { Page, Section } from '../ui';

export function LimitsPage() {
  return (
    <Page title="Limits & faults">
      <Section title="Not in this build yet">
        <p>
          Rate limits, API credit quotas and fault rules (delays, errors, dropped connections) will be shown and edited here once the server's admin
          API for them is available. Until then they are not configurable from the console.
        </p>
      </Section>
    </Page>
  );
}
