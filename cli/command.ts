/** A `flotilla` subcommand. `run` returns the process exit code. */
export interface Command {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}
