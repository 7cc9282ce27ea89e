import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Fenced } from '../fenceMarker.ts';
import { readServerState, type ServerState } from '../serverState.ts';
import type { ActionContext } from './actionTypes.ts';

/**
 * Start a stopped server in the role its data directory was left in: `standby` (the chosen
 * candidate's host power-cycled during the failover, its agent back first: started in recovery
 * as it was, holding at least the WAL it had flushed when chosen; the minLsn wait still guards a
 * switchover) or `primary` (restartFencedPrimary, which decided the fence may be lifted). The
 * control file must say that role stopped there, and standby.signal must be there for a standby
 * and absent for a primary, so a primary is never made of a standby's data or the reverse. A
 * fence marker given is lifted for the start and set again if the server does not come up so.
 */
export async function startStopped(ctx: ActionContext, role: 'primary' | 'standby', fenced: Fenced | null): Promise<{ ok: true; after: ServerState } | { ok: false; reason: string }> {
  const standby = role === 'standby';
  const cd = await ctx.pg.controlData();
  if ('error' in cd) return { ok: false, reason: `its control file can't be read (${cd.error})` };
  const signal = existsSync(join(ctx.pg.dataDir, 'standby.signal'));
  if (!(standby ? STANDBY_STOPPED : PRIMARY_STOPPED).has(cd.state) || signal !== standby) {
    return { ok: false, reason: `its data directory was not left by a ${role} (control file: ${cd.state}; standby.signal ${signal ? 'present' : 'absent'})` };
  }
  if (fenced !== null) await ctx.fence.clear();
  const started = await ctx.pg.start();
  const after = started.ok ? await readServerState(ctx.pg) : null;
  if (after === null || after.inRecovery !== standby) {
    // Fenced again, the agent's guard stops a server that came up anyway.
    if (fenced !== null) await ctx.fence.set(fenced.term, fenced.why);
    return { ok: false, reason: `it could not be started as a ${role}: ${started.ok ? (after?.why ?? `it came up ${standby ? 'out of' : 'in'} recovery`) : started.reason}` };
  }
  return { ok: true, after };
}

/** pg_controldata states of a data directory a standby left (stopped cleanly, or at once). */
const STANDBY_STOPPED = new Set(['shut down in recovery', 'in archive recovery']);

/** pg_controldata states of a data directory a primary stopped (cleanly, or at once). */
const PRIMARY_STOPPED = new Set(['shut down', 'in production']);
