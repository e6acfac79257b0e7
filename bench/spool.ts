import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Agent } from '../agent/agent.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { createLogger } from '../shared/log.js';
import { resolveOutputTopic } from '../shared/topics.js';
import { median } from './proc-rss.js';
import { quick, report } from './report.js';

/**
 * Spool replay (bench/README.md): a device that was cut off for 10 minutes at the demo's rate (the demo tree's
 * moving average: one output a second, so 600 messages) reconnects; how long until a persistent subscriber on its
 * coordinator has all of them, timed from the device's CONNACK. Baseline, same run, same broker and subscriber: the
 * same 600 messages published while the link is up. Both pass through the agent's on-disk spool (every QoS 1
 * message does). Median of REPEATS runs; `--quick`: a 1-minute outage, one run.
 */
const OUTAGE_S = quick ? 60 : 600;
const RATE_PER_S = 1;
const MESSAGES = OUTAGE_S * RATE_PER_S;
const REPEATS = quick ? 1 : 5;
const WAIT_MS = 120_000;

const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-spool-'));
const log = createLogger('bench', process.env.DEBUG ? 'debug' : 'error');
const tokens = { dev: 'bench-dev-token-0123456789', sink: 'bench-sink-token-0123456789' };
const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
/** A moving-average output of the demo, about its size. */
const output = (n: number) => new TextEncoder().encode(JSON.stringify({ avg: 20 + Math.sin(n / 30) * 8, n, ts: Date.now() }));

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`bench spool: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const coordinatorDir = join(dir, 'coordinator');
const start = (mqttPort = 0) => Coordinator.start({ host: '127.0.0.1', mqttPort, httpPort: 0, dataDir: coordinatorDir, cluster: 'bench', tokens, log });

let coordinator = await start();
const port = coordinator.mqttPort;
const url = `mqtt://127.0.0.1:${port}`;
let received = 0;
const sink: MqttClient = await mqtt.connectAsync(url, { clientId: 'sink', username: 'sink', password: tokens.sink, clean: false, reconnectPeriod: 20, reconnectOnConnackError: true });
sink.on('message', () => received++);
await sink.subscribeAsync('flotilla/d/dev/out/#', { qos: 1 });
const agentOpts = (run: string) => ({ coordinatorUrl: url, id: 'dev', token: tokens.dev, dataDir: join(dir, `agent-${run}`), healthIntervalS: 3600, target: 'bench', log });
const topic = resolveOutputTopic('dev', 'temp/avg');

const replayMs: number[] = [];
const liveMs: number[] = [];
for (let run = 0; run < REPEATS; run++) {
  // Outage: the coordinator is down while the device produces its outputs; they go to the spool.
  await coordinator.stop();
  const agent = await Agent.open(agentOpts(`outage-${run}`));
  for (let n = 0; n < MESSAGES; n++) agent.publishOutput(topic, output(n));
  await until('the outage spooled', () => agent.spool.stats.queued === MESSAGES);
  received = 0;
  let connackAt = 0;
  agent.client.on('packetreceive', (p) => p.cmd === 'connack' && !connackAt && (connackAt = performance.now()));
  coordinator = await start(port);
  await until('the replay at the subscriber', () => received >= MESSAGES);
  replayMs.push(performance.now() - connackAt);
  await agent.stop();

  // Baseline: the same messages with the link up.
  const live = await Agent.start(agentOpts(`live-${run}`));
  received = 0;
  const t0 = performance.now();
  for (let n = 0; n < MESSAGES; n++) live.publishOutput(topic, output(n));
  await until('the live messages at the subscriber', () => received >= MESSAGES);
  liveMs.push(performance.now() - t0);
  await live.stop();
  progress(`run ${run + 1}/${REPEATS}: replay ${Math.round(replayMs[run])} ms, live ${Math.round(liveMs[run])} ms`);
}
await sink.endAsync(true);
await coordinator.stop();
rmSync(dir, { recursive: true, force: true });

const replay = median(replayMs);
const liveMedian = median(liveMs);
const ratio = Math.round((replay / liveMedian) * 100) / 100;
report({
  bench: 'spool',
  tables: [
    {
      title: `Draining a ${OUTAGE_S / 60}-minute outage of one device (${MESSAGES} outputs at ${RATE_PER_S}/s) on reconnect`,
      columns: ['path', 'messages', 'median ms', 'messages/s', 'vs live'],
      rows: [
        ['spool replay after the outage (from CONNACK)', MESSAGES, Math.round(replay), Math.round(MESSAGES / (replay / 1000)), `${ratio}×`],
        ['baseline: the same messages published live', MESSAGES, Math.round(liveMedian), Math.round(MESSAGES / (liveMedian / 1000)), '1×'],
      ],
      note: `Median of ${REPEATS} run(s); to a persistent QoS 1 subscriber on the same embedded broker (fsynced journal). The ratio is replay time over live time.`,
    },
  ],
  figures: { messages: MESSAGES, replayMs: Math.round(replay), liveMs: Math.round(liveMedian), replayVsLive: ratio },
});
