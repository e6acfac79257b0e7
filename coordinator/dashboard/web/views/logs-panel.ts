import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { matchesLogQuery } from '../../../../shared/log-match.js';
import type { DeviceLogs, ForwardedLevel, LogLine } from '../../../../shared/logs.js';
import type { StreamLogs } from '../../../../shared/stream.js';
import { ApiError, apiGet, tokenStore } from '../api.js';

/** Lines the panel keeps (the coordinator keeps 500 per device). */
const KEPT = 500;

/** Both lists' lines once each, oldest first, the newest KEPT. */
function merge(a: LogLine[], b: LogLine[]): LogLine[] {
  const seen = new Map<string, LogLine>();
  for (const line of [...a, ...b]) seen.set(JSON.stringify(line), line);
  return [...seen.values()].sort((x, y) => x.ts - y.ts).slice(-KEPT);
}

/**
 * A device's warn and error lines (its steps' and its agent's): fetched from `GET /api/v1/devices/:id/logs`, then
 * live from the stream (`?logs=ID`, its own connection, refetching after every reconnect), filtered here by step and
 * level with the same rule as the API. Devices below push no lines up; their panel shows what a fetch returns.
 */
export function LogsPanel({ id, steps }: { id: string; steps: string[] }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [dropped, setDropped] = useState({ coordinator: 0, agent: 0 });
  const [step, setStep] = useState('');
  const [level, setLevel] = useState<ForwardedLevel>('warn');
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let closed = false;
    const load = () =>
      apiGet<DeviceLogs>(`/api/v1/devices/${encodeURIComponent(id)}/logs`).then(
        (body) => {
          if (closed) return;
          setLines((current) => merge(current, body.lines));
          setDropped({ coordinator: body.droppedAtCoordinator, agent: body.droppedAtAgent });
          setError(null);
        },
        (err) => !closed && setError(err instanceof ApiError ? err.message : String(err)),
      );
    const token = tokenStore.get();
    const source = new EventSource(`/api/v1/stream?logs=${encodeURIComponent(id)}${token ? `&token=${encodeURIComponent(token)}` : ''}`);
    source.addEventListener('hello', () => {
      setLive(true);
      void load();
    });
    source.addEventListener('logs', (e) => {
      const body = JSON.parse((e as MessageEvent<string>).data) as StreamLogs;
      if (body.id === id) setLines((current) => merge(current, body.lines));
    });
    source.onerror = () => setLive(false);
    return () => {
      closed = true;
      source.close();
    };
  }, [id, reload]);

  const choices = [...new Set([...steps, ...lines.flatMap((l) => (l.step ? [l.step] : []))])].sort();
  const shown = lines.filter((l) => matchesLogQuery(l, { step: step || undefined, level })).reverse();
  return html`<section aria-labelledby="logs-title" data-logs data-live=${live}>
    <h2 id="logs-title">Logs</h2>
    <div class="filters">
      <label>Step <select name="step" value=${step} onChange=${(e: Event) => setStep((e.target as HTMLSelectElement).value)}>
        <option value="">all steps and the agent</option>
        ${choices.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
      </select></label>
      <label>Level <select name="level" value=${level} onChange=${(e: Event) => setLevel((e.target as HTMLSelectElement).value as ForwardedLevel)}>
        <option value="warn">warn and error</option>
        <option value="error">error only</option>
      </select></label>
      <button type="button" onClick=${() => setReload((n) => n + 1)}>Refresh</button>
      <span class="muted" aria-live="polite">${live ? 'live' : 'connecting…'}${dropped.coordinator + dropped.agent ? ` · ${dropped.agent} dropped at the agent, ${dropped.coordinator} at the coordinator (rate limits)` : ''}</span>
    </div>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    ${shown.length === 0
      ? html`<p class="muted" data-logs-empty>No warnings or errors${step ? ` from ${step}` : ''}.</p>`
      : html`<div class="table-wrap"><table class="logs">
          <thead><tr><th scope="col">Time</th><th scope="col">Level</th><th scope="col">Step</th><th scope="col">Message</th></tr></thead>
          <tbody>
            ${shown.map((l) => html`<tr key=${`${l.ts}:${l.step}:${l.message}`} data-log-level=${l.level} data-log-step=${l.step ?? 'agent'}>
              <td>${new Date(l.ts).toLocaleTimeString()}</td>
              <td><span class=${`badge log-${l.level}`}>${l.level}</span></td>
              <td>${l.step ?? html`<span class="muted">agent</span>`}</td>
              <td><code>${l.message}</code></td>
            </tr>`)}
          </tbody>
        </table></div>`}
  </section>`;
}
