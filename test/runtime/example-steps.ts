/** The example steps, built once per source change and cached (cli/example-steps.ts, shared with `flotilla demo`). */
export { EXAMPLES, exampleStep } from '../../cli/example-steps.js';
