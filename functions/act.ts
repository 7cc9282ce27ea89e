import { reportToDecide, handleActEvent } from '../lib/control/actHandler.ts';
import { awsControlPlane, lambdaFromEnv } from '../lib/control/awsControlPlane.ts';
import { parseLambdaEnv } from '../lib/control/lambdaEnv.ts';
import { lambdaInvoker } from '../lib/control/lambdaInvoke.ts';

/** One intent decide handed on (asynchronous invoke): carry it out, and send the result to decide. */
export const handler = async (event: unknown) => {
  const env = parseLambdaEnv();
  if (!env.ok) throw new Error(env.reason);
  const decideFunction = env.value.PGVIGIL_DECIDE_FUNCTION;
  if (!decideFunction) throw new Error('set PGVIGIL_DECIDE_FUNCTION to the decide function act sends results to');
  const cp = await awsControlPlane(env.value, 'act');
  const answer = await handleActEvent(event, cp, reportToDecide(lambdaInvoker(lambdaFromEnv(env.value)), decideFunction));
  cp.log({ level: answer.ok ? 'info' : 'warn', msg: 'act done', ...answer });
  return answer;
};
