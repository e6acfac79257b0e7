import type { ReplyMessage, RequestMessage, RequestOp } from '../../../shared/federation.js';
import { command } from './command.js';
import type { OpHandler, RequestDeps } from './context.js';
import { desired } from './desired.js';
import { detail, getDesired, history, logs } from './device-reads.js';
import { labels } from './labels.js';
import { rolloutOpen, rolloutOrder } from './rollout.js';

export type { RequestDeps } from './context.js';

/** One row per request op (shared/federation.ts RequestOp): adding an op adds a row here and its handler file. */
const OPS: { [T in RequestOp['type']]: OpHandler<T> } = {
  command,
  detail,
  desired,
  get_desired: getDesired,
  history,
  logs,
  labels,
  rollout_open: rolloutOpen,
  rollout_order: rolloutOrder,
};

/** Carry out a request for this cluster's own devices (children are the router's business). */
export async function handleLocally(req: RequestMessage, origin: 'parent' | 'self', reply: ReplyMessage, deps: RequestDeps): Promise<void> {
  const { directory } = deps;
  const addressed = req.target.scope === 'device' ? [req.target.device] : directory.ownIds();
  const known = addressed.filter((id) => {
    if (directory.isLocal(id)) return true;
    reply.errors[id] = `no device "${id}" in cluster ${deps.cluster}`;
    return false;
  });
  const handler = OPS[req.op.type] as OpHandler<RequestOp['type']>;
  await handler(req.op as never, { req, origin, known, reply, deps });
}
