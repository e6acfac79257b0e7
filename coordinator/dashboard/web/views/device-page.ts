import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { DeviceDetail, DeviceSummary } from '../../../../shared/api.js';
import type { EventMessage, HealthMessage } from '../../../../shared/messages.js';
import type { DeviceHistory } from '../../../../shared/stream.js';
import { ApiError, apiGet } from '../api.js';
import { href } from '../route.js';
import type { FleetStore } from '../store.js';
import { Chart } from './chart.js';
import { StateBadge, useNow, useStore } from './common.js';
import { LogsPanel } from './logs-panel.js';
import { ago, bytes, dateTime, duration, num } from './format.js';

/** Events shown on the page, newest first (the coordinator keeps the last 100 per device). */
const EVENTS_SHOWN = 50;
const SUPERVISOR_EVENTS = new Set(['child_started', 'child_terminated', 'reached_max_restart_intensity', 'supervisor_shutdown']);

/** Append the sample of a newer health report to the history (the page's copy; the server keeps its own). */
function appendSample(h: DeviceHistory, health: HealthMessage): DeviceHistory {
  if (h.ts.length && health.ts <= h.ts[h.ts.length - 1]) return h;
  const cap = h.capacity || Math.ceil(3600 / health.intervalS);
  const push = (col: number[], v: number) => [...col, v].slice(-cap);
  return {
    ...h,
    ts: push(h.ts, health.ts),
    rssBytes: push(h.rssBytes, health.memory.rss),
    heapUsedBytes: push(h.heapUsedBytes, health.memory.heapUsed),
    load1: push(h.load1, health.load[0]),
    stepsInPerS: push(h.stepsInPerS, health.rates.in),
    stepsOutPerS: push(h.stepsOutPerS, health.rates.out),
  };
}

function mergeEvents(a: EventMessage[], b: EventMessage[]): EventMessage[] {
  const seen = new Map<string, EventMessage>();
  for (const e of [...a, ...b]) seen.set(`${e.seq}:${e.ts}`, e);
  return [...seen.values()].sort((x, y) => y.ts - x.ts || y.seq - x.seq).slice(0, 100);
}

/**
 * One device: loaded once from `GET /api/v1/devices/:id` and `/history`, then refreshed when the stream says this
 * device changed (pushed, never polled).
 */
export function DevicePage({ store, id }: { store: FleetStore; id: string }) {
  useStore(store);
  const now = useNow() + store.clockSkewMs;
  const summary: DeviceSummary | undefined = store.devices.get(id);
  const [detail, setDetail] = useState<DeviceDetail | null>(null);
  const [hist, setHist] = useState<DeviceHistory | null>(null);
  const [events, setEvents] = useState<EventMessage[]>([]);
  const [error, setError] = useState<string | null>(null);
  const loading = useRef<{ busy: boolean; again: boolean }>({ busy: false, again: false });

  const refresh = async () => {
    const l = loading.current;
    if (l.busy) return void (l.again = true);
    l.busy = true;
    try {
      do {
        l.again = false;
        const d = await apiGet<DeviceDetail>(`/api/v1/devices/${encodeURIComponent(id)}`);
        setDetail(d);
        setEvents((ev) => mergeEvents(ev, d.events));
        if (d.health) setHist((h) => (h ? appendSample(h, d.health!) : h));
        setError(null);
      } while (l.again);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      l.busy = false;
    }
  };

  useEffect(() => {
    setDetail(null);
    setHist(null);
    setEvents([]);
    apiGet<DeviceHistory>(`/api/v1/devices/${encodeURIComponent(id)}/history`).then(setHist, (err) => setError(err instanceof ApiError ? err.message : String(err)));
    void refresh();
    return store.onEvent((devId, e) => devId === id && setEvents((ev) => mergeEvents(ev, [e])));
  }, [id]);

  // The store replaces a device's summary on every pushed update: that is the signal to refresh the details.
  const seen = useRef(summary);
  useEffect(() => {
    if (summary !== seen.current) {
      seen.current = summary;
      void refresh();
    }
  }, [summary]);

  const d = detail;
  const h = d?.health;
  const state = summary?.state ?? d?.state ?? 'unknown';
  const failure = summary?.lastFailure ?? d?.lastFailure;
  return html`<section aria-labelledby="page-title" class="device-page">
    <nav aria-label="Breadcrumb" class="crumbs"><a href="#/">Overview</a> › ${d ? html`<a href=${href.cluster(d.cluster)}>${d.cluster}</a> › ` : null}<span aria-current="page">${id}</span></nav>
    <h1 id="page-title" tabindex="-1">${id} <${StateBadge} state=${state} /></h1>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    ${state === 'degraded' && failure ? html`<p class="failure" data-last-failure><strong>Last failure:</strong> <code>${failure}</code></p>` : null}
    ${!d && !error ? html`<p class="muted">Loading…</p>` : null}
    ${d
      ? html`
          <dl class="facts">
            <div><dt>Cluster</dt><dd><a href=${href.cluster(d.cluster)}>${d.cluster}</a></dd></div>
            <div><dt>State</dt><dd>${state}${summary?.online ?? d.online ? ' (connected)' : ''}</dd></div>
            <div><dt>Target</dt><dd>${d.target ?? '–'}</dd></div>
            <div><dt>Arch / platform</dt><dd>${d.arch ?? '–'} / ${d.platform ?? '–'}</dd></div>
            <div><dt>Agent version</dt><dd>${d.agentVersion ?? '–'}${h ? ` (Node ${h.nodeVersion})` : ''}</dd></div>
            <div><dt>Uptime</dt><dd>${duration(summary?.uptimeS ?? d.uptimeS)}</dd></div>
            <div><dt>Last seen</dt><dd title=${dateTime(summary?.lastSeen ?? d.lastSeen)} data-last-seen>${ago(summary?.lastSeen ?? d.lastSeen, now)}</dd></div>
            <div><dt>Memory (RSS)</dt><dd>${bytes(summary?.rssBytes ?? d.rssBytes)}</dd></div>
            <div><dt>Load (1 min)</dt><dd>${num(summary?.load1 ?? d.load1)}</dd></div>
            <div><dt>Disk free</dt><dd>${bytes(h?.diskFreeBytes)}</dd></div>
            <div><dt>Restarts (total)</dt><dd>${d.restartsTotal}</dd></div>
            <div><dt>Invalid messages</dt><dd>${d.invalidMessages}</dd></div>
          </dl>
        `
      : null}
    <h2>Last hour</h2>
    ${hist
      ? html`<div class="charts">
          <${Chart} title="Memory" series=${[{ label: 'RSS', stroke: '#2563eb' }, { label: 'heap used', stroke: '#d97706' }]} x=${hist.ts} ys=${[hist.rssBytes, hist.heapUsedBytes]} format=${bytes} />
          <${Chart} title="Load average (1 min)" series=${[{ label: 'load', stroke: '#7c3aed' }]} x=${hist.ts} ys=${[hist.load1]} format=${(v: number) => v.toFixed(2)} />
          <${Chart} title="Step messages per second" series=${[{ label: 'in', stroke: '#059669' }, { label: 'out', stroke: '#dc2626' }]} x=${hist.ts} ys=${[hist.stepsInPerS, hist.stepsOutPerS]} format=${(v: number) => v.toFixed(1)} />
        </div>`
      : html`<p class="muted">Loading history…</p>`}
    ${d ? html`<${Tree} tree=${d.tree} /> <${LogsPanel} id=${id} steps=${d.tree.filter((c) => c.kind === 'worker').map((c) => c.path)} /> <${Events} events=${events} /> <${Steps} steps=${d.steps} />` : null}
  </section>`;
}

function Tree({ tree }: { tree: DeviceDetail['tree'] }) {
  return html`<h2>Supervision tree</h2>
    ${tree.length === 0
      ? html`<p class="muted">No supervision tree reported.</p>`
      : html`<div class="table-wrap"><table class="tree-table">
          <thead><tr><th scope="col">Child</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col" class="num">Restarts</th><th scope="col">Step</th><th scope="col" class="num">In</th><th scope="col" class="num">Out</th><th scope="col" class="num">Dropped</th></tr></thead>
          <tbody>
            ${tree.map((c) => {
              const depth = c.path.split('/').length - 1;
              return html`<tr key=${c.path} data-child=${c.path} data-state=${c.state}>
                <th scope="row" style=${`padding-left:${0.5 + depth * 1.25}rem`}><span class="muted">${c.path.split('/').slice(0, -1).join('/')}${depth ? '/' : ''}</span>${c.path.split('/').pop()}</th>
                <td>${c.kind}</td>
                <td><span class=${`badge child-${c.state}`}>${c.state}</span></td>
                <td class="num" data-restarts>${c.restarts}</td>
                <td>${c.step ?? '–'}</td>
                <td class="num">${c.messagesIn ?? '–'}</td><td class="num">${c.messagesOut ?? '–'}</td><td class="num">${c.dropped ?? '–'}</td>
              </tr>`;
            })}
          </tbody>
        </table></div>`}`;
}

function Events({ events }: { events: EventMessage[] }) {
  const shown = events.slice(0, EVENTS_SHOWN);
  return html`<h2>Recent events</h2>
    ${shown.length === 0
      ? html`<p class="muted">No events yet.</p>`
      : html`<div class="table-wrap"><table class="events">
          <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Supervisor</th><th scope="col">Child</th><th scope="col">Details</th></tr></thead>
          <tbody>
            ${shown.map((e) => {
              const { supervisor, child, ...rest } = e.data as Record<string, unknown>;
              return html`<tr key=${`${e.seq}:${e.ts}`} data-event=${e.type} class=${SUPERVISOR_EVENTS.has(e.type) ? `ev-${e.type}` : ''}>
                <td>${new Date(e.ts).toLocaleTimeString()}</td>
                <th scope="row">${e.type.replaceAll('_', ' ')}</th>
                <td>${supervisor == null ? '–' : String(supervisor)}</td>
                <td>${child == null ? '–' : String(child)}</td>
                <td><code>${Object.keys(rest).length ? Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : ''}</code></td>
              </tr>`;
            })}
          </tbody>
        </table></div>`}`;
}

function Steps({ steps }: { steps: DeviceDetail['steps'] }) {
  return html`<h2>Installed steps</h2>
    ${steps.length === 0
      ? html`<p class="muted">No steps installed.</p>`
      : html`<div class="table-wrap"><table class="steps">
          <thead><tr><th scope="col">Step</th><th scope="col">sha256</th><th scope="col" class="num">Size</th></tr></thead>
          <tbody>${steps.map((s) => html`<tr key=${s.ref} data-installed-step=${s.ref}><th scope="row">${s.ref}</th><td><code class="hash">${s.sha256}</code></td><td class="num">${bytes(s.size)}</td></tr>`)}</tbody>
        </table></div>`}`;
}
