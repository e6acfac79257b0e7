import { ValidationError, errorMessage } from '../../../shared/errors.js';
import type { OpHandler } from './context.js';

/**
 * `labels`: change an own device's labels (`PATCH /api/v1/devices/:id` forwarded from above). Acknowledged once the
 * registry's commit is on disk; a bad patch is a refused ack naming the problem (the API above answers 400).
 */
export const labels: OpHandler<'labels'> = async (op, { req, known, reply, deps }) => {
  const id = known[0];
  if (id === undefined) return;
  try {
    const result = await deps.patchLabels(id, new Map(Object.entries(op.patch)));
    reply.acks[id] = { id: req.id, ok: true, ts: Date.now(), result: { labels: result } };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    reply.acks[id] = { id: req.id, ok: false, ts: Date.now(), error: errorMessage(err) };
  }
};
