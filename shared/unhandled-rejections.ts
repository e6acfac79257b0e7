import type { Logger } from './log.js';

/**
 * Log and count every promise rejection nobody handled, with its origin (the stack of the rejected Error, which
 * names where it was created), instead of letting it pass silently or kill the process. Node 18 compatible (the
 * agent runs it on MIPS). Returns the uninstall function.
 */
export function watchUnhandledRejections(log: Logger, count: () => void = () => {}): () => void {
  let seen = 0;
  const listener = (reason: unknown) => {
    count();
    log.error(`unhandled rejection #${++seen} since start: ${describeRejection(reason)}`);
  };
  process.on('unhandledRejection', listener);
  return () => process.off('unhandledRejection', listener);
}

export function describeRejection(reason: unknown): string {
  if (reason instanceof Error) return reason.stack ?? `${reason.name}: ${reason.message}`;
  return `${String(reason)} (not an Error: no stack to say where it came from)`;
}
