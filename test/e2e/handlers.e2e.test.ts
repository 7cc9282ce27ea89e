import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { handler as decideHandler } from '../../functions/decide.ts';
import { handler as probeHandler } from '../../functions/probe.ts';
import { alertFor } from '../../lib/alerts/alertMessage.ts';
import { awsControlPlane } from '../../lib/control/awsControlPlane.ts';
import { emfMetrics } from '../../lib/control/controlMetrics.ts';
import { handleDecideEvent } from '../../lib/control/decideHandler.ts';
import { parseLambdaEnv } from '../../lib/control/lambdaEnv.ts';
import { runProbeLoop } from '../../lib/control/probeLoop.ts';
import { handleNotifyEvent } from '../../lib/control/notifyHandler.ts';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import type { NodeObservation } from '../../lib/domain/observation.ts';
import { ClusterSpec } from '../../lib/domain/spec.ts';
import { readDecisions } from '../../lib/store/decisionLog.ts';
import { latestObservations } from '../../lib/store/observations.ts';
import { decisionKey } from '../../lib/store/sortKeys.ts';
import { roleOf, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';
import { cutWire, offlineClientConfig } from '../support/sdkWire.ts';
import { useHandlerEnv } from '../support/handlerEnv.ts';
import { ACCOUNT, lambdaContext, observationItem, REGION, scheduledEvent, streamRecord } from '../support/lambdaEventShapes.ts';
import { silentLog } from '../../lib/log.ts';

// Derived ports (localPorts): pg BASE+0..2, agents BASE+100.., proxy BASE+200.., store BASE+300; clear of the other suites.
const BASE = 17660;
const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:pgvigil-alerts`;

describe('Lambda handlers with real AWS event shapes, on dynalite and real PostgreSQL', () => {
  let p: TestPipeline;
  let restoreEnv = () => {};
  let invocation = 0;

  /** One probe invocation with a short context: a few probe rounds, edge-triggered writes. */
  const probeOnce = () => probeHandler(scheduledEvent('probe'), lambdaContext(6_500, `req-${++invocation}`));

  const decisions = async (afterSeq = 0) => {
    const read = await readDecisions(p.store, 'local', { afterSeq });
    if (!read.ok) throw new Error(read.reason);
    return read.items;
  };
  const lastSeq = async () => (await decisions()).at(-1)?.seq ?? 0;

  /** Probe until the newest observation of `node` satisfies `ok`; answers every node's newest one then. */
  const probeUntil = async (what: string, ok: (obs: NodeObservation[]) => boolean, since: number) =>
    waitFor(what, async () => {
      await probeOnce();
      const read = await latestObservations(p.store, 'local', since);
      return read.ok && ok(read.observations) ? read.observations : false;
    }, 60_000, 0);

  before(async () => {
    p = await startTestPipeline(BASE);
    // The handlers are the only control plane from here on, as on AWS: the local scheduler stands down.
    await p.loop.stop();
    restoreEnv = await useHandlerEnv(p, { region: REGION, topicArn: TOPIC_ARN });
  });

  after(async () => {
    await p?.dispose();
    restoreEnv();
  });

  test('probe, scheduled by EventBridge: observations of every node reach the store, by the Lambda prober', async () => {
    const since = Date.now();
    // The first invocations may write nothing new: the prober resumes from the store and writes on change or heartbeat.
    // On a loaded machine a 400 ms probe can time out: wait for a round in which every node answered.
    const seen = await probeUntil(
      'every node observed answering by a Lambda prober',
      (obs) => p.spec.nodes.every((n) => obs.some((o) => o.node === n.name && o.prober.startsWith('lambda-req-') && o.reachable)),
      since,
    );
    const byNode = Object.fromEntries(seen.map((o) => [o.node, o]));
    assert.deepEqual(Object.keys(byNode).sort(), ['pg1', 'pg2', 'pg3']);
    assert.equal(byNode['pg1']!.role, 'primary');
    assert.equal(byNode['pg2']!.role, 'standby');
    assert.equal(byNode['pg3']!.role, 'standby');
    for (const o of seen) assert.equal(o.reachable, true, `${o.node} reachable`);
  });

  test('probe loop: rounds that see no node of a cluster are published as ProbesBlind for that cluster', async () => {
    // Nothing listens on these ports: every probe is refused, as for a cluster cut off from the control plane.
    const ghost = ClusterSpec.parse({
      cluster: 'ghost',
      nodes: [0, 1].map((i) => ({ name: `g${i + 1}`, host: '127.0.0.1', port: BASE + 30 + i, agent: `http://127.0.0.1:${BASE + 35 + i}` })),
    });
    const lines: string[] = [];
    const result = await runProbeLoop({ store: p.store, specs: [ghost], prober: 'lambda-blind', until: Date.now() + 1_500, log: silentLog, metrics: emfMetrics('pgvigil-probe', (l) => lines.push(l)) });
    assert.ok(result.rounds > 1);
    assert.equal(result.blindRounds, result.rounds);
    const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(emf.length >= 1 && emf.length < result.rounds, 'blind rounds are summed, not one document per round');
    assert.ok(emf.every((m) => m['cluster'] === 'ghost' && typeof m['ProbesBlind'] === 'number'));
    assert.equal(emf.reduce((n, m) => n + (m['ProbesBlind'] as number), 0), result.blindRounds);
  });

  test('decide, scheduled by EventBridge: the tick answers for every cluster', async () => {
    const answer = await decideHandler(scheduledEvent('decide-tick'));
    assert.deepEqual(answer, { ticked: [{ cluster: 'local', ok: true }] });
  });

  test('decide, from a stream batch with one poisoned record: only it fails, the rest are decided on', async () => {
    const before = await lastSeq();
    const stopped = await p.cluster.stop('pg3', 'immediate');
    assert.deepEqual(stopped, { ok: true });
    const since = Date.now();
    const failures = p.spec.timing.failureThreshold;
    const obs = await probeUntil('pg3 observed failing', (o) => o.some((x) => x.node === 'pg3' && !x.reachable && x.consecutiveFailures >= failures), since);

    const good = obs.map((o) => streamRecord(observationItem(o)));
    const poisoned = streamRecord(observationItem(obs[0]!));
    delete (poisoned.dynamodb.Keys as Record<string, unknown>)['cluster'];
    const batch = { Records: [good[0]!, poisoned, ...good.slice(1)] };

    const answer = await decideHandler(batch);
    // Reported by its SequenceNumber, which Lambda checkpoints streams by.
    assert.deepEqual(answer, { batchItemFailures: [{ itemIdentifier: poisoned.dynamodb.SequenceNumber }] });
    const appended = (await decisions(before)).flatMap((d) => d.events);
    assert.ok(appended.some((e) => e.type === 'NodeDown' && e.node === 'pg3'), `NodeDown pg3 appended (got ${appended.map((e) => e.type).join(', ')})`);

    // pg3 comes back: the next batch brings NodeUp, and the cluster is whole for the cases after.
    assert.deepEqual(await p.cluster.start('pg3'), { ok: true });
    await p.cluster.waitStreaming({ names: ['pg3'], timeoutMs: 30_000 });
    const back = await probeUntil('pg3 observed back', (o) => o.some((x) => x.node === 'pg3' && x.reachable), Date.now());
    assert.deepEqual(await decideHandler({ Records: back.map((o) => streamRecord(observationItem(o))) }), { batchItemFailures: [] });
    const later = (await decisions(before)).flatMap((d) => d.events);
    assert.ok(later.some((e) => e.type === 'NodeUp' && e.node === 'pg3'), 'NodeUp pg3 appended');
  });

  test('decide, by Lambda invoke from the CLI: pause is appended; a second pause is refused with the reason', async () => {
    const command = (type: 'pause' | 'resume') => ({ source: 'pgvigil.cli', cluster: 'local', command: { type, now: Date.now(), requestedBy: 'alice@ops' } });
    const paused = await decideHandler(command('pause'));
    assert.equal((paused as { ok: boolean }).ok, true);
    const { seq, events } = paused as { seq: number; events: DecisionEvent[] };
    assert.deepEqual(events.map((e) => e.type), ['Paused']);
    const stored = (await decisions(seq - 1))[0]!;
    assert.equal(stored.seq, seq);
    assert.deepEqual(stored.events.map((e) => e.type), ['Paused']);

    const again = await decideHandler(command('pause'));
    assert.deepEqual(again, { ok: false, refused: true, reason: 'the cluster is already paused: pgvigil resume ends maintenance mode' });
    assert.equal(await lastSeq(), seq, 'a refused command appends nothing');

    const resumed = await decideHandler(command('resume'));
    assert.deepEqual((resumed as { events: DecisionEvent[] }).events.map((e) => e.type), ['Resumed']);
  });

  test('notify: each decision item becomes its alerts on SNS; a poisoned record is the only batch item failure', async () => {
    const items = await decisions();
    const wanted = items.filter((d) => d.events.some((e) => ['NodeDown', 'NodeUp', 'Paused', 'Resumed'].includes(e.type)));
    assert.ok(wanted.length >= 4, 'the log holds NodeDown, NodeUp, Paused and Resumed from the cases before');
    const records = [];
    for (const d of wanted) {
      const got = await p.store.doc.send(new GetCommand({ TableName: p.store.table, Key: { cluster: 'local', sk: decisionKey(d.seq) } }));
      records.push(streamRecord(got.Item!));
    }
    const poisoned = streamRecord({ cluster: 'local', sk: decisionKey(999_999), seq: 999_999, events: [{ type: 'NoSuchEvent' }], writeId: 'w' });
    records.splice(1, 0, poisoned);

    const sns = new SNSClient(offlineClientConfig);
    const wire = cutWire(sns, () => ({
      statusCode: 200,
      body: '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>',
    }));
    const answer = await handleNotifyEvent({ Records: records }, { store: p.store, log: silentLog, sns, topicArn: TOPIC_ARN });
    assert.deepEqual(answer, { batchItemFailures: [{ itemIdentifier: poisoned.dynamodb.SequenceNumber }] });

    const published = wire.map((r) => new URLSearchParams(r.body));
    assert.ok(published.every((f) => f.get('Action') === 'Publish' && f.get('TopicArn') === TOPIC_ARN));
    const subjects = published.map((f) => f.get('Subject')!);
    for (const s of [
      '[pgvigil WARNING] local: node pg3 is down',
      '[pgvigil INFO] local: node pg3 is up',
      '[pgvigil WARNING] local: paused: automatic failover is off',
      '[pgvigil INFO] local: resumed: automatic failover is on',
    ]) {
      assert.ok(subjects.includes(s), `published "${s}" (got ${JSON.stringify(subjects)})`);
    }
    const alertable = wanted.flatMap((d) => d.events).filter((e) => alertFor('local', e, false) !== null);
    assert.equal(published.length, alertable.length, 'one publish per event worth an alert');
    const down = published.find((f) => f.get('Subject') === '[pgvigil WARNING] local: node pg3 is down')!;
    assert.match(down.get('Message')!, /^node pg3 is down\.\n/);
    assert.match(down.get('Message')!, /Event: +NodeDown at /);
    assert.match(down.get('Message')!, /Reason: +pg3 failed \d+ probes in a row/);
    const paused = published.find((f) => f.get('Subject')?.includes('paused:'))!;
    assert.match(paused.get('Message')!, /Reason: +.*alice@ops/);
  });

  test('decide, by invoke: a switchover is counted as FailoverStarted (EMF, cluster dimension) and the handlers carry it through', async () => {
    const env = parseLambdaEnv();
    assert.ok(env.ok);
    const lines: string[] = [];
    const cp = { ...(await awsControlPlane(env.value, 'decide')), metrics: emfMetrics('pgvigil-decide', (l) => lines.push(l)) };
    const before = await lastSeq();
    const answer = await handleDecideEvent({ source: 'pgvigil.cli', cluster: 'local', command: { type: 'switchover', to: 'pg2', now: Date.now(), requestedBy: 'alice@ops' } }, env.value, cp);
    assert.equal((answer as { ok: boolean }).ok, true, JSON.stringify(answer));
    const emf = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const counted = (name: string) => emf().filter((m) => name in m).map((m) => [m[name], m['cluster']]);
    assert.deepEqual(counted('FailoverStarted'), [[1, 'local']]);

    // Probe and tick, as the scheduled functions would, until the switchover completes.
    await waitFor('the switchover to complete through the handlers', async () => {
      await probeOnce();
      await handleDecideEvent(scheduledEvent('decide-tick'), env.value, cp);
      return (await decisions(before)).some((d) => d.events.some((e) => e.type === 'FailoverCompleted'));
    }, 90_000, 0);
    assert.equal(await roleOf(p, 'pg2'), 'primary');
    assert.deepEqual(counted('FailoverStarted'), [[1, 'local']], 'one switchover, one FailoverStarted');
    // How it ended reaches CloudWatch too, once.
    assert.deepEqual(counted('FailoverCompleted'), [[1, 'local']]);
  });
});
