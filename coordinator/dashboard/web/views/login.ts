import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { ClusterSummary } from '../../../../shared/api.js';
import { ApiError, apiGet } from '../api.js';

/** Asks for the coordinator's API token and checks it against the API before keeping it. */
export function Login({ message, accepted }: { message: string | undefined; accepted(token: string): void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(message);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await apiGet<ClusterSummary>('/api/v1/cluster', token.trim());
      accepted(token.trim());
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? `Wrong API token: the coordinator answered 401 (${err.message}).`
          : `Could not check the token: ${err instanceof Error ? err.message : String(err)}`,
      );
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="login">
    <h1>Flotilla</h1>
    <form onSubmit=${submit} aria-describedby="login-help">
      <p id="login-help">This coordinator requires an API token (its <code>--api-token</code>; <code>flotilla demo</code> prints it).</p>
      ${error ? html`<p class="error" role="alert" id="login-error">${error}</p>` : null}
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required value=${token} onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} autofocus />
      <button type="submit" disabled=${busy}>${busy ? 'Checking…' : 'Sign in'}</button>
    </form>
  </main>`;
}
