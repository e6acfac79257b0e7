import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { RolloutStatus } from '../../../../shared/rollout.js';
import { apiPost } from '../api.js';
import type { FleetStore } from '../store.js';

const ACTIONS: Partial<Record<RolloutStatus['state'], ('pause' | 'resume' | 'abort')[]>> = { running: ['pause', 'abort'], paused: ['resume', 'abort'] };

/** Every rollout of this coordinator, newest first: waves with progress bars, devices that did not make it, commands. */
export function RolloutsPage({ store }: { store: FleetStore }) {
  const rollouts = [...store.rollouts.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
  return html`
    <h1 id="page-title" tabindex="-1">Rollouts</h1>
    ${rollouts.length === 0
      ? html`<p class="muted">No rollouts yet (<code>flotilla rollout start</code>).</p>`
      : rollouts.map((r) => html`<${RolloutCard} key=${r.id} rollout=${r} />`)}
  `;
}

function RolloutCard({ rollout: r }: { rollout: RolloutStatus }) {
  const [error, setError] = useState<string | undefined>();
  const act = (command: 'pause' | 'resume' | 'abort') =>
    apiPost<RolloutStatus>(`/api/v1/rollouts/${encodeURIComponent(r.id)}/${command}`).then(
      () => setError(undefined),
      (err: Error) => setError(err.message),
    );
  const trouble = r.devices.filter((d) => d.state === 'failed' || d.state === 'rolled_back' || d.state === 'skipped');
  return html`<section class="rollout" data-rollout=${r.id} aria-labelledby=${`rollout-${r.id}`}>
    <h2 id=${`rollout-${r.id}`}>${r.id} <span class=${`badge rollout-${r.state}`} data-state=${r.state}>${r.state.replace('_', ' ')}</span></h2>
    ${r.reason ? html`<p class="reason" data-reason>${r.reason}</p>` : null}
    <ul class="waves">
      ${r.waves.map(
        (w) => html`<li data-wave=${w.index}>
          <span>${w.index === 0 ? 'canary' : `wave ${w.index}`} (${w.state})</span>
          <progress max=${Math.max(1, w.devices)} value=${w.passed + w.failed} aria-label=${`${w.index === 0 ? 'canary' : `wave ${w.index}`}: ${w.passed} of ${w.devices} healthy`}></progress>
          <span>${w.passed}/${w.devices} healthy${w.failed ? `, ${w.failed} failed` : ''}</span>
        </li>`,
      )}
    </ul>
    ${trouble.length
      ? html`<table>
          <caption>Devices that did not take it</caption>
          <thead><tr><th scope="col">device</th><th scope="col">state</th><th scope="col">reason</th></tr></thead>
          <tbody>${trouble.map((d) => html`<tr><td>${d.id}</td><td>${d.state.replace('_', ' ')}</td><td>${d.reason ?? ''}</td></tr>`)}</tbody>
        </table>`
      : null}
    <div class="actions">${(r.share ? [] : (ACTIONS[r.state] ?? [])).map((a) => html`<button type="button" onClick=${() => void act(a)}>${a}</button>`)}</div>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
  </section>`;
}
