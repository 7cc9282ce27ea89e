import { z } from 'zod';
import { slotName } from '../standbyConf.ts';
import { defineAction, Peer, Term } from './actionTypes.ts';
import { pointAtUpstream } from './pointAtUpstream.ts';

/** Re-point this standby (or a cleanly stopped old primary) at the primary of `term`. */
export const follow = defineAction({
  schema: z
    .object({
      term: Term,
      primary: Peer,
      streamWaitMs: z.number().int().min(100).max(120_000).default(15_000),
      /**
       * Follow a node still in recovery: the control plane re-points synchronous standbys at the
       * candidate before promoting it, so the old primary can't regain a commit quorum.
       */
      allowStandbyUpstream: z.boolean().default(false),
      /** false: answer once re-pointed, without waiting for streaming (detaching in a failover). */
      awaitStreaming: z.boolean().default(true),
    })
    .strict(),
  term: 'required',
  run(ctx, input) {
    return pointAtUpstream(ctx, input.primary, { slot: slotName(ctx.config.node), allowStandbyUpstream: input.allowStandbyUpstream, streamWaitMs: input.streamWaitMs, awaitStreaming: input.awaitStreaming });
  },
});
