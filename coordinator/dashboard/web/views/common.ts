import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { DeviceCounts, HealthState } from '../../../../shared/api.js';
import { href } from '../route.js';
import type { FleetStore } from '../store.js';

/** Re-render the calling component whenever the store changes (at most once per frame). */
export function useStore(store: FleetStore): void {
  const [, bump] = useState(0);
  useEffect(() => store.subscribe(() => bump((n) => n + 1)), [store]);
}

/** The current time, ticking every `ms`: only for "… ago" labels, never to fetch anything. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

const STATE_TEXT: Record<HealthState, string> = { ok: 'ok', degraded: 'degraded', offline: 'offline', unknown: 'unknown' };

/** Colour plus a word: the state never relies on colour alone. */
export function StateBadge({ state }: { state: HealthState }) {
  return html`<span class=${`badge state-${state}`}>${STATE_TEXT[state]}</span>`;
}

/** Online / offline / degraded / unknown totals; each links to the overview filtered by it. */
export function CountCards({ counts, cluster }: { counts: DeviceCounts; cluster?: string }) {
  const card = (label: string, value: number, cls: string, state?: HealthState) =>
    html`<li class=${`card ${cls}`}>
      <a href=${href.overview({ cluster, ...(state ? { state } : {}) })}>
        <span class="card-value" data-count=${cls}>${value}</span>
        <span class="card-label">${label}</span>
      </a>
    </li>`;
  return html`<ul class="cards" aria-label="Device counts">
    ${card('devices', counts.total, 'total')} ${card('online', counts.online, 'online')}
    ${card('offline', counts.offline, 'offline', 'offline')} ${card('degraded', counts.degraded, 'degraded', 'degraded')}
    ${counts.unknown ? card('never seen', counts.unknown, 'unknown', 'unknown') : null}
  </ul>`;
}
