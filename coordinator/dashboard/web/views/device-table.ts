import { html } from 'htm/preact';
import { Component } from 'preact';
import { useState } from 'preact/hooks';
import type { DeviceSummary } from '../../../../shared/api.js';
import { href } from '../route.js';
import { StateBadge } from './common.js';
import { bytes, clock, duration, num } from './format.js';

/** One device row; re-renders only when its summary object changes (the store replaces it on every update). */
class Row extends Component<{ d: DeviceSummary }> {
  override shouldComponentUpdate(next: { d: DeviceSummary }): boolean {
    return next.d !== this.props.d;
  }

  override render() {
    const { d } = this.props;
    // Why a degraded device is degraded, on hover (and for tests).
    const failure = d.state === 'degraded' && d.lastFailure ? d.lastFailure : undefined;
    return html`<tr data-device=${d.id} data-state=${d.state}>
      <th scope="row"><a href=${href.device(d.id)}>${d.id}</a></th>
      <td><a href=${href.cluster(d.cluster)}>${d.cluster}</a></td>
      <td data-last-failure=${failure} title=${failure}><${StateBadge} state=${d.state} />${d.revokedSteps?.length
        ? html` <span class="badge revoked" data-revoked-steps=${d.revokedSteps.join(',')} title=${`runs steps signed by a revoked key: ${d.revokedSteps.join(', ')}`}>revoked key</span>`
        : null}</td>
      <td>${d.arch ?? '–'}</td>
      <td class="hide-narrow">${d.target ?? '–'}</td>
      <td class="hide-narrow">${d.agentVersion ?? '–'}</td>
      <td class="num">${d.children.total ? `${d.children.running}/${d.children.total}` : '–'}</td>
      <td class="num">${d.restartsTotal}</td>
      <td class="labels">${Object.entries(d.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ') || '–'}</td>
      <td class="num">${bytes(d.rssBytes)}</td>
      <td class="num hide-narrow">${num(d.load1)}</td>
      <td class="num hide-narrow">${duration(d.uptimeS)}</td>
      <td class="num" title=${d.lastSeen ? new Date(d.lastSeen).toISOString() : 'never'}>${clock(d.lastSeen)}</td>
    </tr>`;
  }
}

/** Rows per page: a page costs the same to render and diff whether the fleet has 50 devices or 50,000. */
export const PAGE_SIZE = 100;

export function DeviceTable({ devices, caption }: { devices: DeviceSummary[]; caption: string }) {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(devices.length / PAGE_SIZE));
  const current = Math.min(page, pages - 1);
  const shown = devices.slice(current * PAGE_SIZE, (current + 1) * PAGE_SIZE);
  const pager =
    pages > 1
      ? html`<nav class="pager" aria-label=${`${caption} pages`}>
          <button type="button" onClick=${() => setPage(current - 1)} disabled=${current === 0}>Previous</button>
          <span aria-live="polite">Rows ${current * PAGE_SIZE + 1}–${current * PAGE_SIZE + shown.length} of ${devices.length} (page ${current + 1} of ${pages})</span>
          <button type="button" onClick=${() => setPage(current + 1)} disabled=${current === pages - 1}>Next</button>
        </nav>`
      : null;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${caption} data-total=${devices.length}>
    <table class="devices">
      <caption>${caption}</caption>
      <thead>
        <tr>
          <th scope="col">Device</th>
          <th scope="col">Cluster</th>
          <th scope="col">State</th>
          <th scope="col">Arch</th>
          <th scope="col" class="hide-narrow">Target</th>
          <th scope="col" class="hide-narrow">Agent</th>
          <th scope="col" class="num"><abbr title="running workers / all workers">Children</abbr></th>
          <th scope="col" class="num">Restarts</th>
          <th scope="col">Labels</th>
          <th scope="col" class="num">Memory</th>
          <th scope="col" class="num hide-narrow">Load</th>
          <th scope="col" class="num hide-narrow">Uptime</th>
          <th scope="col" class="num">Last seen</th>
        </tr>
      </thead>
      <tbody>
        ${shown.map((d) => html`<${Row} key=${d.id} d=${d} />`)}
      </tbody>
    </table>
    ${devices.length === 0 ? html`<p class="empty">No devices match.</p>` : null}
    ${pager}
  </div>`;
}
