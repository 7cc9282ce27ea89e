import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Route53Client } from '@aws-sdk/client-route-53';
import { createRoute53Driver, termRecordName } from '../../lib/endpoints/route53.ts';
import type { EndpointChange } from '../../lib/endpoints/driver.ts';
import { cutWire, offlineClientConfig, type WireRequest, type WireResponse } from '../support/sdkWire.ts';

/** A record set as the zone below keeps it. */
interface ZoneRecord {
  name: string;
  type: string;
  setId?: string;
  weight?: number;
  ttl: number;
  values: string[];
}

const tag = (xml: string, name: string) => xml.match(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`))?.[1];
const tags = (xml: string, name: string) => [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1]!);
const unxml = (s: string) => s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const key = (r: ZoneRecord) => `${r.name}|${r.type}|${r.setId ?? ''}`;
const fqdn = (n: string) => (n.endsWith('.') ? n : `${n}.`);

/**
 * The far side of the wire: a hosted zone that answers the two Route 53 calls the driver
 * makes, with Route 53's rules for CREATE (must not exist), DELETE (must match exactly)
 * and all-or-nothing change batches.
 */
function hostedZone(zoneId: string) {
  const records = new Map<string, ZoneRecord>();
  const recordXml = (r: ZoneRecord) =>
    `<ResourceRecordSet><Name>${r.name}</Name><Type>${r.type}</Type>${r.setId ? `<SetIdentifier>${r.setId}</SetIdentifier><Weight>${r.weight}</Weight>` : ''}<TTL>${r.ttl}</TTL><ResourceRecords>${r.values
      .map((v) => `<ResourceRecord><Value>${v.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}</Value></ResourceRecord>`)
      .join('')}</ResourceRecords></ResourceRecordSet>`;

  function respond(req: WireRequest): WireResponse {
    assert.equal(req.path.startsWith(`/2013-04-01/hostedzone/${zoneId}/rrset`), true, `unexpected path ${req.path}`);
    if (req.method === 'GET') {
      const start = fqdn(String(req.query.name ?? ''));
      const reversed = (n: string) => n.split('.').reverse().join('.');
      const sorted = [...records.values()].sort((a, b) => reversed(a.name).localeCompare(reversed(b.name)) || a.type.localeCompare(b.type));
      const from = sorted.filter((r) => reversed(r.name) >= reversed(start)).slice(0, Number(req.query.maxitems ?? 100));
      return {
        statusCode: 200,
        body: `<?xml version="1.0"?><ListResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ResourceRecordSets>${from.map(recordXml).join('')}</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListResourceRecordSetsResponse>`,
      };
    }
    const next = new Map(records);
    for (const change of tags(req.body, 'Change')) {
      const action = tag(change, 'Action')!;
      const set = tag(change, 'ResourceRecordSet')!;
      const weight = tag(set, 'Weight');
      const r: ZoneRecord = {
        name: fqdn(tag(set, 'Name')!),
        type: tag(set, 'Type')!,
        setId: tag(set, 'SetIdentifier'),
        weight: weight === undefined ? undefined : Number(weight),
        ttl: Number(tag(set, 'TTL')),
        values: tags(set, 'Value').map(unxml),
      };
      const existing = next.get(key(r));
      const invalid = (message: string): WireResponse => ({
        statusCode: 400,
        body: `<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>[${message}]</Message></Error><RequestId>x</RequestId></ErrorResponse>`,
      });
      if (action === 'CREATE') {
        if (existing) return invalid(`Tried to create resource record set [name='${r.name}', type='${r.type}'] but it already exists`);
        next.set(key(r), r);
      } else if (action === 'DELETE') {
        if (!existing || JSON.stringify(existing) !== JSON.stringify(r)) return invalid(`Tried to delete resource record set [name='${r.name}', type='${r.type}'] but the values provided do not match the current values`);
        next.delete(key(r));
      } else {
        next.set(key(r), r);
      }
    }
    records.clear();
    for (const [k, v] of next) records.set(k, v);
    return {
      statusCode: 200,
      body: `<?xml version="1.0"?><ChangeResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C1</Id><Status>PENDING</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`,
    };
  }
  return { records, respond };
}

const zoneId = 'Z0123456789ABCDEFGHIJ';
const names = { writerName: 'writer.db.internal', readerName: 'reader.db.internal' };
const a = { name: 'pg-a', host: '10.42.3.10', port: 5432 };
const b = { name: 'pg-b', host: '10.42.4.10', port: 5432 };
const c = { name: 'pg-c', host: '10.42.3.11', port: 5432 };

/** A Lambda invocation's worth of driver: a fresh client and driver over the same zone. */
function invocation(zone: ReturnType<typeof hostedZone>) {
  const client = new Route53Client(offlineClientConfig);
  const wire = cutWire(client, zone.respond);
  const driver = createRoute53Driver({ client, zoneId, ...names, ttl: 5 });
  return { wire, driver, changeCalls: () => wire.filter((r) => r.method === 'POST') };
}

describe('route53 endpoint driver, over the SDK wire', () => {
  test('first apply: reads the term record, then one POST to the zone with writer A, weighted readers and the term TXT', async () => {
    const zone = hostedZone(zoneId);
    const { wire, driver, changeCalls } = invocation(zone);
    const change: EndpointChange = { term: 1, writer: a, readers: [b, c] };
    assert.deepEqual(await driver.apply(change), { ok: true, applied: true });

    const [first] = wire;
    assert.equal(first!.method, 'GET');
    assert.equal(first!.path, `/2013-04-01/hostedzone/${zoneId}/rrset`);
    assert.equal(first!.query.name, termRecordName(names.writerName));
    assert.match(first!.headers.authorization ?? '', /^AWS4-HMAC-SHA256 Credential=AKIAOFFLINETEST\/\d{8}\/us-east-1\/route53\/aws4_request/);

    const posts = changeCalls();
    assert.equal(posts.length, 1);
    const body = posts[0]!.body;
    assert.match(body, /^<\?xml|<ChangeResourceRecordSetsRequest xmlns="https:\/\/route53.amazonaws.com\/doc\/2013-04-01\/">/);
    assert.match(body, /<Action>UPSERT<\/Action><ResourceRecordSet><Name>writer\.db\.internal<\/Name><Type>A<\/Type><TTL>5<\/TTL><ResourceRecords><ResourceRecord><Value>10\.42\.3\.10<\/Value>/);
    assert.match(body, /<Name>reader\.db\.internal<\/Name><Type>A<\/Type><SetIdentifier>pg-b<\/SetIdentifier><Weight>1<\/Weight><TTL>5<\/TTL>/);
    assert.match(body, /<SetIdentifier>pg-c<\/SetIdentifier>/);
    assert.match(body, /<Action>CREATE<\/Action><ResourceRecordSet><Name>_pgvigil-term\.writer\.db\.internal<\/Name><Type>TXT<\/Type>/);
    assert.match(body, /<Comment>pgvigil term 1<\/Comment>/);

    assert.deepEqual(zone.records.get('writer.db.internal.|A|')?.values, ['10.42.3.10']);
    assert.deepEqual([...zone.records.values()].filter((r) => r.name === 'reader.db.internal.').map((r) => r.values[0]).sort(), ['10.42.3.11', '10.42.4.10']);
  });

  test('replaying the same term, in the same or a new invocation, makes no change call', async () => {
    const zone = hostedZone(zoneId);
    const change: EndpointChange = { term: 4, writer: a, readers: [b] };
    const first = invocation(zone);
    assert.deepEqual(await first.driver.apply(change), { ok: true, applied: true });
    assert.deepEqual(await first.driver.apply(change), { ok: true, applied: false });
    assert.equal(first.changeCalls().length, 1);

    const second = invocation(zone);
    assert.deepEqual(await second.driver.apply({ ...change, readers: [b] }), { ok: true, applied: false });
    assert.equal(second.changeCalls().length, 0, 'a new invocation reads the term record and writes nothing');
  });

  test('an older term is ignored, a newer one moves the writer and drops the promoted reader', async () => {
    const zone = hostedZone(zoneId);
    await invocation(zone).driver.apply({ term: 2, writer: a, readers: [b, c] });
    const later = invocation(zone);
    assert.deepEqual(await later.driver.apply({ term: 3, writer: b, readers: [c] }), { ok: true, applied: true });
    const body = later.changeCalls()[0]!.body;
    assert.match(body, /<Action>DELETE<\/Action><ResourceRecordSet><Name>reader\.db\.internal\.?<\/Name><Type>A<\/Type><SetIdentifier>pg-b<\/SetIdentifier>/);
    assert.match(body, /<Action>DELETE<\/Action><ResourceRecordSet><Name>_pgvigil-term/, 'the term record is swapped by DELETE old + CREATE new');
    assert.deepEqual(zone.records.get('writer.db.internal.|A|')?.values, ['10.42.4.10']);

    const stale = invocation(zone);
    assert.deepEqual(await stale.driver.apply({ term: 2, writer: a, readers: [b, c] }), { ok: true, applied: false });
    assert.equal(stale.changeCalls().length, 0);
    assert.deepEqual(zone.records.get('writer.db.internal.|A|')?.values, ['10.42.4.10']);
  });

  test('same term with a changed reader set is applied (a lagging standby left the reader endpoint)', async () => {
    const zone = hostedZone(zoneId);
    const d = invocation(zone);
    await d.driver.apply({ term: 5, writer: a, readers: [b, c] });
    assert.deepEqual(await d.driver.apply({ term: 5, writer: a, readers: [b] }), { ok: true, applied: true });
    assert.deepEqual([...zone.records.values()].filter((r) => r.name === 'reader.db.internal.').map((r) => r.setId), ['pg-b']);
  });

  test('host names become CNAME records; no reader listed: the writer serves reads', async () => {
    const zone = hostedZone(zoneId);
    const d = invocation(zone);
    const w = { name: 'pg-a', host: 'pg-a.hosts.internal', port: 5432 };
    assert.deepEqual(await d.driver.apply({ term: 1, writer: w, readers: [] }), { ok: true, applied: true });
    assert.match(d.changeCalls()[0]!.body, /<Name>writer\.db\.internal<\/Name><Type>CNAME<\/Type>/);
    assert.deepEqual(zone.records.get('reader.db.internal.|CNAME|pg-a')?.values, ['pg-a.hosts.internal']);
  });

  test('a concurrent writer that moved the term record first makes our stale batch fail; we re-read and stand down', async () => {
    const zone = hostedZone(zoneId);
    await invocation(zone).driver.apply({ term: 6, writer: a, readers: [b] });
    // Between slow's read of term 6 and its write, another invocation applies term 8.
    const original = zone.respond;
    let raced = false;
    const racing = (req: WireRequest) => {
      if (req.method === 'POST' && !raced) {
        raced = true;
        zone.records.forEach((r, k) => {
          if (r.type === 'TXT') zone.records.set(k, { ...r, values: ['"term=8 fp=0000000000000000"'] });
        });
      }
      return original(req);
    };
    const client = new Route53Client(offlineClientConfig);
    const wire = cutWire(client, racing);
    const driver = createRoute53Driver({ client, zoneId, ...names, ttl: 5 });
    assert.deepEqual(await driver.apply({ term: 7, writer: c, readers: [b] }), { ok: true, applied: false });
    assert.equal(wire.filter((r) => r.method === 'POST').length, 1, 'one failed batch, then a re-read that sees term 8');
    assert.deepEqual(zone.records.get('writer.db.internal.|A|')?.values, ['10.42.3.10'], 'the failed batch changed nothing');
  });

  test('bad input is refused with the field named, and nothing is sent', async () => {
    const zone = hostedZone(zoneId);
    const d = invocation(zone);
    const result = await d.driver.apply({ term: -1, writer: a, readers: [] });
    assert.equal(result.ok, false);
    assert.match((result as { reason: string }).reason, /term/);
    assert.equal(d.wire.length, 0);
  });

  test('with inSync: the change is reported once GetChange answers INSYNC, with how long that took', async () => {
    const zone = hostedZone(zoneId);
    let polls = 0;
    const respond = (req: WireRequest): WireResponse => {
      if (!req.path.startsWith('/2013-04-01/change/')) return zone.respond(req);
      assert.equal(req.path, '/2013-04-01/change/C1');
      polls++;
      const status = polls < 3 ? 'PENDING' : 'INSYNC';
      return { statusCode: 200, body: `<?xml version="1.0"?><GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C1</Id><Status>${status}</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></GetChangeResponse>` };
    };
    const client = new Route53Client(offlineClientConfig);
    cutWire(client, respond);
    const slept: number[] = [];
    const driver = createRoute53Driver({ client, zoneId, ...names, ttl: 5, inSync: { timeoutMs: 60_000, pollMs: 2_000 }, sleep: async (ms) => void slept.push(ms) });
    assert.deepEqual(await driver.apply({ term: 1, writer: a, readers: [b] }), { ok: true, applied: true, detail: { change: '/change/C1', status: 'INSYNC', waitedMs: 4_000 } });
    assert.deepEqual(slept, [2_000, 2_000]);
  });

  test('with inSync: a change still PENDING at the bound is reported applied, as PENDING (the records are the zone\'s; servers lag)', async () => {
    const zone = hostedZone(zoneId);
    const respond = (req: WireRequest): WireResponse =>
      req.path.startsWith('/2013-04-01/change/')
        ? { statusCode: 200, body: `<?xml version="1.0"?><GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C1</Id><Status>PENDING</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></GetChangeResponse>` }
        : zone.respond(req);
    const client = new Route53Client(offlineClientConfig);
    cutWire(client, respond);
    const driver = createRoute53Driver({ client, zoneId, ...names, ttl: 5, inSync: { timeoutMs: 6_000, pollMs: 2_000 }, sleep: async () => {} });
    assert.deepEqual(await driver.apply({ term: 1, writer: a, readers: [b] }), { ok: true, applied: true, detail: { change: '/change/C1', status: 'PENDING', waitedMs: 6_000 } });
  });

  test('throttled calls are retried after a growing, jittered backoff; past the retries the reason names the throttling', async () => {
    const throttled: WireResponse = {
      statusCode: 400,
      body: '<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>',
    };
    const zone = hostedZone(zoneId);
    let refusals = 3;
    const client = new Route53Client(offlineClientConfig);
    const wire = cutWire(client, (req) => (refusals-- > 0 ? throttled : zone.respond(req)));
    const slept: number[] = [];
    const driver = createRoute53Driver({ client, zoneId, ...names, ttl: 5, sleep: async (ms) => void slept.push(ms), random: () => 1 });
    assert.deepEqual(await driver.apply({ term: 1, writer: a, readers: [b] }), { ok: true, applied: true });
    assert.deepEqual(slept, [200, 400, 800], 'full jitter at its top: base 200 ms, doubling');
    assert.deepEqual(zone.records.get('writer.db.internal.|A|')?.values, ['10.42.3.10']);
    assert.equal(wire.filter((r) => r.method === 'POST').length, 1);

    const always = new Route53Client(offlineClientConfig);
    cutWire(always, () => throttled);
    const giveUp = createRoute53Driver({ client: always, zoneId, ...names, ttl: 5, throttleRetries: 2, sleep: async () => {} });
    const result = await giveUp.apply({ term: 1, writer: a, readers: [b] });
    assert.equal(result.ok, false);
    assert.match((result as { reason: string }).reason, /^route53: Throttling: Rate exceeded/);
  });
});
