import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DecisionEvent } from '../../lib/domain/events.ts';
import { handleNotifyEvent } from '../../lib/control/notifyHandler.ts';
import { decisionKey } from '../../lib/store/sortKeys.ts';
import { collectingLog, silentLog, type LogEntry } from '../../lib/log.ts';
import { cutWire, offlineClientConfig } from '../support/sdkWire.ts';
import { startStoreFixture, type StoreFixture } from '../support/storeFixture.ts';

/**
 * The notify handler's PutEvents requests on the SDK's real wire: the EventBridge client
 * signs, serializes (JSON 1.1) and sends over HTTP to a server on 127.0.0.1 that answers as
 * EventBridge does (docs: one result entry per request entry, in order; ErrorCode on refused
 * ones). There is no EventBridge emulator; SNS is cut at the wire as in snsPublisher's test.
 */
type Seen = { target: string; headers: IncomingHttpHeaders; body: { Entries: Array<Record<string, string>> } };
type Answer = (req: Seen, n: number) => { status: number; body: unknown };

let server: Server;
let endpoint = '';
let seen: Seen[] = [];
let answer: Answer = () => ({ status: 500, body: {} });
let fixture: StoreFixture;

before(async () => {
  fixture = await startStoreFixture();
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const s: Seen = { target: String(req.headers['x-amz-target']), headers: req.headers, body: JSON.parse(text) as Seen['body'] };
      seen.push(s);
      const a = answer(s, seen.length);
      res.writeHead(a.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': `r-${seen.length}` });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  await fixture.stop();
});

const ok: Answer = (req) => ({ status: 200, body: { FailedEntryCount: 0, Entries: req.body.Entries.map((_, i) => ({ EventId: `e-${i}` })) } });
const events = () => new EventBridgeClient({ ...offlineClientConfig, endpoint });
const sns = () => {
  const c = new SNSClient(offlineClientConfig);
  cutWire(c, () => ({
    statusCode: 200,
    body: '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>',
  }));
  return c;
};

const at = Date.UTC(2030, 0, 2, 3, 4, 5);
const evidence = (node: string) => ({ node, reachable: false, role: 'unknown', error: 'ECONNREFUSED', consecutiveFailures: 3, receiver: null, lsn: null });
const down = (node: string, n: number): DecisionEvent => ({ v: 1, at, term: 2, type: 'NodeDown', node, reason: `${node} missed probes (${n})`, evidence: evidence(node) });
const up = (node: string, n: number): DecisionEvent => ({ v: 1, at, term: 2, type: 'NodeUp', node, reason: `${node} answers again (${n})`, evidence: { ...evidence(node), reachable: true, error: null } });
const failover: DecisionEvent[] = [
  { v: 1, at, term: 3, type: 'FailoverStarted', kind: 'failover', from: 'pg1', to: 'pg2', reason: 'pg1 down; pg2 has the most WAL', evidence: [] },
  { v: 1, at, term: 3, type: 'ActionRequested', reason: 'fence pg1', intent: { id: '3:fence:pg1', action: 'fence', node: 'pg1', term: 3, primary: null, minLsn: null, readers: null } },
  { v: 1, at, term: 3, type: 'FailoverCompleted', kind: 'failover', from: 'pg1', to: 'pg2', reason: 'pg2 promoted; endpoints moved' },
];

let recordNo = 0;
function record(cluster: string, seq: number, evs: DecisionEvent[]) {
  const image = marshall({ cluster, sk: decisionKey(seq), seq, events: evs, writeId: 'w' }, { removeUndefinedValues: true });
  const n = ++recordNo;
  return { eventID: `ev-${n}`, eventName: 'INSERT', dynamodb: { Keys: { cluster: image['cluster'], sk: image['sk'] }, NewImage: image, SequenceNumber: `${n}000000000000000000` } };
}

/** 11 records: 10 of one NodeDown/NodeUp each, then a failover (2 hooked events, 1 bookkeeping): 12 entries. */
function batch(cluster: string) {
  const records = Array.from({ length: 10 }, (_, i) => record(cluster, i + 1, [i % 2 === 0 ? down('pg3', i + 1) : up('pg3', i + 1)]));
  records.push(record(cluster, 11, failover));
  return records;
}

describe('notify → EventBridge PutEvents, on the wire', () => {
  test('every hooked event once, batched by 10: source pgvigil, detail-type the event type, detail the event with cluster, seq and index', async () => {
    seen = [];
    answer = ok;
    const records = batch('eb1');
    const out = await handleNotifyEvent({ Records: records }, { store: fixture.store, log: silentLog, sns: sns(), topicArn: 'arn:aws:sns:eu-west-1:123456789012:t', events: { client: events() } });
    assert.deepEqual(out, { batchItemFailures: [] });
    assert.deepEqual(seen.map((s) => [s.target, s.body.Entries.length]), [['AWSEvents.PutEvents', 10], ['AWSEvents.PutEvents', 2]]);
    assert.match(String(seen[0]!.headers['authorization']), /^AWS4-HMAC-SHA256 Credential=AKIAOFFLINETEST\/\d+\/eu-west-1\/events\/aws4_request/);
    const entries = seen.flatMap((s) => s.body.Entries);
    assert.ok(entries.every((e) => e['Source'] === 'pgvigil' && e['EventBusName'] === 'default'));
    assert.deepEqual(entries.map((e) => e['DetailType']), [...Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'NodeDown' : 'NodeUp')), 'FailoverStarted', 'FailoverCompleted']);
    const last = JSON.parse(entries[11]!['Detail']!) as Record<string, unknown>;
    assert.deepEqual(last, { ...failover[2], cluster: 'eb1', seq: 11, index: 2 });
    assert.equal(JSON.parse(entries[0]!['Detail']!).reason, 'pg3 missed probes (1)');
    // The SDK sends Time as epoch seconds: the event's own time, not the send's.
    assert.equal(Number(entries[0]!['Time']), at / 1000);
  });

  test('FailedEntryCount: the refused entries are retried once; one refused again fails its record, and only it', async () => {
    seen = [];
    answer = (req, n) => {
      if (n === 1) {
        // Entries 3 and 6 (records 4 and 7) refused: throttled, internal failure.
        const Entries = req.body.Entries.map((_, i) => (i === 3 ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' } : i === 6 ? { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' } : { EventId: `e-${i}` }));
        return { status: 200, body: { FailedEntryCount: 2, Entries } };
      }
      if (n === 3) {
        // The retry: the first of the two goes through, the second is refused again.
        return { status: 200, body: { FailedEntryCount: 1, Entries: [{ EventId: 'e-retry' }, { ErrorCode: 'InternalFailure', ErrorMessage: 'still failing' }] } };
      }
      return ok(req, n);
    };
    const logs: LogEntry[] = [];
    const records = batch('eb2');
    const out = await handleNotifyEvent({ Records: records }, { store: fixture.store, log: collectingLog(logs), sns: sns(), topicArn: 'arn:aws:sns:eu-west-1:123456789012:t', events: { client: events() } });
    assert.deepEqual(seen.map((s) => s.body.Entries.length), [10, 2, 2], 'two batches, then one retry of the two refused entries');
    assert.deepEqual(seen[2]!.body.Entries.map((e) => JSON.parse(e['Detail']!).seq), [4, 7]);
    assert.deepEqual(out, { batchItemFailures: [{ itemIdentifier: records[6]!.dynamodb.SequenceNumber }] });
    const error = logs.find((l) => l.msg === 'decision event not put on the bus');
    assert.match(String(error?.reason), /NodeDown of record \d+ refused twice: InternalFailure: still failing/);
  });

  test('a request refused whole (access denied) fails every record with hooked events, after one retry', async () => {
    seen = [];
    answer = () => ({ status: 400, body: { __type: 'AccessDeniedException', message: 'not authorized to perform: events:PutEvents' } });
    const records = [record('eb3', 1, [down('pg1', 1)]), record('eb3', 2, [failover[1]!])];
    const out = await handleNotifyEvent({ Records: records }, { store: fixture.store, log: silentLog, sns: sns(), topicArn: 'arn:aws:sns:eu-west-1:123456789012:t', events: { client: events() } });
    assert.equal(seen.length, 2, 'the request and its one retry');
    assert.deepEqual(out, { batchItemFailures: [{ itemIdentifier: records[0]!.dynamodb.SequenceNumber }] }, 'the bookkeeping-only record had nothing to put');
  });

  test('switched off (no events client): nothing is put', async () => {
    seen = [];
    answer = ok;
    const out = await handleNotifyEvent({ Records: batch('eb4') }, { store: fixture.store, log: silentLog, sns: sns(), topicArn: 'arn:aws:sns:eu-west-1:123456789012:t' });
    assert.deepEqual(out, { batchItemFailures: [] });
    assert.equal(seen.length, 0);
  });
});
