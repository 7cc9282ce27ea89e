import { awsControlPlane } from '../lib/control/awsControlPlane.ts';
import { handleDecideEvent } from '../lib/control/decideHandler.ts';
import { parseLambdaEnv } from '../lib/control/lambdaEnv.ts';

/** The table's stream (observations, leases), the one-minute tick, and operator commands by invoke. */
export const handler = async (event: unknown) => {
  const env = parseLambdaEnv();
  if (!env.ok) throw new Error(env.reason);
  const cp = await awsControlPlane(env.value, 'decide');
  return handleDecideEvent(event, env.value, cp);
};
