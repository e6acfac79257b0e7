import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectHealth } from '../../agent/health.js';
import { ApiClient } from '../../cli/api-client.js';
import type { LogLine } from '../../shared/logs.js';
import { deviceTopic } from '../../shared/topics.js';
import { connectDevice, startCoordinator } from '../helpers/cluster.js';
import { launchChromium, screenshot, presetToken } from './browser.js';

// A real coordinator, a device sending log lines over real MQTT, the device page in Debian's chromium.
const TOKEN = 'logs-panel-token';
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
let device: MqttClient;
let browser: Browser;

const send = (line: Omit<LogLine, 'ts'>) => device.publishAsync(deviceTopic('dev-logs', 'logs'), JSON.stringify({ ts: Date.now(), ...line }), { qos: 1 });

beforeAll(async () => {
  cluster = await startCoordinator({ apiToken: TOKEN });
  const { token } = await new ApiClient(cluster.api, TOKEN).enroll('dev-logs');
  device = await connectDevice(cluster.mqttUrl, 'dev-logs', token);
  await device.publishAsync(deviceTopic('dev-logs', 'status'), JSON.stringify({ online: true, ts: Date.now() }), { qos: 1, retain: true });
  await send({ level: 'warn', step: 'root/avg', message: 'config must be {"field": string, "window"?: integer 1..10000}' });
  await send({ level: 'error', step: 'root/alarm', message: 'threshold missing' });
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await device?.endAsync();
  await cluster?.stop();
});

async function devicePage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('pageerror', (err) => {
    throw err;
  });
  await presetToken(page, TOKEN);
  await page.goto(`${cluster.api}/#/device/dev-logs`);
  await page.locator('[data-logs][data-live="true"]').waitFor();
  return page;
}

const rows = (page: Page) => page.locator('[data-logs] tr[data-log-level]');
/** Level | step | message of each row (the time column is the browser's locale). */
const texts = (page: Page) => rows(page).evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent).join(' | ')));

describe('the device page Logs panel', () => {
  it('shows the lines the coordinator keeps, newest first, adds new ones live, filters by step and level', async () => {
    const page = await devicePage();
    await expect.poll(() => rows(page).count()).toBe(2);
    expect(await texts(page)).toEqual(['error | root/alarm | threshold missing', 'warn | root/avg | config must be {"field": string, "window"?: integer 1..10000}']);

    // Live: a line sent now appears without a reload, on top.
    await send({ level: 'error', message: 'coordinator link: connect ECONNREFUSED' });
    await expect.poll(() => rows(page).count()).toBe(3);
    expect(await rows(page).first().getAttribute('data-log-step')).toBe('agent');

    await page.locator('[data-logs] select[name="level"]').selectOption('error');
    await expect.poll(() => rows(page).count()).toBe(2);
    expect(await page.locator('[data-logs] tr[data-log-level="warn"]').count()).toBe(0);

    await page.locator('[data-logs] select[name="level"]').selectOption('warn');
    await page.locator('[data-logs] select[name="step"]').selectOption('root/avg');
    await expect.poll(() => rows(page).count()).toBe(1);
    expect(await rows(page).first().getAttribute('data-log-step')).toBe('root/avg');
    await screenshot(page, 'device-logs');

    // A line of another step arriving while filtered stays hidden until the filter is lifted.
    await send({ level: 'warn', step: 'root/alarm', message: 'hysteresis ignored' });
    await page.locator('[data-logs] select[name="step"]').selectOption('');
    await expect.poll(() => rows(page).count()).toBe(4);
    await page.close();
  });

  it('a reload shows the same lines (kept at the coordinator, not only in the page)', async () => {
    const page = await devicePage();
    await expect.poll(() => rows(page).count()).toBe(4);
    await page.close();
  });

  it('a degraded device shows its last failure reason, in its step\'s words', async () => {
    const reason = 'start_failed:init returned 2: config must be {"field": string, "window"?: integer 1..10000}';
    await device.publishAsync(deviceTopic('dev-logs', 'events'), JSON.stringify({ ts: Date.now(), seq: 0, type: 'child_terminated', data: { supervisor: 'root', child: 'avg', reason } }), { qos: 1 });
    const health = await collectHealth({ seq: 0, intervalS: 10, target: 't', dataDir: '.', invalidMessages: 0, contributions: [{ children: [{ path: 'root/avg', kind: 'worker', state: 'stopped', restarts: 0 }] }] });
    await device.publishAsync(deviceTopic('dev-logs', 'health'), JSON.stringify(health), { qos: 1 });
    const page = await devicePage();
    await expect.poll(() => page.locator('[data-last-failure] code').textContent()).toBe(`root/avg: ${reason}`);
    await page.goto(`${cluster.api}/#/`);
    await expect.poll(() => page.locator('tr[data-device="dev-logs"] td[data-last-failure]').getAttribute('title')).toBe(`root/avg: ${reason}`);
    await page.close();
  });
});
