import { marshall } from '@aws-sdk/util-dynamodb';
import type { NodeObservation } from '../../lib/domain/observation.ts';
import { observationKey } from '../../lib/store/sortKeys.ts';

/** The account, region and stream the handler tests pretend to run in. */
export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
const STREAM_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/pgvigil/stream/2026-11-24T00:00:00.000`;

/** EventBridge's scheduled event, as the one-minute rules deliver it. */
export function scheduledEvent(rule: string) {
  return {
    version: '0',
    id: `sched-${rule}-${Date.now()}`,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: ACCOUNT,
    time: new Date().toISOString(),
    region: REGION,
    resources: [`arn:aws:events:${REGION}:${ACCOUNT}:rule/pgvigil-${rule}`],
    detail: {},
  };
}

let seqNo = 1000;
/** One DynamoDB stream record as Lambda delivers it (StreamViewType NEW_IMAGE); sequence numbers grow in the order records are made. */
export function streamRecord(item: Record<string, unknown>, eventName: 'INSERT' | 'MODIFY' = 'INSERT') {
  const image = marshall(item, { removeUndefinedValues: true });
  const keys: Record<string, unknown> = { cluster: image['cluster'], sk: image['sk'] };
  const n = seqNo++;
  return {
    eventID: `ev-${n}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: REGION,
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: keys,
      NewImage: image,
      SequenceNumber: `${n}00000000000000000000`,
      SizeBytes: JSON.stringify(image).length,
      StreamViewType: 'NEW_IMAGE',
    },
    eventSourceARN: STREAM_ARN,
  };
}

/** The stored item an observation was written as (the prober's key and TTL), for its stream record. */
export const observationItem = (o: NodeObservation) => ({ ...o, sk: observationKey(o.at, o.node, o.prober), expiresAt: Math.ceil(o.at / 1000) + 86_400 });

/** A Lambda context with this much of its timeout left: the probe loop stops 5 s before the end. */
export const lambdaContext = (remainingMs: number, requestId: string) => {
  const end = Date.now() + remainingMs;
  return { awsRequestId: requestId, getRemainingTimeInMillis: () => end - Date.now() };
};
