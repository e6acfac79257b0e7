// The firmware artifacts' entry point: the built executable is `flotilla agent`, so its argv are agent flags.
import { main } from '../agent/main.js';
import { errorMessage, ConfigError } from '../shared/errors.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Same contract as cli/main.ts: bad configuration exits 2, anything else 1.
    console.error(`flotilla-agent: ${errorMessage(err)}`);
    process.exitCode = err instanceof ConfigError ? 2 : 1;
  },
);
