import { z } from 'zod';
import { NodeObservation } from './observation.ts';
import { ClusterSpec, NodeName, NodeSpec } from './spec.ts';

/** Time enters the domain only here, on the command. */
const base = { now: z.number() };

/**
 * What decide is asked. `probeRound` follows a probe round; `tick` is the clock
 * passing. Both carry the latest observation of every node the store holds.
 */
const requestedBy = z.string().min(1);
const observations = z.array(NodeObservation);

const Initialize = z.object({ ...base, type: z.literal('initialize'), spec: ClusterSpec, primary: NodeName });
const ProbeRound = z.object({ ...base, type: z.literal('probeRound'), observations });
const Tick = z.object({ ...base, type: z.literal('tick'), observations });
/** The promotion's deadline (issue 13 item 4), 1 s to 1 day; absent: SWITCHOVER_TIMEOUT_MS. */
export const SwitchoverTimeoutMs = z.number().int().min(1_000, 'a switchover deadline is at least 1 s').max(86_400_000, 'a switchover deadline is at most 1 day');
export const SWITCHOVER_TIMEOUT_MS = 60_000;
const Switchover = z.object({ ...base, type: z.literal('switchover'), to: NodeName.nullable(), timeoutMs: SwitchoverTimeoutMs.optional(), requestedBy, observations });
const Failover = z.object({ ...base, type: z.literal('failover'), to: NodeName, force: z.boolean(), requestedBy, observations });
const Pause = z.object({ ...base, type: z.literal('pause'), requestedBy });
const Resume = z.object({ ...base, type: z.literal('resume'), requestedBy });
const AddNode = z.object({ ...base, type: z.literal('addNode'), node: NodeSpec, requestedBy });
const RemoveNode = z.object({ ...base, type: z.literal('removeNode'), node: NodeName, requestedBy });
const Rejoin = z.object({ ...base, type: z.literal('rejoin'), node: NodeName, requestedBy });
/** Issue 13 item 1: end the failover in progress, stopping its candidate first; `reason` goes into history. */
const Abort = z.object({ ...base, type: z.literal('abort'), reason: z.string().trim().min(1, 'say why the failover is aborted (--reason TEXT): it goes into history'), requestedBy });
const ActionResult = z.object({
  ...base,
  type: z.literal('actionResult'),
  intentId: z.string(),
  ok: z.boolean(),
  reason: z.string(),
  detail: z.record(z.string(), z.unknown()).default({}),
});
/** A node's agent died and its supervisor started it again (systemd's Restart=always, or pgvigil up's). */
const AgentRestarted = z.object({
  ...base,
  type: z.literal('agentRestarted'),
  node: NodeName,
  /** How the agent ended: its exit code, or the signal that killed it. */
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  /** Restarts since the supervisor began, this one included. */
  restarts: z.number().int().min(1),
  /** The supervisor's account: how long it had run, the back-off, that it answers again. */
  reason: z.string().min(1),
});

export const Command = z.discriminatedUnion('type', [
  Initialize,
  ProbeRound,
  Tick,
  Switchover,
  Failover,
  Pause,
  Resume,
  AddNode,
  RemoveNode,
  Rejoin,
  Abort,
  ActionResult,
  AgentRestarted,
]);
export type Command = z.infer<typeof Command>;
export type CommandInput = z.input<typeof Command>;
export type CommandOf<T extends Command['type']> = Extract<Command, { type: T }>;

/** Commands whose decision depends on what the probes see: the caller sends them without, the control plane adds the latest. */
type Observing = Extract<Command, { observations: NodeObservation[] }>;
/** A command as a caller sends it: the observations are read by the control plane. */
export type CommandWithoutObservations = Command extends infer C ? (C extends Observing ? Omit<C, 'observations'> : C) : never;

const OBSERVING: ReadonlySet<Command['type']> = new Set(['probeRound', 'tick', 'switchover', 'failover']);
export function needsObservations(command: CommandWithoutObservations): boolean {
  return OBSERVING.has(command.type);
}

/**
 * What an operator may send to decide (the CLI, or a direct Lambda invoke): the operator
 * commands of `Command`, without observations.
 */
export const OperatorCommand = z.discriminatedUnion('type', [
  Switchover.omit({ observations: true }),
  Failover.omit({ observations: true }),
  Pause,
  Resume,
  AddNode,
  RemoveNode,
  Rejoin,
  Abort,
]);
export type OperatorCommand = z.infer<typeof OperatorCommand>;
