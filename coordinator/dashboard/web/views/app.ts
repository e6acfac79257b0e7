import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { ClusterSummary } from '../../../../shared/api.js';
import { ApiError, apiGet, tokenStore } from '../api.js';
import { connectLive } from '../live.js';
import { href, parseRoute, type Route } from '../route.js';
import type { FleetStore } from '../store.js';
import { ClusterPage } from './cluster-page.js';
import { useStore } from './common.js';
import { DevicePage } from './device-page.js';
import { Login } from './login.js';
import { Overview } from './overview.js';
import { RolloutsPage } from './rollouts-page.js';

type Access = { kind: 'checking' } | { kind: 'login'; message?: string } | { kind: 'ok'; token: string | undefined } | { kind: 'error'; message: string };

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return route;
}

export function App({ store }: { store: FleetStore }) {
  const [access, setAccess] = useState<Access>({ kind: 'checking' });
  const check = () => {
    const token = tokenStore.get();
    apiGet<ClusterSummary>('/api/v1/cluster', token).then(
      () => setAccess({ kind: 'ok', token }),
      (err) => {
        if (err instanceof ApiError && err.status === 401) {
          tokenStore.clear();
          setAccess({ kind: 'login', message: token ? 'The saved API token was rejected (401); enter the current one.' : undefined });
        } else setAccess({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
      },
    );
  };
  useEffect(check, []);

  useEffect(() => {
    if (access.kind !== 'ok') return;
    const live = connectLive(store, access.token, (message) => {
      tokenStore.clear();
      setAccess({ kind: 'login', message: `The coordinator no longer accepts this token (401: ${message}).` });
    });
    return live.close;
  }, [access]);

  if (access.kind === 'checking') return html`<main id="main"><p class="muted">Connecting…</p></main>`;
  if (access.kind === 'error')
    return html`<main id="main"><p class="error" role="alert">Cannot reach the coordinator: ${access.message}</p><button type="button" onClick=${check}>Try again</button></main>`;
  if (access.kind === 'login')
    return html`<${Login}
      message=${access.message}
      accepted=${(token: string) => {
        tokenStore.set(token);
        setAccess({ kind: 'ok', token });
      }}
    />`;
  return html`<${Shell} store=${store} signOut=${
    access.token
      ? () => {
          tokenStore.clear();
          setAccess({ kind: 'login' });
        }
      : undefined
  } />`;
}

function Shell({ store, signOut }: { store: FleetStore; signOut?: () => void }) {
  useStore(store);
  const route = useRoute();
  // Move focus to the new page's heading, so keyboard and screen-reader users land on it.
  useEffect(() => document.getElementById('page-title')?.focus({ preventScroll: true }), [route.view, route.view === 'device' ? route.id : route.view === 'cluster' ? route.path : '']);
  return html`
    <a class="skip" href="#main" onClick=${(e: Event) => (e.preventDefault(), document.getElementById('main')?.focus())}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/">Flotilla</a>
      <a href=${href.rollouts()} aria-current=${route.view === 'rollouts' ? 'page' : undefined}>Rollouts</a>
      <span class="muted">${store.cluster ? `cluster ${store.cluster.cluster} · coordinator ${store.cluster.coordinatorVersion}` : ''}</span>
      <span class=${`live live-${store.connection}`} role="status" data-connection=${store.connection}>
        ${store.connection === 'live' ? 'live' : store.connection === 'lost' ? 'disconnected' : 'connecting'}
      </span>
      ${signOut ? html`<button type="button" class="link" onClick=${signOut}>Sign out</button>` : null}
    </header>
    ${store.connection === 'lost'
      ? html`<div class="banner" role="alert" id="connection-banner">Connection to the coordinator lost — reconnecting… The figures below may be out of date.</div>`
      : null}
    <main id="main" tabindex="-1">
      ${!store.loaded
        ? html`<p class="muted">Loading the fleet…</p>`
        : route.view === 'device'
          ? html`<${DevicePage} key=${route.id} store=${store} id=${route.id} />`
          : route.view === 'cluster'
            ? html`<${ClusterPage} store=${store} path=${route.path} />`
            : route.view === 'rollouts'
              ? html`<${RolloutsPage} store=${store} />`
            : html`<${Overview} key=${JSON.stringify(route.filter)} store=${store} initial=${route.filter} />`}
    </main>`;
}
