import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import type { FlotillaProcess } from '../../cli/processes.js';
import { eventually, spawnAgent } from '../helpers/cluster.js';
import { startNode, tempDir, type Node } from '../federation/tree.js';
import { launchChromium, screenshot } from './browser.js';

// A two-level fleet: root ← site (its own coordinator and broker) with a real agent, watched from the root's page.
const dir = tempDir();
let root: Node;
let site: Node | undefined;
let agent: FlotillaProcess | undefined;
let browser: Browser;

beforeAll(async () => {
  root = await startNode('root');
  site = await startNode('site', root, { dataDir: join(dir.path, 'site') });
  await site.coordinator.federation.bridge!.whenUp();
  const { token } = await new ApiClient(site.api).enroll('edge-1');
  agent = spawnAgent(site.mqttUrl, 'edge-1', token, join(dir.path, 'edge-1'));
  [browser] = await Promise.all([launchChromium(), agent.waitFor('joined')]);
  await eventually(() => root.coordinator.directory.below.devices.has('site/edge-1'), 10_000, 'edge-1 at the root');
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  await site?.stop();
  await root?.stop();
  dir.cleanup();
});

describe('a two-level fleet on the root dashboard', () => {
  it('lists the child cluster device with its path, shows the bridge up, and down once the child stops', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => {
      throw err;
    });
    await page.goto(`${root.api}/#/`);
    await page.locator('[data-connection="live"]').waitFor();
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 7));

    const row = page.locator('tr[data-device="site/edge-1"]');
    await row.waitFor();
    expect(await row.locator('td').first().textContent()).toBe('root/site');
    const node = page.locator('[data-node="root/site"]');
    await node.locator('[data-bridge="up"]').waitFor({ timeout: 10_000 });
    // The root's own node has no bridge; the child's roll-up arrived in its summary.
    expect(await page.locator('[data-node="root"] > .node [data-bridge]').count()).toBe(0);
    await expect.poll(() => node.locator('[data-rollup]').textContent(), { timeout: 10_000 }).toMatch(/^1\/1 online/);
    await screenshot(page, 'federation-overview');

    const clusterPage = await browser.newPage({ viewport: { width: 1024, height: 768 } });
    await clusterPage.goto(`${root.api}/#/cluster/${encodeURIComponent('root/site')}`);
    await clusterPage.locator('#coord-title + dl [data-bridge="up"]').waitFor({ timeout: 10_000 });
    await clusterPage.locator('tr[data-device="site/edge-1"]').waitFor();
    await clusterPage.locator('[data-rates]').waitFor({ timeout: 10_000 });
    await screenshot(clusterPage, 'federation-cluster');

    await site!.stop();
    site = undefined;
    await node.locator('[data-bridge="down"]').waitFor({ timeout: 25_000 });
    await clusterPage.locator('#coord-title + dl [data-bridge="down"]').waitFor({ timeout: 25_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(7);
    expect(await node.locator('[data-rollup]').textContent()).toMatch(/as of/);
    await screenshot(page, 'federation-bridge-down');
    await clusterPage.close();
    await page.close();
  });
});
