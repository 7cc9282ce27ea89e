import type { ActionLock } from '../actionLock.ts';
import type { ActionContext } from '../actions/actionTypes.ts';
import type { PublicAnswer, PublicRoute } from '../publicRoutes.ts';
import { HealthState, type HealthStateOptions } from './healthState.ts';
import { isHealthPath, judge, LIVENESS_PATH, statusDocument } from './nodeHealth.ts';

/**
 * Patroni-compatible health checks on the agent's listen port (nodeHealth.ts judges, healthState.ts
 * reads). GET answers the status code and the JSON status document; OPTIONS and HEAD the status
 * code alone, as Patroni does for HAProxy's `option httpchk OPTIONS /primary`.
 */
export function healthRoutes(ctx: ActionContext, lock: ActionLock, opts: HealthStateOptions = {}): PublicRoute {
  const state = new HealthState(ctx, lock, opts);
  return async (req): Promise<PublicAnswer | null> => {
    if (!isHealthPath(req.path)) return null;
    if (req.path === LIVENESS_PATH) return answer(200, req.method === 'GET' ? { state: 'alive' } : null);
    const snap = await state.snapshot();
    const verdict = judge(req.path, req.query, snap);
    if (!verdict) return null;
    return answer(verdict.status, req.method === 'GET' ? statusDocument(snap, verdict) : null);
  };
}

function answer(status: number, doc: Record<string, unknown> | null): PublicAnswer {
  return doc ? { status, contentType: 'application/json', body: JSON.stringify(doc) } : { status, contentType: 'text/plain', body: '' };
}
