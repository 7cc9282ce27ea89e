import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fullProps, resourcesOf, synthStack } from './stackFixture.ts';
import { stackPropsFromContext } from '../../cdk/appContext.ts';
import type { PgVigilStackProps } from '../../cdk/pgvigilStack.ts';

/**
 * `-c reservedConcurrency=true`: the four handlers keep concurrency of their own, sized for a
 * failover in every cluster at once (cdk/reservedConcurrency.ts), and nothing else is reserved.
 */
const nodesOf = (cluster: string, n: number, base: number) =>
  Array.from({ length: n }, (_, i) => ({ name: `${cluster}${i + 1}`, host: `10.42.${base}.${20 + i}`, port: 5432, agent: `https://10.42.${base}.${20 + i}:8008` }));
const twoClusters: PgVigilStackProps = { ...fullProps, clusters: [{ cluster: 'orders', nodes: nodesOf('o', 3, 3) }, { cluster: 'ledger', nodes: nodesOf('l', 5, 4) }] };

/** Each control-plane handler's ReservedConcurrentExecutions, by handler name, and any other function's. */
function reserved(props: PgVigilStackProps) {
  const fns = resourcesOf(synthStack(props).template, 'AWS::Lambda::Function');
  const byHandler: Record<string, unknown> = {};
  const others: unknown[] = [];
  for (const [id, p] of fns) {
    const name = ['probe', 'decide', 'act', 'notify'].find((h) => id.startsWith(`PgVigilFunctions${h}`));
    if (name) byHandler[name] = p.ReservedConcurrentExecutions;
    else if (p.ReservedConcurrentExecutions !== undefined) others.push(id);
  }
  return { byHandler, others };
}

describe('reserved concurrency', () => {
  test('off by default: every function draws on the account pool', () => {
    const { byHandler, others } = reserved(twoClusters);
    assert.deepEqual(byHandler, { probe: undefined, decide: undefined, act: undefined, notify: undefined });
    assert.deepEqual(others, []);
  });

  test('on: act one per node and per cluster (3+1 and 5+1), decide three more, probe 3, notify 2; no other function', () => {
    const { byHandler, others } = reserved({ ...twoClusters, reservedConcurrency: true });
    assert.deepEqual(byHandler, { probe: 3, decide: 13, act: 10, notify: 2 });
    assert.deepEqual(others, []);
  });

  test('the context flag: true turns it on, anything but true or false is refused naming the key', () => {
    const on = stackPropsFromContext({ reservedConcurrency: 'true' });
    assert.equal(on.ok && on.value.reservedConcurrency, true);
    const off = stackPropsFromContext({});
    assert.equal(off.ok && off.value.reservedConcurrency, false);
    assert.deepEqual(stackPropsFromContext({ reservedConcurrency: 'yes' }), { ok: false, reason: 'cdk context (-c): reservedConcurrency: give true or false' });
  });
});
