import { html } from 'htm/preact';
import { Component } from 'preact';
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
    return html`<tr data-device=${d.id} data-state=${d.state}>
      <th scope="row"><a href=${href.device(d.id)}>${d.id}</a></th>
      <td><a href=${href.cluster(d.cluster)}>${d.cluster}</a></td>
      <td><${StateBadge} state=${d.state} /></td>
      <td>${d.arch ?? '–'}</td>
      <td class="hide-narrow">${d.target ?? '–'}</td>
      <td class="hide-narrow">${d.agentVersion ?? '–'}</td>
      <td class="num">${d.children.total ? `${d.children.running}/${d.children.total}` : '–'}</td>
      <td class="num">${d.restartsTotal}</td>
      <td class="num">${bytes(d.rssBytes)}</td>
      <td class="num hide-narrow">${num(d.load1)}</td>
      <td class="num hide-narrow">${duration(d.uptimeS)}</td>
      <td class="num" title=${d.lastSeen ? new Date(d.lastSeen).toISOString() : 'never'}>${clock(d.lastSeen)}</td>
    </tr>`;
  }
}

export function DeviceTable({ devices, caption }: { devices: DeviceSummary[]; caption: string }) {
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${caption}>
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
          <th scope="col" class="num">Memory</th>
          <th scope="col" class="num hide-narrow">Load</th>
          <th scope="col" class="num hide-narrow">Uptime</th>
          <th scope="col" class="num">Last seen</th>
        </tr>
      </thead>
      <tbody>
        ${devices.map((d) => html`<${Row} key=${d.id} d=${d} />`)}
      </tbody>
    </table>
    ${devices.length === 0 ? html`<p class="empty">No devices match.</p>` : null}
  </div>`;
}
