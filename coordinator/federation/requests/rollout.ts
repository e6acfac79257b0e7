import { errorMessage } from '../../../shared/errors.js';
import type { ShareReply } from '../../../shared/rollout.js';
import type { OpHandler, RequestContext } from './context.js';

/**
 * `rollout_open` / `rollout_order`: this cluster's share of a rollout owned here or above (docs/rollouts.md,
 * "Across clusters"). The answer is one ack keyed by the rollout id, sent once the share is on disk, its result
 * the share's report (ShareReply); a refusal (a device already in another rollout, an unknown share) is a failed
 * ack saying why.
 */
export const rolloutOpen: OpHandler<'rollout_open'> = (op, ctx) => answer(ctx, op.rollout, () => ctx.deps.shares.open(op, ctx.origin === 'parent'));

export const rolloutOrder: OpHandler<'rollout_order'> = (op, ctx) => answer(ctx, op.rollout, () => ctx.deps.shares.order(op.rollout, op.order));

async function answer({ req, reply }: RequestContext, rollout: string, run: () => Promise<ShareReply>): Promise<void> {
  try {
    reply.acks[rollout] = { id: req.id, ok: true, ts: Date.now(), result: await run() };
  } catch (err) {
    reply.acks[rollout] = { id: req.id, ok: false, ts: Date.now(), error: errorMessage(err) };
  }
}
