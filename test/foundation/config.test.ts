import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { coordinatorSpec } from '../../coordinator/main.js';
import { agentSpec } from '../../agent/main.js';
import { loadConfig, opt } from '../../shared/config.js';
import { ConfigError } from '../../shared/errors.js';
import { FLOTILLA_VERSION } from '../../shared/version.js';
import { tempDir } from '../helpers/cluster.js';
import pkg from '../../package.json' with { type: 'json' };

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('configuration: flag > env > file > default', () => {
  const file = join(dir.path, 'c.json');
  writeFileSync(file, JSON.stringify({ 'mqtt-port': 1000, 'http-port': 2000, cluster: 'from-file' }));

  it('takes each source in order of precedence', () => {
    const cfg = loadConfig(coordinatorSpec, ['--config', file, '--mqtt-port', '3000'], { FLOTILLA_HTTP_PORT: '4000' });
    expect(cfg.values['mqtt-port']).toBe(3000);
    expect(cfg.sources['mqtt-port']).toBe('flag');
    expect(cfg.values['http-port']).toBe(4000);
    expect(cfg.sources['http-port']).toBe('env');
    expect(cfg.values.cluster).toBe('from-file');
    expect(cfg.values['data-dir']).toBe('./flotilla-data');
    expect(cfg.sources['data-dir']).toBe('default');
  });

  it.each([
    [['--mqtt-port', 'abc'], {}, /^--mqtt-port: expected a port number/],
    [['--mqtt-port', '70000'], {}, /^--mqtt-port: port must be 0-65535/],
    [[], { FLOTILLA_HTTP_PORT: '-1' }, /^FLOTILLA_HTTP_PORT: port must be 0-65535/],
    [['--nope'], {}, /Unknown option '--nope'/],
    [['--config', '/does/not/exist'], {}, /^--config: cannot read/],
  ])('rejects %j %j with one line naming it', (argv, env, message) => {
    expect(() => loadConfig(coordinatorSpec, argv, env)).toThrow(message);
    try {
      loadConfig(coordinatorSpec, argv, env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('rejects unknown and ill-typed keys in the config file', () => {
    const bad = join(dir.path, 'bad.json');
    writeFileSync(bad, JSON.stringify({ 'mqtt-prot': 1 }));
    expect(() => loadConfig(coordinatorSpec, ['--config', bad], {})).toThrow('--config: unknown key "mqtt-prot"');
    writeFileSync(bad, JSON.stringify({ 'mqtt-port': 'x' }));
    expect(() => loadConfig(coordinatorSpec, ['--config', bad], {})).toThrow(`"mqtt-port" in ${bad}: expected a port number`);
    writeFileSync(bad, '{');
    expect(() => loadConfig(coordinatorSpec, ['--config', bad], {})).toThrow(/is not valid JSON/);
  });

  const agentArgs = ['--coordinator', 'mqtt://127.0.0.1:1883', '--id', 'a'];

  it('agent health interval is any whole number of seconds and the id must be a topic-safe name', () => {
    expect(loadConfig(agentSpec, [...agentArgs, '--health-interval', '7'], {}).values['health-interval']).toBe(7);
    expect(() => loadConfig(agentSpec, [...agentArgs, '--health-interval', '0'], {})).toThrow(/--health-interval: must be positive/);
    expect(() => loadConfig(agentSpec, [...agentArgs, '--health-interval', '2.5'], {})).toThrow(/--health-interval: expected a whole number/);
    expect(() => loadConfig(agentSpec, ['--coordinator', 'mqtt://h', '--id', 'a/b'], {})).toThrow(/--id: must be 1-64 characters/);
  });

  it('a required option is named when missing, except for --help and --print-config', () => {
    expect(() => loadConfig(agentSpec, ['--id', 'a'], {})).toThrow('--coordinator is required');
    expect(() => loadConfig(agentSpec, ['--coordinator', 'mqtt://h'], {})).toThrow('--id is required');
    expect(loadConfig(agentSpec, ['--help'], {}).info).toBe('help');
    expect(loadConfig(agentSpec, ['--print-config'], {}).info).toBe('print-config');
  });

  it('a command with an argument takes exactly one, and one without a config file leaves --config to itself', () => {
    const spec = { command: 'x', summary: 's', argument: 'FILE', configFile: false, options: { config: { schema: opt.string, description: 'd' } } } as const;
    expect(loadConfig(spec, ['a.wasm', '--config', '{"k":1}'], {})).toMatchObject({ argument: 'a.wasm', values: { config: '{"k":1}' } });
    expect(() => loadConfig(spec, [], {})).toThrow('expected exactly one FILE');
    expect(() => loadConfig(spec, ['a', 'b'], {})).toThrow('expected exactly one FILE');
    expect(loadConfig(spec, ['--help'], {}).info).toBe('help');
  });

  it('a repeatable option collects every flag (env: comma-separated); trailing arguments need at least one', () => {
    const spec = { command: 'x', summary: 's', argument: 'ID', rest: 'K=V', options: { label: { schema: z.array(z.string()), multiple: true, description: 'd' } } } as const;
    expect(loadConfig(spec, ['d', 'a=1', '--label', 'x=1', '--label', 'y=2'], {})).toMatchObject({ argument: 'd', rest: ['a=1'], values: { label: ['x=1', 'y=2'] } });
    expect(loadConfig(spec, ['d', 'a=1', 'b-'], { FLOTILLA_LABEL: 'x=1,y=2' })).toMatchObject({ rest: ['a=1', 'b-'], values: { label: ['x=1', 'y=2'] } });
    expect(() => loadConfig(spec, ['d'], {})).toThrow('expected ID and at least one K=V');
  });

  it('the version constant matches package.json', () => {
    expect(FLOTILLA_VERSION).toBe(pkg.version);
  });
});
