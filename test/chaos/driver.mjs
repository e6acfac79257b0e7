// A device that publishes a numbered QoS 1 stream through the agent's real link (Agent, its spool, mqtt.js), run as
// its own process so a test can SIGKILL it. `<counter-file>` holds the last number known durable (spooled, fsynced);
// a restarted driver continues after it, so a number is published again only if it was possibly not durable.
// Usage: node driver.mjs <url> <id> <token> <data-dir> <counter-file> <count> <per-second> <events|out>
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { Agent } from '../../dist/agent/agent.js';
import { createLogger } from '../../dist/shared/log.js';
import { publishStored } from '../../dist/shared/spool.js';
import { deviceTopic } from '../../dist/shared/topics.js';

const [url, id, token, dataDir, counterFile, countArg, rateArg, kind] = process.argv.slice(2);
const count = Number(countArg);
const agent = await Agent.open({ coordinatorUrl: url, id, token, dataDir, healthIntervalS: 60, target: 'chaos', log: createLogger(`driver ${id}`, 'warn') });
let durable = existsSync(counterFile) ? Number(readFileSync(counterFile, 'utf8')) : -1;
let next = durable + 1;

function record(n) {
  if (n <= durable) return;
  durable = n;
  const tmp = `${counterFile}.tmp`;
  const fd = openSync(tmp, 'w');
  writeSync(fd, String(n));
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, counterFile);
}

const topic = kind === 'events' ? deviceTopic(id, 'events') : `${deviceTopic(id, 'out')}/seq`;
const timer = setInterval(() => {
  if (next >= count) {
    clearInterval(timer);
    return;
  }
  const n = next++;
  const payload = kind === 'events' ? JSON.stringify({ ts: Date.now(), seq: n, type: 'chaos', data: { n } }) : JSON.stringify({ n, ts: Date.now() });
  publishStored(agent.client, topic, payload, { qos: 1, retain: false }, () => record(n));
  if (n === count - 1) process.stdout.write(JSON.stringify({ event: 'all-published', last: n }) + '\n');
}, 1000 / Number(rateArg));
process.stdout.write(JSON.stringify({ event: 'started', from: next }) + '\n');
process.on('SIGTERM', () => void agent.stop().then(() => process.exit(0)));
