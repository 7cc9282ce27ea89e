import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { handler as actHandler } from '../../functions/act.ts';
import { handler as decideHandler } from '../../functions/decide.ts';
import { handler as probeHandler } from '../../functions/probe.ts';
import { alertsFor } from '../../lib/alerts/alertMessage.ts';
import { sanitizeSubject } from '../../lib/alerts/snsPublisher.ts';
import { DECIDE_TIMEOUT_MS } from '../../lib/control/actTiming.ts';
import { handleNotifyEvent } from '../../lib/control/notifyHandler.ts';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { readDecisions, type StoredDecision } from '../../lib/store/decisionLog.ts';
import { loadState } from '../../lib/store/loadState.ts';
import { latestObservations } from '../../lib/store/observations.ts';
import { decisionKey } from '../../lib/store/sortKeys.ts';
import { silentLog } from '../../lib/log.ts';
import { useHandlerEnv } from '../support/handlerEnv.ts';
import { HeldAnswerRelay } from '../support/heldAnswerRelay.ts';
import { localHostFiles } from '../../lib/local/localHostFiles.ts';
import { ACCOUNT, lambdaContext, observationItem, REGION, streamRecord, scheduledEvent } from '../support/lambdaEventShapes.ts';
import { LambdaService } from '../support/lambdaService.ts';
import { roleOf, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { cutWire, offlineClientConfig } from '../support/sdkWire.ts';
import { waitFor } from '../support/waitFor.ts';

// Ports (localPorts): pg BASE+0..2, agents BASE+100.., proxy BASE+200.., store BASE+300; pg1's
// agent moves to BASE+110 behind the relay on its own port; the Lambda API at BASE+350.
const BASE = 26600;
const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:pgvigil-alerts`;
const ACT = 'pgvigil-act';
const DECIDE = 'pgvigil-decide';
const LAMBDA_KEYS = ['PGVIGIL_ACT_FUNCTION', 'PGVIGIL_DECIDE_FUNCTION', 'PGVIGIL_LAMBDA_ENDPOINT'] as const;

describe('decide never waits on an agent: intents are carried out by act, on dynalite and real PostgreSQL', () => {
  let p: TestPipeline;
  let lambda: LambdaService;
  let relay: HeldAnswerRelay;
  let restoreEnv = () => {};
  let invocation = 0;
  let probedSince = Date.now();

  const decisions = async (afterSeq = 0): Promise<StoredDecision[]> => {
    const read = await readDecisions(p.store, 'local', { afterSeq });
    if (!read.ok) throw new Error(read.reason);
    return read.items;
  };
  const eventsOf = async () => (await decisions()).flatMap((d) => d.events);

  /**
   * One probe invocation (a few rounds), then what the table's stream would bring decide: a
   * batch with a record per observation written since the last one. Answers decide's answer.
   */
  const probeAndStream = async () => {
    await probeHandler(scheduledEvent('probe'), lambdaContext(6_500, `req-${++invocation}`));
    const read = await latestObservations(p.store, 'local', probedSince);
    probedSince = Date.now();
    if (!read.ok || read.observations.length === 0) return null;
    return decideHandler({ Records: read.observations.map((o) => streamRecord(observationItem(o))) });
  };

  before(async () => {
    p = await startTestPipeline(BASE);
    // The handlers are the only control plane from here on, as on AWS: the local scheduler stands down.
    await p.loop.stop();
    // pg1's agent moves behind a relay that holds its rewind answers, at the address the spec names.
    const agent = p.agents.get('pg1')!;
    await agent.stop();
    const config = JSON.parse(await readFile(agent.configPath, 'utf8')) as { listen: { host: string; port: number } };
    config.listen.port = BASE + 110;
    await writeFile(agent.configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
    // HTTPS on both sides, with the local host's certificate and CA (the agent channel is TLS).
    const host = localHostFiles(p.workDir);
    const tls = { cert: await readFile(host.serverCert, 'utf8'), key: await readFile(host.serverKey, 'utf8'), ca: await readFile(host.caCert, 'utf8') };
    relay = new HeldAnswerRelay({ host: '127.0.0.1', port: BASE + 110, tls }, '/v1/actions/rewind');
    await relay.listen(agent.port);
    await agent.start();

    lambda = new LambdaService({ [ACT]: (e) => actHandler(e), [DECIDE]: (e) => decideHandler(e) });
    const endpoint = await lambda.listen(BASE + 350);
    restoreEnv = await useHandlerEnv(p, { region: REGION, topicArn: null });
    Object.assign(process.env, { PGVIGIL_ACT_FUNCTION: ACT, PGVIGIL_DECIDE_FUNCTION: DECIDE, PGVIGIL_LAMBDA_ENDPOINT: endpoint });
  });

  after(async () => {
    relay?.letGo();
    await lambda?.close();
    await relay?.close();
    await p?.dispose();
    restoreEnv();
    for (const k of LAMBDA_KEYS) delete process.env[k];
  });

  test('a crash failover whose rewind outlasts decide’s timeout completes, and a failure meanwhile is decided at once', async () => {
    // Through the handlers first, until the log knows pg1's synchronous standbys (a failover needs the quorum it proves).
    await waitFor('the log to know pg1’s synchronous standbys', async () => {
      await probeAndStream();
      const s = await loadState(p.store, 'local');
      return s.ok && s.state.syncSet.length === 2 && s.state.primarySyncNames?.matches === true;
    }, 60_000, 0);
    const before = (await decisions()).at(-1)?.seq ?? 0;
    assert.deepEqual(await p.cluster.stop('pg1', 'immediate'), { ok: true });

    // Stream batches and act invocations only (no tick): the failover runs to its end while pg1's rewind is still held.
    await waitFor('the failover to complete and pg1’s rewind to be asked', async () => {
      await probeAndStream();
      const events = (await decisions(before)).flatMap((d) => d.events);
      return events.some((e) => e.type === 'FailoverCompleted') && relay.asked > 0;
    }, 120_000, 0);
    assert.equal(await roleOf(p, 'pg2'), 'primary');
    const completed = (await decisions(before)).flatMap((d) => d.events).find((e) => e.type === 'FailoverCompleted')!;
    assert.deepEqual([completed.from, completed.to], ['pg1', 'pg2']);

    // pg3 fails while the rewind is held: the next stream batch decides it, no tick needed.
    assert.deepEqual(await p.cluster.stop('pg3', 'immediate'), { ok: true });
    await waitFor('pg3’s failure decided from a stream batch', async () => {
      await probeAndStream();
      return (await eventsOf()).some((e) => e.type === 'NodeDown' && e.node === 'pg3');
    }, 60_000, 0);
    const rewindAct = lambda.invocations.find((i) => i.fn === ACT && (i.event as { intentId: string }).intentId.endsWith(':rewind:pg1'));
    assert.ok(rewindAct && !rewindAct.done, 'the act invocation carrying pg1’s rewind is still at work');
    const rewindPending = async () => {
      const s = await loadState(p.store, 'local');
      return s.ok && s.state.pending.some((x) => x.intent.action === 'rewind' && x.intent.node === 'pg1');
    };
    assert.equal(await rewindPending(), true, 'pg1’s rewind is still pending when pg3’s failure is decided');

    // Observations keep coming until the rewind has taken longer than decide may run.
    await waitFor('the rewind to outlast decide’s timeout', async () => {
      await probeAndStream();
      return Date.now() - relay.firstAskedAt! > DECIDE_TIMEOUT_MS;
    }, DECIDE_TIMEOUT_MS + 30_000, 0);
    assert.equal(await rewindPending(), true);
    relay.letGo();

    await waitFor('pg1’s rewind recorded and pg1 a standby', async () => {
      const events = await eventsOf();
      return events.some((e) => e.type === 'ActionSucceeded' && e.intent.action === 'rewind' && e.intent.node === 'pg1') && (await roleOf(p, 'pg1')) === 'standby';
    }, 60_000);
    // Every decide run in the meantime saw the pending rewind; it was handed to act once.
    assert.equal(relay.asked, 1, 'pg1’s agent was asked to rewind once');
    const decideRuns = lambda.invocations.filter((i) => i.fn === DECIDE).length;
    assert.ok(decideRuns >= 4, `act sent each result to decide (${decideRuns} decide invocations)`);
    const acts = lambda.invocations.filter((i) => i.fn === ACT);
    assert.ok(acts.every((i) => i.mode === 'Event'), 'decide hands intents on asynchronously');
    // Once per request: an intent asked again (after a failed answer) is a new request, handed on again.
    const requests = acts.map((i) => {
      const e = i.event as { intentId: string; requestedAt?: number };
      return `${e.intentId}@${e.requestedAt}`;
    });
    assert.equal(new Set(requests).size, acts.length, `each request handed on once: ${requests.join(', ')}`);

    // pg3's agent still answers: the decider starts it again as pg2's standby, through act too.
    await waitFor('pg3 back as a standby', async () => {
      if ((await eventsOf()).some((e) => e.type === 'NodeUp' && e.node === 'pg3')) return (await roleOf(p, 'pg3')) === 'standby';
      await probeAndStream();
      return false;
    }, 60_000, 0);
  });

  test('notify: a batch retried after a failed publish, and again whole, sends each alert once', async () => {
    const items = await decisions();
    const records: ReturnType<typeof streamRecord>[] = [];
    for (const d of items) {
      const got = await p.store.doc.send(new GetCommand({ TableName: p.store.table, Key: { cluster: 'local', sk: decisionKey(d.seq) } }));
      records.push(streamRecord(got.Item!));
    }
    const expected = items.flatMap((d) => alertsFor('local', d.events as DecisionEvent[], false)).map((a) => sanitizeSubject(a.subject));
    assert.ok(expected.length >= 4, `the log holds alerts from the failover (got ${expected.length})`);

    // SNS answers; its third publish is refused once (a throttle), as a real retry would meet.
    const sns = new SNSClient(offlineClientConfig);
    let publishes = 0;
    const sent: string[] = [];
    cutWire(sns, (req) => {
      publishes += 1;
      if (publishes === 3) return { statusCode: 400, body: '<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>' };
      sent.push(new URLSearchParams(req.body).get('Subject')!);
      return { statusCode: 200, body: '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>' };
    });
    const notify = (batch: typeof records) => handleNotifyEvent({ Records: batch }, { store: p.store, log: silentLog, sns, topicArn: TOPIC_ARN });

    const first = await notify(records);
    assert.equal(first.batchItemFailures.length, 1, JSON.stringify(first));
    const failedAt = records.findIndex((r) => r.dynamodb.SequenceNumber === first.batchItemFailures[0]!.itemIdentifier);
    assert.ok(failedAt >= 0, 'the failure names a record by its SequenceNumber');
    // Lambda retries from the failed record on, the records after it included.
    assert.deepEqual(await notify(records.slice(failedAt)), { batchItemFailures: [] });
    // And the whole batch once more, as after a timed-out invocation.
    assert.deepEqual(await notify(records), { batchItemFailures: [] });
    assert.deepEqual([...sent].sort(), [...expected].sort(), 'each alert published once');
  });
});
