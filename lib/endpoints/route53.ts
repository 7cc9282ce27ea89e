import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  type ListResourceRecordSetsCommandOutput,
  ListResourceRecordSetsCommand,
  type Change,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { EndpointChange, EndpointDriver, EndpointResult, EndpointTarget } from './driver.ts';
import { parseEndpointChange } from './proxyRoutes.ts';

export interface Route53DriverOptions {
  client: Route53Client;
  zoneId: string;
  /** e.g. writer.db.internal */
  writerName: string;
  readerName: string;
  /** Seconds; low so clients follow a failover quickly. */
  ttl: number;
  log?: (entry: Record<string, unknown>) => void;
  /**
   * Wait, up to timeoutMs, for the change to be INSYNC (every Route 53 server answers with it:
   * GetChange), polling every pollMs, and report it. AWS says changes generally propagate
   * within 60 s. Absent: the change is reported once Route 53 accepted it (PENDING).
   */
  inSync?: { timeoutMs: number; pollMs: number };
  /**
   * Throttled calls (Route 53 allows 5 requests a second per account, shared with every other
   * tool) are retried after a jittered exponential backoff, this many times. Default 5.
   */
  throttleRetries?: number;
  /** Test seam for the waits; setTimeout by default. */
  sleep?: (ms: number) => Promise<void>;
  /** Test seam for the backoff's jitter; Math.random by default. */
  random?: () => number;
}

/** Route 53's answers when it wants fewer requests: its rate limit, or a change still running. */
const THROTTLED = new Set(['Throttling', 'ThrottlingException', 'PriorRequestNotComplete', 'TooManyRequestsException']);
const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 5_000;

/** The TXT record beside the writer that says which term (and which content) the records hold. */
export function termRecordName(writerName: string): string {
  return `_pgvigil-term.${bare(writerName)}`;
}

function bare(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** Route 53 returns names with a trailing dot and escapes some characters (\052 for *). */
function sameName(a: string | undefined, b: string): boolean {
  return a !== undefined && bare(a.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))) === bare(b);
}

/** A term alone is not enough: the reader set can change within a term. */
function fingerprint(change: EndpointChange): string {
  const key = (t: EndpointTarget) => `${t.name}@${t.host}:${t.port}`;
  const body = JSON.stringify({ w: change.writer ? key(change.writer) : null, r: change.readers.map(key).sort() });
  return createHash('sha256').update(body).digest('hex').slice(0, 16);
}

interface TermMark {
  term: number;
  fp: string;
  record: ResourceRecordSet;
}

function parseMark(record: ResourceRecordSet | undefined): TermMark | null {
  const value = record?.ResourceRecords?.[0]?.Value;
  const m = value?.match(/^"term=(\d+) fp=([0-9a-f]+)"$/);
  return record && m ? { term: Number(m[1]), fp: m[2]!, record } : null;
}

const recordType = (host: string) => (isIPv4(host) ? 'A' : 'CNAME');

function sameRecord(a: ResourceRecordSet, b: ResourceRecordSet): boolean {
  const values = (r: ResourceRecordSet) => (r.ResourceRecords ?? []).map((v) => v.Value).sort().join(',');
  return a.Type === b.Type && (a.SetIdentifier ?? '') === (b.SetIdentifier ?? '') && a.TTL === b.TTL && (a.Weight ?? -1) === (b.Weight ?? -1) && values(a) === values(b);
}

/** Which records the change wants: the writer, one weighted record per reader, the term mark. */
function wanted(change: EndpointChange, opts: Route53DriverOptions): { writer: ResourceRecordSet[]; reader: ResourceRecordSet[]; mark: ResourceRecordSet } | { reason: string } {
  const { writerName, readerName, ttl } = opts;
  const writer: ResourceRecordSet[] = change.writer
    ? [{ Name: bare(writerName), Type: recordType(change.writer.host), TTL: ttl, ResourceRecords: [{ Value: change.writer.host }] }]
    : [];
  // As the proxy does: with no reader listed, the writer serves reads.
  const readers = change.readers.length > 0 ? change.readers : change.writer ? [change.writer] : [];
  const types = new Set(readers.map((r) => recordType(r.host)));
  if (types.size > 1) return { reason: 'route53: readers mix IP addresses and host names; weighted records of one name must share a type: use one kind for every node host' };
  const reader: ResourceRecordSet[] = readers.map((r) => ({
    Name: bare(readerName),
    Type: recordType(r.host),
    SetIdentifier: r.name,
    Weight: 1,
    TTL: ttl,
    ResourceRecords: [{ Value: r.host }],
  }));
  const mark: ResourceRecordSet = {
    Name: termRecordName(writerName),
    Type: 'TXT',
    TTL: ttl,
    ResourceRecords: [{ Value: `"term=${change.term} fp=${fingerprint(change)}"` }],
  };
  return { writer, reader, mark };
}

/** DELETE what exists and is not wanted (or differs in type/identity), UPSERT what is wanted and differs. */
function diff(current: ResourceRecordSet[], desired: ResourceRecordSet[]): Change[] {
  const id = (r: ResourceRecordSet) => `${r.Type}/${r.SetIdentifier ?? ''}`;
  const desiredIds = new Set(desired.map(id));
  const changes: Change[] = current.filter((r) => !desiredIds.has(id(r))).map((r) => ({ Action: 'DELETE', ResourceRecordSet: r }));
  for (const d of desired) {
    const c = current.find((r) => id(r) === id(d));
    if (!c || !sameRecord(c, d)) changes.push({ Action: 'UPSERT', ResourceRecordSet: d });
  }
  return changes;
}

/**
 * Writer and reader endpoints as Route 53 records in a private hosted zone. Idempotent and
 * term-tagged across Lambda invocations: the TXT record `_pgvigil-term.<writer>` holds the
 * term and a fingerprint of what was applied, is read before every write, and is replaced
 * by DELETE-old + CREATE-new in the same atomic change batch, so a concurrent writer with
 * a stale view fails the batch instead of overwriting a newer term.
 */
export function createRoute53Driver(opts: Route53DriverOptions): EndpointDriver {
  const log = opts.log ?? (() => {});
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = opts.random ?? Math.random;
  const retries = opts.throttleRetries ?? 5;
  let last: { term: number; fp: string } | null = null;

  /** One call, retried while Route 53 throttles: full jitter, so clusters failing over together spread out. */
  async function send<T>(command: GetChangeCommand | ListResourceRecordSetsCommand | ChangeResourceRecordSetsCommand, what: string): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await opts.client.send(command as never)) as T;
      } catch (e) {
        const name = (e as Error).name;
        if (!THROTTLED.has(name) || attempt >= retries) throw e;
        const waitMs = Math.round(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));
        log({ event: 'endpoints.route53.throttled', call: what, error: name, attempt: attempt + 1, waitMs });
        await sleep(waitMs);
      }
    }
  }

  /** Poll GetChange until INSYNC or the bound; what clients can expect, for the history. */
  async function waitInSync(changeId: string | undefined): Promise<Record<string, unknown>> {
    if (!opts.inSync || !changeId) return {};
    let waitedMs = 0;
    for (;;) {
      const out = await send<{ ChangeInfo?: { Status?: string } }>(new GetChangeCommand({ Id: changeId }), 'GetChange');
      const status = out.ChangeInfo?.Status ?? 'UNKNOWN';
      if (status === 'INSYNC' || waitedMs >= opts.inSync.timeoutMs) return { change: changeId, status, waitedMs };
      await sleep(opts.inSync.pollMs);
      waitedMs += opts.inSync.pollMs;
    }
  }

  async function recordsNamed(name: string): Promise<ResourceRecordSet[]> {
    const out: ResourceRecordSet[] = [];
    let start: { name: string; type?: string; id?: string } | null = { name: bare(name) };
    while (start) {
      const page: ListResourceRecordSetsCommandOutput = await send<ListResourceRecordSetsCommandOutput>(
        new ListResourceRecordSetsCommand({
          HostedZoneId: opts.zoneId,
          StartRecordName: start.name,
          ...(start.type ? { StartRecordType: start.type as ResourceRecordSet['Type'] } : {}),
          ...(start.id ? { StartRecordIdentifier: start.id } : {}),
          MaxItems: 100,
        }),
        'ListResourceRecordSets',
      );
      const sets = page.ResourceRecordSets ?? [];
      out.push(...sets.filter((r) => sameName(r.Name, name)));
      // Listing is sorted by name: once another name shows up, ours are all read.
      const more: boolean = !!page.IsTruncated && sets.every((r) => sameName(r.Name, name)) && page.NextRecordName !== undefined;
      start = more ? { name: page.NextRecordName!, type: page.NextRecordType, id: page.NextRecordIdentifier } : null;
    }
    return out;
  }

  async function attempt(change: EndpointChange, fp: string): Promise<EndpointResult | 'conflict'> {
    const markSets = await recordsNamed(termRecordName(opts.writerName));
    const mark = parseMark(markSets.find((r) => r.Type === 'TXT'));
    if (mark && (mark.term > change.term || (mark.term === change.term && mark.fp === fp))) {
      last = { term: mark.term, fp: mark.fp };
      log({ event: 'endpoints.route53.skip', term: change.term, recordedTerm: mark.term, reason: mark.term > change.term ? 'older term' : 'already applied' });
      return { ok: true, applied: false };
    }
    const want = wanted(change, opts);
    if ('reason' in want) return { ok: false, reason: want.reason };
    const [writerNow, readerNow] = await Promise.all([recordsNamed(opts.writerName), recordsNamed(opts.readerName)]);
    const changes: Change[] = [
      ...diff(writerNow.filter((r) => r.Type === 'A' || r.Type === 'CNAME'), want.writer),
      ...diff(readerNow.filter((r) => r.SetIdentifier !== undefined), want.reader),
      // The compare-and-swap on the term mark.
      ...(mark ? [{ Action: 'DELETE' as const, ResourceRecordSet: mark.record }] : []),
      { Action: 'CREATE', ResourceRecordSet: want.mark },
    ];
    let changeId: string | undefined;
    try {
      const out = await send<{ ChangeInfo?: { Id?: string } }>(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: opts.zoneId,
          ChangeBatch: { Comment: `pgvigil term ${change.term}`, Changes: changes },
        }),
        'ChangeResourceRecordSets',
      );
      changeId = out.ChangeInfo?.Id;
    } catch (e) {
      if ((e as Error).name === 'InvalidChangeBatch') return 'conflict';
      throw e;
    }
    last = { term: change.term, fp };
    log({ event: 'endpoints.route53.applied', term: change.term, writer: change.writer?.name ?? null, readers: change.readers.map((r) => r.name), changes: changes.length });
    // The records are the zone's now; INSYNC says every Route 53 server answers with them.
    const synced = await waitInSync(changeId);
    if (Object.keys(synced).length > 0) log({ event: 'endpoints.route53.propagated', term: change.term, ...synced });
    return Object.keys(synced).length > 0 ? { ok: true, applied: true, detail: synced } : { ok: true, applied: true };
  }

  return {
    kind: 'route53',
    async apply(input: EndpointChange): Promise<EndpointResult> {
      const parsed = parseEndpointChange(input);
      if (!parsed.ok) return parsed;
      const change = parsed.value;
      const fp = fingerprint(change);
      if (last && (change.term < last.term || (change.term === last.term && fp === last.fp))) return { ok: true, applied: false };
      try {
        // A conflict means another invocation changed the records between our read and write: read again.
        for (let i = 0; i < 3; i++) {
          const result = await attempt(change, fp);
          if (result !== 'conflict') return result;
          log({ event: 'endpoints.route53.conflict', term: change.term, attempt: i + 1 });
        }
        return { ok: false, reason: `route53: records in zone ${opts.zoneId} kept changing under term ${change.term}: another pgvigil writer is active; retry` };
      } catch (e) {
        const err = e as Error;
        return { ok: false, reason: `route53: ${err.name}: ${err.message} (zone ${opts.zoneId})` };
      }
    },
    async close() {},
  };
}
