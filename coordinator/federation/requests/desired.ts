import type { OpHandler } from './context.js';

/** `desired`: store and publish the spec for the addressed devices. */
export const desired: OpHandler<'desired'> = async (op, { req, known, reply, deps }) => {
  const { revisions, errors } = await deps.applyDesired(known, op);
  // A retained desired state needs no device ack: the "ack" is the revision the device will pick up, even when offline.
  for (const [id, revision] of Object.entries(revisions)) reply.acks[id] = { id: req.id, ok: true, ts: Date.now(), result: { revision } };
  Object.assign(reply.errors, errors);
};
