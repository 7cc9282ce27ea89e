import { existsSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { Command } from 'commander';
import { commitCommand } from '../control/commitCommand.ts';
import type { CommandWithoutObservations } from '../domain/commands.ts';
import type { ClusterState } from '../domain/state.ts';
import { loadState } from '../store/loadState.ts';
import { closeStore, createStore, type Store } from '../store/store.ts';
import { parseStoreConfig } from '../store/storeConfig.ts';
import { fail } from './cliErrors.ts';
import { decideRequest, invokeDecide, type SubmitOutcome } from './decideInvoke.ts';

export interface TargetOptions {
  workdir: string;
  cluster?: string;
  table?: string;
  region?: string;
  decideFunction?: string;
}

/** Where a command reads the log from and sends operator commands to: local mode or AWS. */
export interface ClusterTarget {
  cluster: string;
  store: Store;
  /** How to reach it again, for hints in messages. */
  flags: string;
  submit(command: CommandWithoutObservations): Promise<SubmitOutcome>;
  /** The folded log; exits with a message when the store doesn't answer or the cluster has no spec. */
  state(): Promise<ClusterState>;
  close(): void;
}

/** The options every command that talks to a cluster takes. */
export function withTargetOptions(cmd: Command): Command {
  return cmd
    .option('--workdir <dir>', 'local mode: the work dir of a running `pgvigil up`', '.pgvigil')
    .option('--table <name>', 'AWS mode: the DynamoDB table of the stack (reads go there)')
    .option('--region <region>', 'AWS mode: the table\'s region (default: AWS_REGION)')
    .option('--cluster <name>', 'the cluster name (local mode: local)')
    .option('--decide-function <name>', 'AWS mode: the decide Lambda for operator commands (default: PGVIGIL_DECIDE_FUNCTION)');
}

/** Who asked, as the decision log records it. */
export function requester(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep 'unknown'
  }
  return `${user}@${hostname()} (pgvigil cli)`;
}

const quietLog = () => {};

export function openTarget(o: TargetOptions): ClusterTarget {
  if (o.table !== undefined) return openAws(o);
  const workDir = resolve(o.workdir);
  const file = join(workDir, 'store.json');
  const start = `start it with: pgvigil up --workdir ${o.workdir}  (or pass the --workdir of the running one)`;
  if (!existsSync(file)) fail(`no local cluster in ${workDir}: ${file} is missing`, start, 1);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    fail(`${file} is not JSON (${(e as Error).message})`, `remove it and ${start}`, 1);
  }
  const config = parseStoreConfig(raw);
  if (!config.ok) fail(config.reason, `remove ${file} and ${start}`, 1);
  const store = createStore(config.value, quietLog);
  const cluster = o.cluster ?? 'local';
  const flags = `--workdir ${o.workdir}`;
  return {
    cluster,
    store,
    flags,
    submit: (command) => commitCommand(store, cluster, command),
    state: () => stateOrExit(store, cluster, `is pgvigil up running? ${start}`),
    close: () => closeStore(store),
  };
}

function openAws(o: TargetOptions): ClusterTarget {
  const region = o.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'];
  if (!region) fail('--table needs a region', 'pass --region, e.g. --region eu-west-1, or set AWS_REGION');
  if (!o.cluster) fail('--table needs --cluster NAME', 'pass the cluster name of the spec, e.g. --cluster orders');
  const config = parseStoreConfig({ table: o.table, region });
  if (!config.ok) fail(config.reason, 'pass the table name the stack outputs (--table)');
  const store = createStore(config.value, quietLog);
  const cluster = o.cluster;
  const fn = o.decideFunction ?? process.env['PGVIGIL_DECIDE_FUNCTION'];
  let lambda: LambdaClient | null = null;
  return {
    cluster,
    store,
    flags: `--table ${o.table} --region ${region} --cluster ${cluster}`,
    async submit(command) {
      if (!fn) fail('operator commands in AWS mode go to the decide function, and none is named', 'pass --decide-function NAME or set PGVIGIL_DECIDE_FUNCTION (a stack output)');
      lambda ??= new LambdaClient({ region });
      return invokeDecide(lambda, fn, decideRequest(cluster, command));
    },
    state: () => stateOrExit(store, cluster, 'check the table name, region and AWS credentials'),
    close() {
      closeStore(store);
      lambda?.destroy();
    },
  };
}

async function stateOrExit(store: Store, cluster: string, next: string): Promise<ClusterState> {
  const loaded = await loadState(store, cluster);
  if (!loaded.ok) {
    if (/unreachable/.test(loaded.reason)) fail(`the store does not answer (${store.where})`, next, 1);
    fail(loaded.reason, next, 1);
  }
  if (loaded.state.spec === null) fail(`cluster ${cluster} has no decisions in ${store.where}: it is not initialized`, 'check --cluster, or start it with pgvigil up', 1);
  return loaded.state;
}
