/**
 * A simulated fleet in a process of its own (bench/cluster-load.ts): its CPU and memory are not the measured
 * server's. Reads `{mqttUrl, tokens, intervalS}` from the JSON file named by argv[2], prints `ready` once every device
 * is connected and reporting, and stops on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { startAckingFleet } from './acking-fleet.js';

const { mqttUrl, tokens, intervalS } = JSON.parse(readFileSync(process.argv[2], 'utf8')) as { mqttUrl: string; tokens: Record<string, string>; intervalS: number };
const fleet = await startAckingFleet(mqttUrl, tokens, intervalS);
console.log('ready');
process.on('SIGTERM', () => {
  void fleet.stop().finally(() => process.exit(0));
});
