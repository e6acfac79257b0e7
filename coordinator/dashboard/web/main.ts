import { render } from 'preact';
import { html } from 'htm/preact';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { FleetStore, type StoreStats } from './store.js';
import { App } from './views/app.js';

declare global {
  interface Window {
    /** Read by bench/dashboard.ts and the browser tests. */
    flotilla: { stats: StoreStats; deviceCount(): number };
  }
}

const store = new FleetStore();
window.flotilla = { stats: store.stats, deviceCount: () => store.devices.size };
render(html`<${App} store=${store} />`, document.getElementById('app')!);
