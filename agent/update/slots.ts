import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/durable/index.js';
import { AgentRelease } from '../../shared/agent-release.js';
import { errorMessage } from '../../shared/errors.js';

export type Slot = 'a' | 'b';

/** Where the agent runs: set by the A/B launcher (firmware-targets/kit/flotilla-launcher.sh), absent otherwise. */
export interface LaunchEnv {
  home: string;
  slot: Slot;
  trial: boolean;
}

export function launchEnv(env: NodeJS.ProcessEnv = process.env): LaunchEnv | undefined {
  const { FLOTILLA_HOME: home, FLOTILLA_SLOT: slot } = env;
  if (!home || (slot !== 'a' && slot !== 'b')) return undefined;
  return { home, slot, trial: env.FLOTILLA_TRIAL === '1' };
}

export interface RolledBack {
  revision: number;
  version: string;
  reason: string;
}

/**
 * The launcher's files under FLOTILLA_HOME, from the agent's side (the launcher's header describes them): one line
 * each, replaced atomically, so a power cut leaves the old or the new line.
 */
export class SlotHome {
  constructor(readonly home: string) {}

  dir(slot: Slot): string {
    return join(this.home, 'slots', slot);
  }

  active(): Slot {
    const text = this.read('active');
    return text === 'b' ? 'b' : 'a';
  }

  /** The signed release a slot holds (absent for the one flashed by install.sh). */
  release(slot: Slot): AgentRelease | undefined {
    const file = join(this.dir(slot), 'release.json');
    if (!existsSync(file)) return undefined;
    try {
      return AgentRelease.parse(JSON.parse(readFileSync(file, 'utf8')));
    } catch (err) {
      throw new Error(`${file}: ${errorMessage(err)}`);
    }
  }

  /** Stage `slot` for the launcher's next start, on trial for `deadlineS`. */
  stageTrial(slot: Slot, deadlineS: number, revision: number, version: string): Promise<void> {
    return writeFileAtomic(join(this.home, 'trial'), `${slot} ${deadlineS} ${revision} ${version}\n`);
  }

  /** The trial agent joined and reported: its slot becomes the active one (the launcher drops the trial file). */
  commit(slot: Slot): Promise<void> {
    return writeFileAtomic(join(this.home, 'active'), `${slot}\n`);
  }

  /** The trial agent found itself unhealthy: the launcher takes this as the rollback's reason. */
  failTrial(reason: string): Promise<void> {
    return writeFileAtomic(join(this.home, 'trial-failed'), `${reason}\n`);
  }

  /** What the launcher wrote after a failed trial, if anything (taken: the file is removed once read). */
  takeRolledBack(): RolledBack | undefined {
    const text = this.read('rolled-back');
    if (text === undefined) return undefined;
    const m = /^(\d+) (\S+) (.*)$/.exec(text);
    return m ? { revision: Number(m[1]), version: m[2], reason: m[3] } : { revision: 0, version: 'unknown', reason: text };
  }

  private read(name: string): string | undefined {
    try {
      return readFileSync(join(this.home, name), 'utf8').trim();
    } catch {
      return undefined;
    }
  }
}
