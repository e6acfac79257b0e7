import type { OpHandler } from './context.js';

/**
 * Reads of one device kept by its own coordinator: its full detail, its stored desired state, its health history,
 * its recent log lines.
 */
export const detail: OpHandler<'detail'> = (_op, { known, reply, deps }) => {
  if (known[0] !== undefined) reply.detail = deps.directory.detail(known[0]);
};

export const getDesired: OpHandler<'get_desired'> = (_op, { known, reply, deps }) => {
  if (known[0] !== undefined) reply.desired = deps.desiredOf(known[0]);
};

export const history: OpHandler<'history'> = (_op, { known, reply, deps }) => {
  if (known[0] !== undefined) reply.history = deps.historyOf(known[0]);
};

export const logs: OpHandler<'logs'> = (op, { known, reply, deps }) => {
  if (known[0] !== undefined) reply.logs = deps.logsOf(known[0], op.query);
};
