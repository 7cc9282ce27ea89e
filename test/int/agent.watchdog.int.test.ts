import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decide } from '../../lib/domain/decide.ts';
import { ClusterSpec } from '../../lib/domain/spec.ts';
import { commitDecision } from '../../lib/store/commitDecision.ts';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { startDynalite, type DynaliteServer } from '../../lib/local/dynaliteServer.ts';
import { bundleAgent } from '../../lib/local/agentBundle.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { readLeases } from '../../lib/store/leases.ts';
import { closeStore, createStore } from '../../lib/store/store.ts';
import { ensureTable } from '../../lib/store/table.ts';
import { SELF_FENCE_PREFIX } from '../../lib/agent/lease.ts';
import { startProcessAgent, watchdogStatus, type ProcessAgent } from '../support/processAgent.ts';
import { waitFor } from '../support/waitFor.ts';

const BASE = 31540;
const AGENT_PORT = 31550;
const DYNALITE_PORT = 31590;
const TTL_MS = 1_500;
const RENEW_MS = 250;
const storeConfig = { table: 'pgvigil-watchdog-test', region: 'us-east-1', endpoint: `http://127.0.0.1:${DYNALITE_PORT}` };

/**
 * The watchdog on real PostgreSQL: agents run as processes of their own (the shipped bundle),
 * so a test can SIGSTOP one while its watchdog process goes on. No /dev/watchdog here: the
 * device is configured at a path that does not exist, so only its "unavailable" path runs.
 */
describe('agent watchdog (real PostgreSQL, dynalite, agents as processes)', () => {
  let workDir: string;
  let bundle: string;
  let cluster: LocalCluster | undefined;
  let dynalite: DynaliteServer | undefined;
  const agents = new Map<string, ProcessAgent>();
  const daemonPids = new Set<number>();

  const startAgentOf = async (i: number) => {
    const node = cluster!.nodes[i]!;
    const agent = await startProcessAgent({
      bundle,
      cluster: 'wd',
      node,
      bindir: cluster!.bindir,
      osUser: cluster!.osUser?.name ?? null,
      agentPort: AGENT_PORT + i,
      workDir,
      extra: { store: storeConfig, lease: { ttlMs: TTL_MS, renewEveryMs: RENEW_MS }, watchdog: { device: '/dev/pgvigil-test-no-such-watchdog' } },
    });
    agents.set(node.name, agent);
    return agent;
  };
  const answers = async (port: number) => {
    try {
      return (await sqlOnce<{ standby: boolean }>(port, 'SELECT pg_is_in_recovery() AS standby'))[0];
    } catch {
      return undefined;
    }
  };
  const refused = async (port: number) => {
    try {
      await sqlOnce(port, 'SELECT 1');
      return false;
    } catch (e) {
      return /ECONNREFUSED/.test(String((e as Error).message ?? e)) || (e as NodeJS.ErrnoException).code === 'ECONNREFUSED';
    }
  };
  const status = async (name: string) => {
    const s = await watchdogStatus(agents.get(name)!.stateDir);
    if (s) daemonPids.add(s.pid);
    return s;
  };
  /** Resolves once `node`'s lease has stood still for longer than the TTL it says (plus 1 s), as seen from here. */
  const leaseLapsed = async (node: string) => {
    let last: { version: number; seenAt: number; ttlMs: number } | null = null;
    await waitFor(`${node}'s lease to stand still past its TTL`, async () => {
      const store = createStore(storeConfig);
      const r = await readLeases(store, 'wd', [node]);
      closeStore(store);
      const lease = r.ok ? r.leases[0] : undefined;
      if (!lease) return false;
      const now = performance.now();
      if (!last || last.version !== lease.version) last = { version: lease.version, seenAt: now, ttlMs: lease.ttlMs ?? TTL_MS };
      return now - last.seenAt > last.ttlMs + 1_000;
    }, 30_000, 200);
  };

  before(async () => {
    workDir = await mkdtemp('/tmp/pgvigil-c-watchdog-');
    bundle = await bundleAgent(workDir);
    cluster = await createLocalCluster({ workDir, basePort: BASE, names: ['w1', 'w2'], replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    dynalite = await startDynalite({ path: join(workDir, 'dynalite'), port: DYNALITE_PORT });
    const store = createStore(storeConfig);
    const table = await ensureTable(store);
    if (!table.ok) throw new Error(table.reason);
    const spec = ClusterSpec.parse({ cluster: 'wd', nodes: cluster.specNodes({ w1: AGENT_PORT, w2: AGENT_PORT + 1 }), replication: { mode: 'async', maximumLagOnFailover: 1 << 20 } });
    const init = await commitDecision(store, 'wd', (state) => decide({ type: 'initialize', now: Date.now(), spec, primary: 'w1' }, state));
    closeStore(store);
    if (!init.ok) throw new Error(init.reason);
    await startAgentOf(0);
    await startAgentOf(1);
  });
  after(async () => {
    for (const a of agents.values()) await a.stop().catch(() => {});
    // A watchdog process left by a failed case: ours, ended by its pid.
    for (const pid of daemonPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
    await dynalite?.stop();
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
  });

  test("the primary's agent arms its watchdog, the standby's leaves it disarmed; the missing device is said, not faked", async () => {
    const w1 = agents.get('w1')!;
    await waitFor('w1 armed', async () => (await status('w1'))?.armed === true, 30_000);
    assert.ok(w1.logged('watchdog armed') >= 1, 'the agent logs what its watchdog process reported');
    await waitFor('w1 to say its device is unavailable', () => w1.logged('watchdog device unavailable: only the watchdog process guards the lease') >= 1, 10_000);
    assert.equal((await status('w1'))?.device, 'unavailable');
    await waitFor('w2 to renew its lease', async () => (await status('w2')) !== null, 30_000);
    await waitFor('w2 streaming', async () => (await sqlOnce<{ n: number }>(BASE, "SELECT count(*)::int AS n FROM pg_stat_replication WHERE application_name = 'w2' AND state = 'streaming'"))[0]?.n === 1, 30_000);
    assert.equal((await status('w2'))?.armed, false);
  });

  test('a standby whose agent is SIGSTOPped keeps serving past its lease', async () => {
    const w2 = agents.get('w2')!;
    w2.signal('SIGSTOP');
    try {
      await leaseLapsed('w2');
      assert.equal((await answers(BASE + 1))?.standby, true, 'w2 still answers as a standby');
      const s = await status('w2');
      assert.equal(s?.armed, false);
      assert.equal(s?.fired, 0);
    } finally {
      w2.signal('SIGCONT');
    }
  });

  test("a cleanly stopped agent disarms its watchdog and ends it; PostgreSQL keeps running (without systemd's BindsTo= nothing stops it)", async () => {
    const w1 = agents.get('w1')!;
    await waitFor('w1 armed', async () => (await status('w1'))?.armed === true, 10_000);
    await w1.stop();
    const log = await readFile(join(w1.stateDir, 'watchdog.log'), 'utf8');
    assert.match(log, /"msg":"watchdog disarmed".*"why":"the agent stopped cleanly"/);
    await waitFor('the watchdog process gone', async () => (await status('w1')) === null, 10_000);
    await leaseLapsed('w1');
    assert.equal((await answers(BASE))?.standby, false, 'w1 still answers as a primary');
    assert.equal(existsSync(join(w1.stateDir, 'fenced.json')), false);
  });

  test('a primary whose agent is SIGSTOPped stops serving once its lease lapses, with the lease-lapse fence marker', async () => {
    const w1 = await startAgentOf(0);
    await waitFor('w1 armed again', async () => (await status('w1'))?.armed === true, 30_000);
    w1.signal('SIGSTOP');
    try {
      await waitFor('connections to w1 refused', () => refused(BASE), 30_000);
      const marker = JSON.parse(await readFile(join(w1.stateDir, 'fenced.json'), 'utf8')) as { why: string; term: number };
      assert.ok(marker.why.startsWith(`${SELF_FENCE_PREFIX} watchdog:`), marker.why);
      // Refused already while pg_ctl waits for the stop: the count moves once it has returned.
      await waitFor('the watchdog to count its firing', async () => (await status('w1'))?.fired === 1, 10_000);
      assert.equal((await status('w1'))?.armed, false);
      assert.equal((await answers(BASE + 1))?.standby, true, 'the standby is untouched');
    } finally {
      w1.signal('SIGCONT');
    }
    // Woken, the agent hears what happened: the report was waiting in its socket.
    await waitFor('the agent to log the watchdog firing', () => w1.logged('watchdog fired: PostgreSQL stopped') >= 1, 10_000);
    assert.equal(await cluster!.postmasterPid('w1'), null, 'the fence marker keeps it stopped');
  });
});
