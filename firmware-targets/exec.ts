import { execFile } from 'node:child_process';

/** Run a command to completion; reject with its stderr when it fails. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error(`${cmd} is not installed (build host packages: docs/flashing.md)`));
      else if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve({ stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}
