import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DecisionEvent } from '../domain/events.ts';
import type { NodeObservation } from '../domain/observation.ts';
import type { ClusterSpec } from '../domain/spec.ts';
import type { CommitResult } from '../store/commitDecision.ts';

/** The CloudWatch namespace the alarms read (cdk/alarms.ts). */
export const METRICS_NAMESPACE = 'pgvigil';

/** What the control plane counts for the alarms; a count per cluster. */
export interface ControlMetrics {
  /** Probe rounds that saw no node of the cluster, or could not reach the store. */
  probesBlind(cluster: string, rounds: number): void;
  /** FailoverStarted events appended to the cluster's decision log. */
  failoverStarted(cluster: string, count: number): void;
  /**
   * One probe round, as it ran: what it saw and how long it took. Prometheus only (local
   * mode): EMF publishes no per-round document, as one every probe interval would flood the logs.
   */
  probeRound?(spec: ClusterSpec, round: ProbeRoundFigures): void;
  /**
   * One decide run: its command, how it ended, and the events it appended (none when refused).
   * EMF publishes only failover outcomes and failed runs; Prometheus counts every run.
   */
  decideRun?(cluster: string, run: DecideRunFigures): void;
  /** The control plane cannot read the store or the log (true), or can again (false). Prometheus only. */
  storeTrouble?(cluster: string, troubled: boolean): void;
}

export interface ProbeRoundFigures {
  seconds: number;
  observations: readonly NodeObservation[];
  /** The store could not be read or written this round. */
  storeError: boolean;
}

export interface DecideRunFigures {
  /** The command's type: probeRound, tick, switchover, … */
  command: string;
  /** appended: events were written; unchanged: nothing to write; refused: decide said no; failed: the log or store let it down. */
  outcome: 'appended' | 'unchanged' | 'refused' | 'failed';
  events: readonly DecisionEvent[];
  /** The cluster's term after the run, when it succeeded. */
  term: number | null;
}

export function decideRunFigures(command: string, committed: CommitResult): DecideRunFigures {
  if (committed.ok) return { command, outcome: committed.events.length > 0 ? 'appended' : 'unchanged', events: committed.events, term: committed.state.term };
  return { command, outcome: committed.refused && !committed.unreadable?.length ? 'refused' : 'failed', events: [], term: null };
}

/** Local mode and tests: nothing is published. */
export const noMetrics: ControlMetrics = { probesBlind: () => {}, failoverStarted: () => {} };

/** One EMF document per line; on Lambda, stdout is where CloudWatch picks them up. */
export type EmfSink = (line: string) => void;

const stdoutSink: EmfSink = (line) => {
  process.stdout.write(`${line}\n`);
};

/**
 * CloudWatch embedded metric format, built by Powertools, one document per count so each
 * carries its own cluster dimension. `deployment` (the stack, PGVIGIL_DEPLOYMENT) is one more
 * dimension, so the alarms of two stacks in one account and region each count their own.
 * The sink is injectable so tests read the documents.
 */
export function emfMetrics(service: string, sink: EmfSink = stdoutSink, deployment?: string): ControlMetrics {
  const emit = (name: EmfName, cluster: string, value: number, unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Count) => {
    if (!(value > 0)) return;
    const m = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service, singleMetric: false });
    m.addDimension('cluster', cluster);
    if (deployment) m.addDimension('deployment', deployment);
    m.addMetric(name, unit, value);
    sink(JSON.stringify(m.serializeMetrics()));
  };
  return {
    probesBlind: (cluster, rounds) => emit('ProbesBlind', cluster, rounds),
    failoverStarted: (cluster, count) => emit('FailoverStarted', cluster, count),
    // Only runs that changed something or failed: a document per quiet run would flood the logs.
    decideRun(cluster, run) {
      if (run.outcome === 'failed') emit('DecideFailed', cluster, 1);
      for (const [type, name] of EMF_OUTCOMES) emit(name, cluster, run.events.filter((e) => e.type === type).length);
      for (const seconds of failoverSeconds(run.events)) emit('FailoverSeconds', cluster, seconds, MetricUnit.Seconds);
    },
  };
}

type EmfName = 'ProbesBlind' | 'FailoverStarted' | 'FailoverCompleted' | 'FailoverAborted' | 'FailoverImpossible' | 'DecideFailed' | 'FailoverSeconds';

/**
 * How long each completed change of primary took, in seconds: from the decision to start it
 * (FailoverStarted) to the endpoints' move (FailoverCompleted), both on the log's clock. The
 * detection before it (the failure threshold's probe rounds) is not in it. Older logs: none.
 */
export function failoverSeconds(events: readonly DecisionEvent[]): number[] {
  return events.flatMap((e) => (e.type === 'FailoverCompleted' && e.startedAt !== undefined ? [Math.max(0, e.at - e.startedAt) / 1000] : []));
}
/** How each failover ends, as the Prometheus pgvigil_failovers_total{outcome} counts it (FailoverStarted has its own method). */
const EMF_OUTCOMES: ReadonlyArray<readonly [DecisionEvent['type'], EmfName]> = [
  ['FailoverCompleted', 'FailoverCompleted'],
  ['FailoverAborted', 'FailoverAborted'],
  ['FailoverImpossible', 'FailoverImpossible'],
];

/**
 * EMF only inside a Lambda invocation (the runtime sets AWS_LAMBDA_FUNCTION_NAME): the same
 * handlers called locally or in tests must not print metric documents.
 */
export function metricsForRuntime(service: string, env: NodeJS.ProcessEnv = process.env, sink?: EmfSink): ControlMetrics {
  return env['AWS_LAMBDA_FUNCTION_NAME'] ? emfMetrics(service, sink, env['PGVIGIL_DEPLOYMENT']) : noMetrics;
}
