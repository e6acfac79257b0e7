import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { startCoordinator } from '../helpers/cluster.js';
import { wat } from '../runtime/harness.js';
import { launchChromium, screenshot } from './browser.js';

// The rollouts page in Debian's chromium against a real coordinator: a rollout waiting for its window is listed
// with its waves, paused from the page, and the page follows over the live stream.
const TOKEN = 'rollouts-page-token';
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
let api: ApiClient;
let browser: Browser;

beforeAll(async () => {
  cluster = await startCoordinator({ apiToken: TOKEN, cluster: 'lab' });
  api = new ApiClient(cluster.api, TOKEN);
  await api.pushStep({ name: 'tag', version: '1', module: Buffer.from(wat('tag')).toString('base64') });
  for (const id of ['p-1', 'p-2']) await api.enroll(id, { site: 'lab' });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

async function signedIn(hash: string): Promise<Page> {
  const page = await browser.newPage();
  await page.addInitScript((t) => (globalThis as unknown as { sessionStorage: { setItem(k: string, v: string): void } }).sessionStorage.setItem('flotilla.apiToken', t), TOKEN);
  await page.goto(`${cluster.api}/${hash}`);
  return page;
}

describe('dashboard: labels', () => {
  it('shows each device\'s labels and filters the overview by a selector, naming a bad one', async () => {
    const page = await signedIn(`#/?select=${encodeURIComponent('site=lab')}`);
    try {
      await expect.poll(() => page.locator('#shown-count').textContent(), { timeout: 10_000 }).toBe('2 of 2 devices match');
      expect(await page.getByRole('cell', { name: 'site=lab' }).count()).toBe(2);
      await page.getByLabel('Labels').fill('site=mars');
      await expect.poll(() => page.locator('#shown-count').textContent()).toBe('0 of 2 devices match');
      await page.getByLabel('Labels').fill('site in mars');
      await expect.poll(() => page.locator('#select-error').textContent()).toMatch(/column 9: expected "\(" after "in"/);
    } finally {
      await page.close();
    }
  }, 30_000);
});

describe('dashboard: rollouts page', () => {
  it('lists a rollout with its waves and reason; pause and resume from the page, live', async () => {
    const spec = { id: 'root', children: [{ id: 't', step: 'tag@1', input: 'x/y' }] };
    const { id } = await api.startRollout({ selector: 'site=lab', change: { spec }, waves: '100%', windows: ['0 0 0 1 1 * 1h'] });
    const page = await signedIn('#/rollouts');
    try {
      const card = page.locator(`[data-rollout="${id}"]`);
      await expect.poll(() => card.locator('[data-state]').textContent(), { timeout: 10_000 }).toBe('running');
      expect(await card.locator('[data-reason]').textContent()).toMatch(/^canary waits for a window, opening at /);
      expect(await card.locator('[data-wave]').count()).toBe(2);
      expect(await card.getByRole('progressbar', { name: 'canary: 0 of 1 healthy' }).count()).toBe(1);
      await card.getByRole('button', { name: 'pause' }).click();
      await expect.poll(() => card.locator('[data-state]').textContent(), { timeout: 10_000 }).toBe('paused');
      expect(await card.locator('[data-reason]').textContent()).toBe('paused by the operator');
      // A change made elsewhere (the CLI, the API) reaches the page over the stream.
      await api.rolloutCommand(id, 'resume');
      await expect.poll(() => card.locator('[data-state]').textContent(), { timeout: 10_000 }).toBe('running');
      await screenshot(page, 'rollouts');
      await card.getByRole('button', { name: 'abort' }).click();
      await expect.poll(() => card.locator('[data-state]').textContent(), { timeout: 10_000 }).toBe('aborted');
      expect(await card.getByRole('cell', { name: 'the rollout ended before its wave' }).count()).toBe(2);
      expect(await card.getByRole('button').count()).toBe(0);
    } finally {
      await page.close();
    }
  }, 60_000);
});
