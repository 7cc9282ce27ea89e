import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SNSClient } from '@aws-sdk/client-sns';
import { publishAlert, sanitizeSubject } from '../../lib/alerts/snsPublisher.ts';
import { cutWire, offlineClientConfig, type WireRequest, type WireResponse } from '../support/sdkWire.ts';

const topicArn = 'arn:aws:sns:eu-west-1:123456789012:pgvigil-alerts';

function published(): WireResponse {
  return {
    statusCode: 200,
    body: '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-123</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>',
  };
}

/** The Publish request as SNS receives it, whichever wire protocol the client speaks. */
function publishFields(req: WireRequest): Record<string, string> {
  if ((req.headers['content-type'] ?? '').includes('json')) {
    const j = JSON.parse(req.body) as Record<string, unknown>;
    return { TopicArn: String(j.TopicArn), Subject: String(j.Subject), Message: String(j.Message), attrs: JSON.stringify(j.MessageAttributes ?? {}) };
  }
  const form = new URLSearchParams(req.body);
  const attrs: Record<string, string> = {};
  for (let i = 1; form.has(`MessageAttributes.entry.${i}.Name`); i++) attrs[form.get(`MessageAttributes.entry.${i}.Name`)!] = form.get(`MessageAttributes.entry.${i}.Value.StringValue`)!;
  return { Action: form.get('Action')!, TopicArn: form.get('TopicArn')!, Subject: form.get('Subject')!, Message: form.get('Message')!, attrs: JSON.stringify(attrs) };
}

describe('SNS alert publisher', () => {
  test('subjects: ASCII, one line, at most 100 characters', () => {
    assert.equal(sanitizeSubject('[pgvigil CRITICAL] demo: failover started: pg-a → pg-b'), '[pgvigil CRITICAL] demo: failover started: pg-a -> pg-b');
    assert.equal(sanitizeSubject('line one\nline two\t\u0007bell'), 'line one line two bell');
    const long = sanitizeSubject('x'.repeat(300));
    assert.equal(long.length, 100);
    assert.ok(long.endsWith('...'));
    assert.equal(sanitizeSubject('\n\u2603\n'), 'pgvigil alert');
    assert.equal(sanitizeSubject('café'), 'cafe');
  });

  test('publishes subject, body and attributes to the topic, and returns the message id', async () => {
    const sns = new SNSClient(offlineClientConfig);
    const wire = cutWire(sns, published);
    const result = await publishAlert(sns, topicArn, {
      subject: '[pgvigil CRITICAL] demo: failover started: pg-a → pg-b',
      body: 'failover started\nfrom pg-a to pg-b, term 3',
      attributes: { severity: 'critical', cluster: 'demo' },
    });
    assert.deepEqual(result, { ok: true, messageId: 'm-123' });
    assert.equal(wire.length, 1);
    assert.equal(wire[0]!.hostname, 'sns.eu-west-1.amazonaws.com');
    const f = publishFields(wire[0]!);
    assert.equal(f.TopicArn, topicArn);
    assert.equal(f.Subject, '[pgvigil CRITICAL] demo: failover started: pg-a -> pg-b');
    assert.equal(f.Message, 'failover started\nfrom pg-a to pg-b, term 3');
    assert.match(f.attrs!, /severity/);
    assert.match(f.attrs!, /critical/);
  });

  test('an SNS error and a bad attribute name come back as reasons', async () => {
    const sns = new SNSClient(offlineClientConfig);
    const wire = cutWire(sns, () => ({
      statusCode: 404,
      body: '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>',
    }));
    const failed = await publishAlert(sns, topicArn, { subject: 's', body: 'b' });
    assert.equal(failed.ok, false);
    assert.match((failed as { reason: string }).reason, /pgvigil-alerts.*Topic does not exist/);
    const bad = await publishAlert(sns, topicArn, { subject: 's', body: 'b', attributes: { 'AWS.severity': 'x' } });
    assert.equal(bad.ok, false);
    assert.equal(wire.length, 1, 'a bad attribute sends nothing');
  });
});
