import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { RELEASE_HEADER, signRelease, type AgentRelease, type ReleaseSubject } from '../../shared/agent-release.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { renderFile, templateVars } from '../../firmware-targets/kit.js';
import type { TargetDescriptor } from '../../firmware-targets/descriptor.js';
import { TARGETS_DIR } from '../../firmware-targets/build.js';

/** Render the target's A/B launcher into `home` (as install.sh puts it beside the slots). */
export function writeLauncher(target: TargetDescriptor, home: string): string {
  mkdirSync(join(home, 'slots'), { recursive: true });
  const path = join(home, 'flotilla-launcher');
  renderFile(join(TARGETS_DIR, 'kit'), 'flotilla-launcher.sh', path, templateVars(target), 0o755);
  return path;
}

/** A SEA-shaped release folder: `flotilla-agent` (here a shell script) and a kit/, as build:targets packs it. */
export function seaTree(dir: string, script: string): string {
  mkdirSync(join(dir, 'kit'), { recursive: true });
  writeFileSync(join(dir, 'kit', 'README'), 'kit\n');
  writeFileSync(join(dir, 'flotilla-agent'), `#!/bin/sh\n${script}\n`);
  chmodSync(join(dir, 'flotilla-agent'), 0o755);
  return dir;
}

/** A tar.xz of a release folder (fast xz: test artifacts are thrown away), and its signed subject. */
export function packRelease(
  dir: string,
  out: string,
  subject: { target: string; version: string; kind?: ReleaseSubject['kind']; runtime?: string },
  key?: KeyObject,
): { file: string; subject: ReleaseSubject; signature?: AgentRelease['signature'] } {
  execFileSync('sh', ['-c', 'tar -cf - -C "$0" . | xz -0 -T2 > "$1"', dir, out]);
  const bytes = readFileSync(out);
  const full: ReleaseSubject = { kind: 'full', ...subject, sha256: sha256Hex(bytes), size: statSync(out).size, installBytes: 4096 };
  return { file: out, subject: full, ...(key ? { signature: signRelease(full, key) } : {}) };
}

/** PUT a release to a coordinator's API. */
export async function putRelease(api: string, r: { file: string; subject: ReleaseSubject; signature?: AgentRelease['signature'] }, body?: Buffer): Promise<Response> {
  const { target, version, ...rest } = r.subject;
  return fetch(`${api}/api/v1/agent-releases/${target}/${version}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', [RELEASE_HEADER]: JSON.stringify({ ...rest, ...(r.signature ? { signature: r.signature } : {}) }) },
    body: body ?? readFileSync(r.file),
  });
}

export interface Launched {
  child: ChildProcess;
  /** Every JSON milestone line printed so far (`joined`, by each agent the launcher started). */
  milestones: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Run a launcher (`argv`: its command line) in its own process group, so stopping it ends every agent it started. */
export function launch(argv: string[], env: NodeJS.ProcessEnv): Launched {
  const [cmd, ...args] = argv;
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const milestones: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      milestones.push(JSON.parse(line));
    } catch {
      // not a milestone
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    milestones,
    stderr,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(-child.pid!, 'SIGTERM');
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
