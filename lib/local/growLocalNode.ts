import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { agentTargetOf, callAgent } from '../agent/agentClient.ts';
import { leaseRenewEveryMs } from '../agent/lease.ts';
import { peerOf } from '../agent/actions/wire.ts';
import { parseWith } from '../domain/parse.ts';
import { runPg } from '../postgres/pgCommand.ts';
import { commitCommand } from '../control/commitCommand.ts';
import { ClusterSpec, NodeName, NodeSpec, NodeTags } from '../domain/spec.ts';
import { loadState } from '../store/loadState.ts';
import { closeStore, createStore } from '../store/store.ts';
import { bundleAgent } from './agentBundle.ts';
import { prepareLocalAgent } from './agentProcesses.ts';
import { isPortFree } from '../postgres/freePort.ts';
import { readLocalWorkDir } from './localWorkDir.ts';
import { localPorts } from './localPorts.ts';
import { ensurePgOsUser } from '../postgres/osUser.ts';
import { findPgBinaries } from '../postgres/pgBinaries.ts';
import { slotName } from '../postgres/standbyConf.ts';
import { sqlOnce } from '../postgres/sqlOnce.ts';
import { chooseStandbySource } from './standbySource.ts';
import { applySynchronousStandbyNames, waitSynchronousStandbyNames } from './syncStandbyNames.ts';

export interface GrowOptions {
  /** The work dir of a running `pgvigil up`. */
  workDir: string;
  cluster?: string;
  /** Default: pgN, the next free node number. */
  name?: string;
  /** The standby to copy from; default: the first streaming standby. Never the primary. */
  from?: string;
  tags?: z.input<typeof NodeTags>;
  requestedBy: string;
  onProgress?: (step: string) => void;
  /** How long the new node may take to catch up with the primary once it streams. */
  catchUpMs?: number;
}

export type GrowOutcome =
  | {
      ok: true;
      node: NodeSpec;
      source: string;
      upstream: string;
      seq: number;
      basebackupMs: number | null;
      synchronousStandbyNames: string;
    }
  | { ok: false; reason: string };

/**
 * Local mode's `pgvigil grow`: a new standby copied from a standby (so the primary serves no
 * base backup) by its own agent's clone action, streaming from the primary through its own
 * slot; registered with addNode once it has caught up; then listed in
 * synchronous_standby_names on every node. The agent started here is stopped before the
 * node is registered: the running `pgvigil up` adopts the node (its agent and server) when
 * it sees NodeAdded. A failure before registration removes what was made.
 */
export async function growLocalNode(o: GrowOptions): Promise<GrowOutcome> {
  const progress = o.onProgress ?? (() => {});
  const files = readLocalWorkDir(o.workDir);
  if (!files.ok) return files;
  const { workDir, storeConfig, agentKey, agentCa } = files.value;
  const cluster = o.cluster ?? 'local';
  const store = createStore(storeConfig, () => {});
  try {
    const loaded = await loadState(store, cluster);
    if (!loaded.ok) return { ok: false, reason: `the store does not answer (${loaded.reason}): is pgvigil up running?` };
    const { spec, primary, failover } = loaded.state;
    if (spec === null || primary === null) return { ok: false, reason: `cluster ${cluster} is not initialized: start it with pgvigil up` };
    if (failover) return { ok: false, reason: `a ${failover.kind} to ${failover.to} is in progress: grow the cluster once it is done (pgvigil status)` };
    const primaryNode = spec.nodes.find((n) => n.name === primary)!;

    const slots = nextSlot(spec);
    if (!slots) return { ok: false, reason: 'no free node number below 100 in this local cluster' };
    const name = o.name ?? slots.name;
    const validName = parseWith(NodeName, name, `--name ${name}`);
    if (!validName.ok) return validName;
    if (spec.nodes.some((n) => n.name === name)) return { ok: false, reason: `--name ${name}: the cluster already has a node of that name (pgvigil status)` };
    const dataDir = join(workDir, name);
    if (existsSync(dataDir)) return { ok: false, reason: `${dataDir} already exists: remove it, or pick another --name` };
    for (const port of [slots.pg, slots.agent]) {
      if (!(await isPortFree(port))) return { ok: false, reason: `port ${port} is taken by another process: free it and retry` };
    }
    const tags = parseWith(NodeTags, o.tags ?? {}, 'tags');
    if (!tags.ok) return tags;
    const node: NodeSpec = { name, host: '127.0.0.1', port: slots.pg, agent: `${agentCa !== undefined ? 'https' : 'http'}://127.0.0.1:${slots.agent}`, tags: tags.value };
    // Refused here, not after the copy: the spec with the node must still be valid.
    const next = parseWith(ClusterSpec, { ...spec, nodes: [...spec.nodes, node] }, `the spec would be invalid with ${name}`);
    if (!next.ok) return next;

    const source = await chooseStandbySource(spec, primary, o.from);
    if (!source.ok) return source;

    const bins = findPgBinaries();
    if (!bins.ok) return bins;
    const osUser = ensurePgOsUser();
    const bundled = join(workDir, 'pgvigil-agent.mjs');
    const agentScript = existsSync(bundled) ? bundled : await bundleAgent(workDir);
    const agent = await prepareLocalAgent({
      cluster,
      node: { name, host: '127.0.0.1', port: slots.pg, dataDir },
      port: slots.agent,
      bindir: bins.bindir,
      osUser: osUser?.name ?? null,
      workDir,
      store: storeConfig,
      agentScript,
      lease: { ttlMs: spec.timing.leaseTtlMs, renewEveryMs: leaseRenewEveryMs(spec.timing.leaseTtlMs) },
    });
    const undo = async () => {
      await runPg(bins.bindir, 'pg_ctl', ['stop', '-w', '-t', '30', '-m', 'fast', '-D', dataDir], { osUser, timeoutMs: 40_000 });
      await rm(dataDir, { recursive: true, force: true });
      await rm(join(workDir, 'agents', name), { recursive: true, force: true });
      await sqlOnce(primaryNode.port, 'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slotName(name)]).catch(() => {});
    };

    progress(`starting the agent of ${name} on port ${slots.agent}`);
    let basebackupMs: number | null = null;
    try {
      await agent.start();
      progress(`copying ${source.node.name} into ${dataDir} (pg_basebackup from the standby), then streaming from ${primary}`);
      // The term of the log: clone overwrites a data directory, so it is fenced by term like the rest.
      const cloned = await callAgent(
        agentTargetOf(cluster, node, agentCa),
        agentKey,
        'clone',
        { term: loaded.state.term, source: peerOf(source.node), upstream: peerOf(primaryNode), slot: slotName(name), streamWaitMs: 30_000 },
        { timeoutMs: 30 * 60_000 },
      );
      if (!cloned.ok) {
        await undo();
        return { ok: false, reason: `clone of ${source.node.name} into ${name} failed: ${cloned.reason}` };
      }
      basebackupMs = cloned.basebackupMs ?? null;
      progress(`${name} streams from ${primary}; waiting for it to catch up`);
      const caughtUp = await waitCaughtUp(primaryNode.port, name, o.catchUpMs ?? 60_000);
      if (!caughtUp) {
        await undo();
        return { ok: false, reason: `${name} did not catch up with ${primary} within ${o.catchUpMs ?? 60_000} ms: nothing was registered; retry when the primary is less busy` };
      }
    } catch (e) {
      await undo();
      throw e;
    } finally {
      await agent.stop();
    }

    progress(`registering ${name}`);
    const added = await commitCommand(store, cluster, { type: 'addNode', now: Date.now(), node, requestedBy: o.requestedBy });
    if (!added.ok) {
      await undo();
      return { ok: false, reason: `registering ${name} failed (${added.reason}): its copy was removed` };
    }
    // A caught-up standby may now count towards the commit quorum.
    const sync = await applySynchronousStandbyNames(workDir, next.value, osUser);
    await waitSynchronousStandbyNames(primaryNode.port, sync.value);
    return { ok: true, node, source: source.node.name, upstream: primary, seq: added.seq, basebackupMs, synchronousStandbyNames: sync.value };
  } finally {
    closeStore(store);
  }
}

/** The next node number whose name and ports the spec doesn't use, on the same port pattern as `pgvigil up`. */
function nextSlot(spec: ClusterSpec): { name: string; pg: number; agent: number } | null {
  const base = Math.min(...spec.nodes.map((n) => n.port));
  const usedPorts = new Set(spec.nodes.flatMap((n) => [n.port, Number(new URL(n.agent).port)]));
  const names = new Set(spec.nodes.map((n) => n.name));
  const all = localPorts(base, 100).nodes;
  const free = all.find((p) => !names.has(p.name) && !usedPorts.has(p.pg) && !usedPorts.has(p.agent));
  return free ? { name: free.name, pg: free.pg, agent: free.agent } : null;
}

/** Caught up: the primary lists it as streaming (past catchup). */
async function waitCaughtUp(primaryPort: number, name: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await sqlOnce<{ state: string }>(primaryPort, 'SELECT state FROM pg_stat_replication WHERE application_name = $1', [name]).catch(() => []);
    if (rows.some((r) => r.state === 'streaming')) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
