import { z } from 'zod';
import { NodeName, NodeSpec } from '../domain/spec.ts';

/** The operator commands the CLI may send to decide; observations are read by decide itself. */
const by = { now: z.number(), requestedBy: z.string().min(1) };
export const CommandWithoutObservationsSchema = z.discriminatedUnion('type', [
  z.object({ ...by, type: z.literal('switchover'), to: NodeName.nullable() }),
  z.object({ ...by, type: z.literal('failover'), to: NodeName, force: z.boolean() }),
  z.object({ ...by, type: z.literal('pause') }),
  z.object({ ...by, type: z.literal('resume') }),
  z.object({ ...by, type: z.literal('addNode'), node: NodeSpec }),
  z.object({ ...by, type: z.literal('removeNode'), node: NodeName }),
  z.object({ ...by, type: z.literal('rejoin'), node: NodeName }),
]);
export type OperatorCommand = z.infer<typeof CommandWithoutObservationsSchema>;
