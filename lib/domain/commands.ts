import { z } from 'zod';
import { NodeObservation } from './observation.ts';
import { ClusterSpec, NodeName, NodeSpec } from './spec.ts';

/** Time enters the domain only here, on the command. */
const base = { now: z.number() };

/**
 * What decide is asked. `probeRound` follows a probe round; `tick` is the clock
 * passing. Both carry the latest observation of every node the store holds.
 */
export const Command = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('initialize'), spec: ClusterSpec, primary: NodeName }),
  z.object({ ...base, type: z.literal('probeRound'), observations: z.array(NodeObservation) }),
  z.object({ ...base, type: z.literal('tick'), observations: z.array(NodeObservation) }),
  z.object({
    ...base,
    type: z.literal('switchover'),
    to: NodeName.nullable(),
    requestedBy: z.string().min(1),
    observations: z.array(NodeObservation),
  }),
  z.object({
    ...base,
    type: z.literal('failover'),
    to: NodeName,
    force: z.boolean(),
    requestedBy: z.string().min(1),
    observations: z.array(NodeObservation),
  }),
  z.object({ ...base, type: z.literal('pause'), requestedBy: z.string().min(1) }),
  z.object({ ...base, type: z.literal('resume'), requestedBy: z.string().min(1) }),
  z.object({ ...base, type: z.literal('addNode'), node: NodeSpec, requestedBy: z.string().min(1) }),
  z.object({ ...base, type: z.literal('removeNode'), node: NodeName, requestedBy: z.string().min(1) }),
  z.object({ ...base, type: z.literal('rejoin'), node: NodeName, requestedBy: z.string().min(1) }),
  z.object({
    ...base,
    type: z.literal('actionResult'),
    intentId: z.string(),
    ok: z.boolean(),
    reason: z.string(),
    detail: z.record(z.string(), z.unknown()).default({}),
  }),
]);
export type Command = z.infer<typeof Command>;
export type CommandInput = z.input<typeof Command>;
export type CommandOf<T extends Command['type']> = Extract<Command, { type: T }>;
