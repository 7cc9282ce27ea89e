import { z } from 'zod';
import { readServerState } from '../serverState.ts';
import { defineAction } from './actionTypes.ts';
import { answers, type FactsOf } from './wire.ts';

/** What this host's PostgreSQL is doing, and what the agent holds (term, fence). Changes nothing. */
export const status = defineAction({
  schema: z.object({}).strict(),
  answer: answers.status,
  term: 'none',
  async run(ctx) {
    const { pg, config } = ctx;
    const [state, fenced, major] = await Promise.all([readServerState(pg), ctx.fence.get(), pg.dataMajorVersion()]);
    const cd = major === null ? null : await pg.controlData();
    const role: FactsOf<'status'>['role'] = !state.running ? 'stopped' : !state.answering ? 'unknown' : state.inRecovery ? 'standby' : 'primary';
    return {
      ok: true,
      reason: `PostgreSQL ${role}${fenced ? ' (fenced)' : ''}`,
      node: config.node,
      cluster: config.cluster,
      term: ctx.terms.current,
      running: state.running,
      answering: state.answering,
      inRecovery: state.inRecovery,
      role,
      pgVersion: state.versionNum ?? (major === null ? null : major * 10000),
      timeline: state.timeline,
      walLsn: state.walLsn,
      receiver: state.receiver,
      fenced,
      dataDir: {
        path: pg.dataDir,
        exists: major !== null,
        majorVersion: major,
        state: cd && !('error' in cd) ? cd.state : null,
        checkpointLsn: cd && !('error' in cd) ? cd.checkpointLsn : null,
        checkpointTimeline: cd && !('error' in cd) ? cd.checkpointTimeline : null,
      },
    };
  },
});
