import { errorMessage } from '../../../shared/errors.js';
import { CommandTimeoutError } from '../../cluster-bus.js';
import type { OpHandler } from './context.js';

/** `command`: send it to every addressed device and gather the acks; a fan-out skips offline devices. */
export const command: OpHandler<'command'> = async (op, { req, known, reply, deps }) => {
  await Promise.all(
    known.map(async (id) => {
      if (req.target.scope !== 'device' && !deps.directory.live.get(id)?.online) return void (reply.errors[id] = 'offline');
      try {
        reply.acks[id] = await deps.bus.send(id, op.command, req.budgetMs);
      } catch (err) {
        reply.errors[id] = err instanceof CommandTimeoutError ? err.message : errorMessage(err);
      }
    }),
  );
};
