import { z } from 'zod';
import { Command, OperatorCommand } from '../domain/commands.ts';

/** One DynamoDB stream record as Lambda delivers it; only the keys are needed to know which cluster changed. */
export const StreamRecord = z.object({
  eventID: z.string(),
  dynamodb: z.object({
    Keys: z.object({ cluster: z.object({ S: z.string().min(1) }), sk: z.object({ S: z.string().min(1) }) }),
    NewImage: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type StreamRecord = z.infer<typeof StreamRecord>;

export const StreamBatch = z.object({ Records: z.array(z.unknown()).min(1) });

/** EventBridge's scheduled event: the one-minute probe start and the decide tick. */
export const ScheduledEvent = z.object({ source: z.literal('aws.events'), 'detail-type': z.literal('Scheduled Event') });

/**
 * decide starting the on-wake probe for one cluster: for agents' wakes (which reach decide on the
 * table's stream: a third reader of the stream's shards would be throttled), or for fresh
 * observations before an operator command.
 */
export const PROBE_NOW_SOURCE = 'pgvigil.decide';
export const ProbeNowInvoke = z.object({
  source: z.literal(PROBE_NOW_SOURCE),
  cluster: z.string().min(1),
  reasons: z.array(z.string().max(300)).max(10).default([]),
  /** At most this long (a caller waiting on the answer has a timeout of its own); absent: until settled or the invocation's end. */
  maxMs: z.number().int().min(100).max(60_000).optional(),
});

/** An operator command from the CLI, by Lambda invoke: every write to the log goes through decide. */
export const OperatorInvoke = z.object({
  source: z.literal('pgvigil.cli'),
  cluster: z.string().min(1),
  command: OperatorCommand,
});
export type OperatorInvoke = z.infer<typeof OperatorInvoke>;

/**
 * The backup schedule's EventBridge rule: a constant input, one rule per cluster (cdk/archive.ts).
 * Decide asks a streaming standby's agent for a base backup.
 */
export const ScheduledBackup = z
  .object({
    source: z.literal('pgvigil.schedule'),
    action: z.literal('backup'),
    cluster: z.string({ error: 'give the cluster name' }).min(1, 'give the cluster name'),
  })
  .strict();
export type ScheduledBackup = z.infer<typeof ScheduledBackup>;

/** decide's hand-off of one pending intent to the act function (an asynchronous invoke). act reads the intent itself from the log. */
export const ActInvoke = z
  .object({
    source: z.literal('pgvigil.decide'),
    cluster: z.string({ error: 'give the cluster name' }).min(1, 'give the cluster name'),
    intentId: z.string({ error: 'give the id of a pending intent' }).min(1, 'give the id of a pending intent'),
    /** When the intent was requested: a request asked again after a failure is handed on again, with its own time. */
    requestedAt: z.number({ error: 'requestedAt is the request time in ms since the epoch' }).int().optional(),
  })
  .strict();
export type ActInvoke = z.infer<typeof ActInvoke>;

/** What act sends back to decide: an intent's outcome, committed like any other command. */
export const ActionResultInvoke = z.object({
  source: z.literal('pgvigil.act'),
  cluster: z.string().min(1),
  command: Command.refine((c) => c.type === 'actionResult', { message: 'act sends only actionResult commands' }),
});
export type ActionResultInvoke = z.infer<typeof ActionResultInvoke>;
