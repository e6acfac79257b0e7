import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnFlotilla, type FlotillaProcess } from '../../cli/processes.js';
import { connectDevice } from '../helpers/cluster.js';
import { wat } from '../runtime/harness.js';
import { launchChromium, screenshot, presetToken } from './browser.js';

// A real coordinator and real agents as processes, watched through Debian's chromium.
const TOKEN = 'dashboard-test-token';
const DEVICES = ['pump-1', 'pump-2', 'valve-1'];
const dir = mkdtempSync(join(tmpdir(), 'flotilla-dashboard-'));
let coordinator: FlotillaProcess;
let base: string;
let mqttUrl: string;
const agents = new Map<string, FlotillaProcess>();
let browser: Browser;

function startCoordinator(httpPort = 0, mqttPort = 0): FlotillaProcess {
  return spawnFlotilla(
    ['coordinator', '--host', '127.0.0.1', '--mqtt-port', String(mqttPort), '--http-port', String(httpPort), '--data-dir', join(dir, 'coordinator'), '--cluster', 'lab', '--api-token', TOKEN],
    { stderr: 'ignore' },
  );
}

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function enroll(id: string): Promise<string> {
  const res = await post('/api/v1/devices', { id });
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

function startAgent(id: string, token: string): FlotillaProcess {
  const agent = spawnFlotilla(['agent', '--coordinator', mqttUrl, '--id', id, '--token', token, '--data-dir', join(dir, id), '--health-interval', '1'], { stderr: 'ignore' });
  agents.set(id, agent);
  return agent;
}

beforeAll(async () => {
  coordinator = startCoordinator();
  const { http, mqtt } = (await coordinator.waitFor('listening')) as { http: number; mqtt: number };
  base = `http://127.0.0.1:${http}`;
  mqttUrl = `mqtt://127.0.0.1:${mqtt}`;
  for (const id of DEVICES) startAgent(id, await enroll(id));
  await Promise.all([...agents.values()].map((a) => a.waitFor('joined')));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await coordinator?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A page signed in with the token (sessionStorage, as the login form leaves it), at `hash`. */
async function signedIn(hash = '#/', viewport = { width: 1280, height: 900 }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (err) => {
    throw err;
  });
  await presetToken(page, TOKEN);
  await page.goto(`${base}/${hash}`);
  await page.locator('[data-connection="live"]').waitFor();
  return page;
}

describe('access', () => {
  it('answers 401 without the token, and the page asks for it and says when it is wrong', async () => {
    const res = await fetch(`${base}/api/v1/devices`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/API token/);
    expect((await fetch(`${base}/api/v1/stream`)).status).toBe(401);

    const page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
    await page.goto(`${base}/`);
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/Wrong API token.*401/);
    await screenshot(page, 'login-wrong-token');

    await page.getByLabel('API token').fill(TOKEN);
    await page.getByLabel('API token').press('Enter');
    await page.locator('[data-connection="live"]').waitFor();
    await page.locator('tr[data-device]').first().waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('flotilla.apiToken'))).toBe(TOKEN);
    await page.close();
  });
});

describe('fleet overview', () => {
  it('lists every device with its cluster and counts them online', async () => {
    const page = await signedIn();
    for (const id of DEVICES) {
      const row = page.locator(`tr[data-device="${id}"]`);
      await row.waitFor();
      expect(await row.locator('td').first().textContent()).toBe('lab');
    }
    await expect.poll(() => page.locator('[data-count="online"]').textContent()).toBe(String(DEVICES.length));
    await expect.poll(() => page.locator(`tr[data-device] td:nth-child(4)`).first().textContent()).toBe(process.arch);
    expect(await page.locator('[data-cluster="lab"]').textContent()).toBe('lab');
    await screenshot(page, 'overview');
    await page.close();
  });

  it('filters by id and state from the keyboard', async () => {
    const page = await signedIn();
    await page.getByLabel('Device id').fill('pump');
    await expect.poll(() => page.locator('tr[data-device]').count()).toBe(2);
    await page.getByLabel('State').selectOption('offline');
    await expect.poll(() => page.locator('tr[data-device]').count()).toBe(0);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => page.locator('tr[data-device]').count()).toBe(DEVICES.length);
    await page.close();
  });
});

describe('device page', () => {
  it('shows identity and charts memory and load with data from the history ring', async () => {
    const page = await signedIn('#/device/pump-1');
    await expect.poll(() => page.locator('h1').textContent()).toMatch(/^pump-1/);
    await expect.poll(async () => Number(await page.locator('.chart-box').first().getAttribute('data-samples')), { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    expect(await page.locator('.chart-box canvas').count()).toBe(3);
    const facts = await page.locator('dl.facts').textContent();
    expect(facts).toContain(`node-linux-${process.arch}`);
    expect(facts).toContain('0.1.0');
    // The charts keep growing from pushed updates, without a reload.
    const before = Number(await page.locator('.chart-box').first().getAttribute('data-samples'));
    await expect.poll(async () => Number(await page.locator('.chart-box').first().getAttribute('data-samples')), { timeout: 10_000 }).toBeGreaterThan(before);
    await screenshot(page, 'device');
    await page.close();
  });

  it('is readable on a tablet', async () => {
    const page = await signedIn('#/device/pump-2', { width: 768, height: 1024 });
    await expect.poll(async () => Number(await page.locator('.chart-box').first().getAttribute('data-samples'))).toBeGreaterThanOrEqual(2);
    // Nothing wider than the screen: no sideways scrolling of the page itself.
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(768);
    await screenshot(page, 'device-tablet');
    await page.close();
  });
});

describe('supervision', () => {
  it('a crashing step shows its restarts and supervisor events on the device page', async () => {
    // A real `flotilla agent` runs the tree it is told to through the API: the step module is pushed, the desired
    // state applied, and the agent fetches the module and runs test/fixtures/wat/supervised-crashy.wat, which
    // traps on the payload `crash` arriving on its MQTT input.
    const module = wat('supervised-crashy');
    expect((await post('/api/v1/steps', { name: 'crashy', version: '1', module: Buffer.from(module).toString('base64') })).status).toBeLessThan(300);
    await startAgent('crashy-1', await enroll('crashy-1')).waitFor('joined');
    const spec = { id: 'root', intensity: 10, period: 60, children: [{ id: 'worker', step: 'crashy@1', input: 'lab/crashy/in', output: 'o' }] };
    const applied = await post('/api/v1/desired', { target: { device: 'crashy-1' }, spec });
    expect(applied.status).toBe(200);
    expect(((await applied.json()) as { acks: Record<string, { ok: boolean }> }).acks['crashy-1']?.ok).toBe(true);
    const feeder = await connectDevice(mqttUrl, 'feeder', await enroll('feeder'));
    try {
      const page = await signedIn('#/device/crashy-1');
      await page.locator('tr[data-child="root/worker"][data-state="running"]').waitFor({ timeout: 15_000 });
      for (const restarts of [1, 2]) {
        await feeder.publishAsync('lab/crashy/in', 'crash', { qos: 1 });
        await page.locator(`tr[data-child="root/worker"] [data-restarts]`).filter({ hasText: String(restarts) }).waitFor({ timeout: 10_000 });
      }
      await page.locator('tr[data-child="root/worker"][data-state="running"]').waitFor({ timeout: 10_000 });
      await expect.poll(() => page.locator('tr[data-event="child_terminated"]').count()).toBe(2);
      expect(await page.locator('tr[data-event="child_terminated"]').first().textContent()).toMatch(/root.*worker.*reason=trap/);
      expect(await page.locator('tr[data-event="child_started"]').count()).toBeGreaterThanOrEqual(3);
      await expect.poll(() => page.locator('[data-installed-step="crashy@1"]').count()).toBe(1);
      await screenshot(page, 'device-crashing-step');
      await page.close();
    } finally {
      await feeder.endAsync();
    }
  });
});

describe('live updates', () => {
  it('a killed agent turns offline on the open page, without a reload', async () => {
    const page = await signedIn();
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    await page.locator('tr[data-device="valve-1"][data-state="ok"]').waitFor();
    const offlineBefore = Number(await page.locator('[data-count="offline"]').textContent());
    const agent = agents.get('valve-1')!;
    agent.child.kill('SIGKILL');
    await agent.exited;
    // How fast is bench/'s business; here only that the open page follows (the marker: no reload).
    await page.locator('tr[data-device="valve-1"][data-state="offline"]').waitFor({ timeout: 25_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
    await expect.poll(() => page.locator('[data-count="offline"]').textContent()).toBe(String(offlineBefore + 1));
    await screenshot(page, 'overview-agent-killed');
    await page.close();
  });

  it('says so when the coordinator goes away and recovers when it is back', async () => {
    const page = await signedIn('#/cluster/lab');
    await page.locator('[data-rates]').waitFor({ timeout: 10_000 });
    const { http, mqtt } = { http: new URL(base).port, mqtt: new URL(mqttUrl).port };
    await coordinator.stop();
    await page.locator('#connection-banner').waitFor({ timeout: 25_000 });
    expect(await page.locator('#connection-banner').textContent()).toMatch(/lost/);
    await screenshot(page, 'connection-lost');
    coordinator = startCoordinator(Number(http), Number(mqtt));
    await coordinator.waitFor('listening');
    await page.locator('[data-connection="live"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#connection-banner').count()).toBe(0);
    await page.close();
  });
});
