// The firmware artifacts' entry point. The executable is the agent, so its argv are agent flags; `step run FILE.wasm`
// runs one step on stdin lines through the same runtime, to check a step on the device (and, in the cross-arch test,
// that every architecture computes the same bytes).
import { main } from '../agent/main.js';
import { stepCommand } from '../cli/step.js';
import { ConfigError, errorMessage } from '../shared/errors.js';

const argv = process.argv.slice(2);
const command = argv[0] === 'step' ? stepCommand.run(argv.slice(1)) : main(argv);
command.then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Same contract as cli/main.ts: bad configuration exits 2, anything else 1.
    console.error(`flotilla-agent: ${errorMessage(err)}`);
    process.exitCode = err instanceof ConfigError ? 2 : 1;
  },
);
