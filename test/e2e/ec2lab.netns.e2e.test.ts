import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { callAgent } from '../../lib/agent/agentClient.ts';
import { ClusterSpec } from '../../lib/domain/spec.ts';
import { bundleAgent } from '../../lib/local/agentBundle.ts';
import { agentProcess, type AgentProcess } from '../../lib/local/agentProcesses.ts';
import type { Log } from '../../lib/log.ts';
import type { OsUser } from '../../lib/postgres/osUser.ts';
import type { DynaliteServer } from '../../lib/local/dynaliteServer.ts';
import { isAlive, readPostmasterPid } from '../../lib/postgres/nodeFiles.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { REPLICATION_USER } from '../../lib/postgres/standbyConf.ts';
import { readDecisions } from '../../lib/store/decisionLog.ts';
import { loadState } from '../../lib/store/loadState.ts';
import { latestObservations } from '../../lib/store/observations.ts';
import { closeStore, createStore, type Store } from '../../lib/store/store.ts';
import type { StoreConfig } from '../../lib/store/storeConfig.ts';
import { ensureTable } from '../../lib/store/table.ts';
import { runBootstrap, stopServer, writeBootstrapConfigs, type BootstrapHost } from '../support/bootstrapHosts.ts';
import { createLab, namespaceSupport, type NetnsLab } from '../support/netns.ts';
import { waitFor } from '../support/waitFor.ts';
import { startDynaliteInRange, startLabRun, teardownStep, type LabRun } from '../support/labRun.ts';
import { FUNCTIONS, startLambdaControlPlane, type LambdaControlPlane } from '../support/lambdaControlPlane.ts';
import { runAwsCli } from '../support/awsModeCli.ts';

/**
 * Issue 14's EC2 lab: database hosts in network namespaces (10.79.0.0/24, namespaces pgvl-*),
 * each made ONLY by `pgvigil-agent bootstrap` from the host bundle, run in the host's namespace
 * as the systemd unit's ExecStartPre would, then its agent as a supervised process. No
 * test-side initdb, pg_basebackup or configuration. The control plane is the four Lambda
 * handlers of functions/, each in processes of its own, with the stack's environment and
 * triggers stood in for (test/support/lambdaControlPlane.ts): one-minute probe invocations,
 * decide on each observation written and on the one-minute tick (which also initialises the
 * cluster from PGVIGIL_CLUSTERS, as after a deploy), act by asynchronous invoke, notify on each
 * decision. They and the store (dynalite, over HTTP) live in the root namespace, reaching the
 * hosts over the bridge; the probe logs in as pgvigil_monitor over TLS checked against the
 * cluster CA (PGVIGIL_CA_CERT_FILE). Every agent moves the writer VIP (what vip.netns tested on
 * hand-built servers). The test decides nothing itself: it reads the store and the servers, runs
 * `pgvigil` as an operator (add-node, switchover: AWS mode, through decide), and once sends an
 * agent the retried promote the control plane would send, to see the VIP claimed.
 */
const skip = await namespaceSupport();
const PREFIX = '10.79.0';
const PG_PORT = 5432;
const AGENT_PORT = 8008;
const HOSTS = ['h1', 'h2', 'h3'] as const;
const CLUSTER = 'lab';
/** The writer VIP the primary's agent holds on its eth0 (vip in every agent config); a client in namespace cli knows only it. */
const VIP = `${PREFIX}.100`;
const vip = { address: VIP, prefix: 24, interface: 'eth0' };
/** The Lambda API and the SNS/EventBridge stand-in, on 127.0.0.1. */
// Below 32768, out of Linux's ephemeral port range, where any client socket could hold them.
const LAMBDA_PORT = 29010;
const SINK_PORT = 29011;

describe('EC2 lab: hosts built only by the bootstrap, in network namespaces', { skip: skip ?? false }, () => {
  let lab: NetnsLab | undefined;
  let dyn: DynaliteServer | undefined;
  let store: Store | undefined;
  let workDir: string;
  let run: LabRun | undefined;
  let log: Log;
  let osUser: OsUser;
  let bindir: string;
  let agentScript: string;
  let hosts: BootstrapHost[] = [];
  const agents = new Map<string, AgentProcess>();
  let control: LambdaControlPlane | undefined;
  let keyText: string;
  let storeConfig: StoreConfig;
  /** Tests that ran to their end; fewer than all, and the logs are kept. */
  let passed = 0;

  const ns = (name: string) => lab!.host(name).ns;
  const host = (name: string) => hosts.find((h) => h.name === name)!;
  const bootstrap = (h: BootstrapHost) => runBootstrap(h, { agent: agentScript, wrap: ['ip', 'netns', 'exec', ns(h.name)] });
  /** The superuser over the host's own socket (a file on the shared file system), as its agent logs in. */
  const superuser = <R extends pg.QueryResultRow>(h: BootstrapHost, text: string, values: unknown[] = []) => sqlOnce<R>(PG_PORT, text, values, { host: h.files.socketDir });

  before(async () => {
    run = await startLabRun('pgvl-lab-');
    ({ osUser, bindir, workDir, log } = run);
    lab = await createLab(PREFIX, [...[...HOSTS, 'h4'].map((name, i) => ({ name, octet: i + 1 })), { name: 'cli', octet: 10 }], 'pgvl');
    dyn = await startDynaliteInRange(lab.gateway, 24500, 24600);
    storeConfig = { table: 'pgvigil', region: 'us-east-1', endpoint: dyn.endpoint };
    store = createStore(storeConfig, (e) => log({ ...e, component: 'store' }));
    const table = await ensureTable(store);
    if (!table.ok) throw new Error(table.reason);
    agentScript = await bundleAgent(workDir);
    keyText = randomBytes(32).toString('hex');
    hosts = await writeBootstrapConfigs({
      workDir,
      cluster: CLUSTER,
      hosts: HOSTS.map((name) => ({ name, address: lab!.host(name).address, port: PG_PORT, agentPort: AGENT_PORT })),
      clientCidrs: [`${PREFIX}.0/24`],
      bindir,
      osUser,
      extra: () => ({ store: storeConfig, lease: { ttlMs: 5_000, renewEveryMs: 1_000 }, vip }),
    });
    await writeFile(join(workDir, 'agent.key'), keyText, { mode: 0o600 });
  });

  after(async () => {
    const step = teardownStep('ec2 lab');
    if (control) {
      const count = (fn: string) => control!.invocations.filter((i) => i.fn === fn).length;
      const { decide, notify } = control.streams();
      process.stderr.write(
        `ec2 lab control plane: invocations probe=${count('pgvigil-probe')} decide=${count('pgvigil-decide')} act=${count('pgvigil-act')} notify=${count('pgvigil-notify')}` +
          ` cold_starts=${JSON.stringify(control.coldStarts())} decide_stream_batches=${decide.batches} (${decide.records} records) notify_stream_batches=${notify.batches} alerts=${control.alerts.alerts.length} bus_events=${control.alerts.busEvents.length}\n`,
      );
    }
    await step('control plane', () => control?.stop());
    for (const a of agents.values()) await step('agent', () => a.stop());
    for (const h of hosts) await step(`PostgreSQL ${h.name}`, () => stopServer(bindir, h, osUser));
    await step('store', async () => store && closeStore(store));
    await step('dynalite', () => dyn?.stop());
    await step('namespaces', () => lab?.destroy());
    await step('control log', () => run?.closeLog());
    if (workDir && passed === 8) await step('work dir', () => rm(workDir, { recursive: true, force: true }));
    else if (workDir) process.stderr.write(`ec2 lab: logs kept in ${workDir}\n`);
  });

  const startAgent = async (h: BootstrapHost) => {
    const a = agentProcess({ url: `http://${h.address}:${AGENT_PORT}`, configPath: h.configPath, logPath: join(workDir, `${h.name}.agent.log`), agentScript, prefix: ['ip', 'netns', 'exec', ns(h.name)] });
    agents.set(h.name, a);
    await a.start();
  };

  /**
   * An application on the network writing rows from `firstId`: TLS and scram-sha-256, as pg_hba
   * demands. query_timeout: a write sent into a cut never answers; it is given up, not acknowledged.
   * Starts once 100 are acknowledged; stop answers the ids acknowledged.
   */
  /** What the client in its own namespace gets through the VIP (as lab_app, over TLS): `name|in recovery|server address`, null when nothing answers. */
  const throughVip = async (sql = "SELECT current_setting('cluster_name') || '|' || pg_is_in_recovery() || '|' || host(inet_server_addr())"): Promise<string | null> => {
    const r = await lab!.exec('cli', 'runuser', ['-u', osUser.name, '--', join(bindir, 'psql'), '-h', VIP, '-p', String(PG_PORT), '-U', 'lab_app', '-d', 'postgres', '-X', '-A', '-t', '-q', '-c', sql], {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', PGCONNECT_TIMEOUT: '2', PGPASSWORD: 'lab-app-password', PGSSLMODE: 'require' },
      cwd: osUser.home,
      timeoutMs: 10_000,
    });
    return r.ok ? r.stdout.trim() : null;
  };
  const holdsVip = async (name: string): Promise<boolean> => {
    const r = await lab!.exec(name, 'ip', ['-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    assert.ok(r.ok, `ip addr show in ${name}: ${r.stderr}`);
    return r.stdout.includes(`inet ${VIP}/`);
  };
  /** Until the client reaches a primary other than `not` through the VIP; answers what it got. */
  const vipAnswersFrom = (what: string, ok: (answer: string) => boolean) =>
    waitFor(what, async () => {
      const r = await throughVip();
      return r !== null && ok(r) ? r : undefined;
    }, 30_000, 200);

  const startAppWrites = async (h: BootstrapHost, firstId: number) => {
    const app = new pg.Client({ host: h.address, port: PG_PORT, user: 'lab_app', password: 'lab-app-password', database: 'postgres', ssl: { rejectUnauthorized: false }, connectionTimeoutMillis: 3_000, query_timeout: 2_000 });
    app.on('error', () => {});
    await app.connect();
    const acked: number[] = [];
    let writing = true;
    const writes = (async () => {
      for (let id = firstId; writing; id++) {
        try {
          await app.query('INSERT INTO lab_writes VALUES ($1)', [id]);
          acked.push(id);
        } catch {
          return;
        }
      }
    })();
    await waitFor('the first acknowledged writes', () => acked.length >= 100, 20_000);
    return {
      async stop() {
        writing = false;
        await writes;
        void app.end().catch(() => {});
        return acked;
      },
    };
  };

  /** Waits for a failover away from `old` to end; answers the new primary and how many of `acked` it lacks. */
  const promotedInPlaceOf = async (old: string, acked: number[]) => {
    const state = await waitFor(`a standby promoted in ${old}'s place`, async () => {
      const s = await loadState(store!, CLUSTER);
      return s.ok && s.state.primary && s.state.primary !== old && !s.state.failover ? s.state : undefined;
    }, 120_000, 500);
    const next = host(state.primary!);
    const [have] = await superuser<{ missing: number }>(next, 'SELECT count(*)::int AS missing FROM unnest($1::bigint[]) id WHERE id NOT IN (SELECT id FROM lab_writes)', [acked]);
    return { next, missing: have?.missing };
  };

  /** The deployed stack as the CLI reaches it: the table and the decide function. */
  const awsTarget = () => ({
    table: storeConfig.table,
    region: storeConfig.region,
    cluster: CLUSTER,
    decideFunction: FUNCTIONS.decide,
    dynamodbEndpoint: storeConfig.endpoint!,
    lambdaEndpoint: `http://127.0.0.1:${LAMBDA_PORT}`,
  });

  const lastSeq = async () => {
    const read = await readDecisions(store!, CLUSTER);
    return read.ok ? (read.items.at(-1)?.seq ?? 0) : 0;
  };

  test('the cluster forms from nothing: the first host initialises the primary, the others copy it and stream over TLS', async () => {
    assert.deepEqual(await bootstrap(host('h1')), { ok: true, did: 'initialised the primary', changed: ['data directory'] });
    assert.deepEqual(await Promise.all([bootstrap(host('h2')), bootstrap(host('h3'))]), [
      { ok: true, did: 'joined as a standby', from: 'h1', changed: ['data directory'] },
      { ok: true, did: 'joined as a standby', from: 'h1', changed: ['data directory'] },
    ]);
    // The spec the stack deploys (PGVIGIL_CLUSTERS): decide's first tick initialises the log from it, h1 primary.
    const spec = ClusterSpec.parse({
      cluster: CLUSTER,
      nodes: HOSTS.map((name) => ({ name, host: lab!.host(name).address, port: PG_PORT, agent: `http://${lab!.host(name).address}:${AGENT_PORT}` })),
      replication: { mode: 'synchronous', quorum: 1 },
      timing: {},
    });
    const started = Date.now();
    control = await startLambdaControlPlane({
      workDir,
      store: store!,
      storeEndpoint: storeConfig.endpoint!,
      specs: [spec],
      agentKey: keyText,
      monitorPasswordFile: join(workDir, 'secrets', 'monitor.password'),
      caCertFile: host('h1').files.caCert,
      lambdaPort: LAMBDA_PORT,
      sinkPort: SINK_PORT,
    });
    const initialised = await waitFor('decide\'s first tick to initialise the cluster', async () => {
      const s = await loadState(store!, CLUSTER);
      return s.ok && s.state.spec ? s.state : undefined;
    }, 60_000, 200);
    assert.equal(initialised.primary, 'h1');
    for (const name of HOSTS) await startAgent(host(name));

    // The probe function sees it (it logs in as pgvigil_monitor: a node it could not log in to would be unreachable).
    const seen = await waitFor('the probe to see h2 and h3 stream from h1', async () => {
      const read = await latestObservations(store!, CLUSTER, Date.now() - 15_000);
      if (!read.ok) return false;
      const by = new Map(read.observations.map((o) => [o.node, o]));
      const ok = by.get('h1')?.reachable && by.get('h1')?.role === 'primary' && ['h2', 'h3'].every((n) => by.get(n)?.reachable && by.get(n)?.walReceiver?.upstream === 'h1');
      return ok ? read.observations : undefined;
    }, 90_000, 200);
    // Written by a Lambda prober: the probe function's invocation (its request id), not a local loop.
    assert.ok(seen.every((o) => o.prober.startsWith('lambda-')), `probers: ${[...new Set(seen.map((o) => o.prober))].join(', ')}`);
    process.stderr.write(`ec2 lab formed: ${Date.now() - started} ms from the control plane's start to every standby seen streaming\n`);
    const rows = await superuser<{ name: string; usename: string; ssl: boolean }>(host('h1'), "SELECT r.application_name AS name, r.usename, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) ORDER BY 1");
    assert.deepEqual(rows, [{ name: 'h2', usename: REPLICATION_USER, ssl: true }, { name: 'h3', usename: REPLICATION_USER, ssl: true }]);
    const probes = await superuser<{ n: number }>(host('h1'), "SELECT count(*)::int AS n FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = 'pgvigil_monitor' AND NOT s.ssl");
    assert.deepEqual(probes, [{ n: 0 }], 'no probe session without TLS');
    await waitFor('synchronous_standby_names set by the agent', async () => {
      const [r] = await superuser<{ s: string }>(host('h1'), "SELECT current_setting('synchronous_standby_names') AS s");
      return r?.s !== '' ? r : undefined;
    }, 30_000);

    // The application's table and login (scram-sha-256 over TLS, as pg_hba demands of the network).
    const h1 = host('h1');
    await superuser(h1, 'CREATE TABLE lab_writes (id bigint PRIMARY KEY)');
    await superuser(h1, "CREATE ROLE lab_app LOGIN PASSWORD 'lab-app-password'");
    await superuser(h1, 'GRANT INSERT, SELECT ON lab_writes TO lab_app');
    // The writer VIP: h1 is primary from the start, so the promote of the current term is a retried
    // one ("already primary"), which is exactly when an agent (re)claims the writer address.
    for (const name of HOSTS) assert.equal(await holdsVip(name), false, `${name} holds no VIP before any promotion`);
    const { term } = (await loadState(store!, CLUSTER).then((r) => (r.ok ? r.state : null)))!;
    const claimed = await callAgent({ url: `http://${h1.address}:${AGENT_PORT}`, cluster: CLUSTER, node: 'h1' }, Buffer.from(keyText), 'promote', { term }, { timeoutMs: 10_000 });
    assert.equal(claimed.ok, true, claimed.reason);
    assert.equal(claimed.reason, 'already primary');
    assert.deepEqual(claimed['vip'], { address: VIP, placed: true, reason: `added ${VIP}/24 to eth0` });
    assert.equal(await holdsVip('h1'), true);
    assert.equal(await holdsVip('h2'), false);
    assert.equal(await vipAnswersFrom('the client to reach the primary through the VIP', () => true), `h1|false|${VIP}`);
    passed++;
  });

  test('a bootstrap re-run (a redeploy, a reboot) changes nothing', async () => {
    for (const name of HOSTS) assert.deepEqual(await bootstrap(host(name)), { ok: true, did: 'configured', changed: [] }, name);
    passed++;
  });

  test('a fourth host, registered with pgvigil add-node and built by the bootstrap, joins as a standby the quorum counts', async () => {
    const s = await loadState(store!, CLUSTER);
    assert.ok(s.ok && s.state.primary);
    const primary = host(s.state.primary!);
    const h4Address = lab!.host('h4').address;
    // The operator registers it as the README says, against the deployed stack: the CLI reads the
    // table and sends the command to the decide function by invoke.
    const added = await runAwsCli(['add-node', '--name', 'h4', '--host', h4Address, '--port', String(PG_PORT), '--agent', `http://${h4Address}:${AGENT_PORT}`], awsTarget());
    assert.equal(added.code, 0, added.stderr);
    const registered = await loadState(store!, CLUSTER);
    assert.ok(registered.ok && registered.state.spec?.nodes.some((n) => n.name === 'h4'), 'h4 is in the log\'s spec');
    // Its user data: the agent config, the bootstrap, then the agent (systemd's order).
    const [h4] = await writeBootstrapConfigs({
      workDir,
      cluster: CLUSTER,
      hosts: [{ name: 'h4', address: h4Address, port: PG_PORT, agentPort: AGENT_PORT }],
      peers: [...HOSTS, 'h4'].map((name) => ({ name, address: lab!.host(name).address, port: PG_PORT })),
      clientCidrs: [`${PREFIX}.0/24`],
      bindir,
      osUser,
      extra: () => ({ store: storeConfig, lease: { ttlMs: 5_000, renewEveryMs: 1_000 }, vip }),
    });
    hosts.push(h4!);
    // It copies a streaming standby that can be spared, else the primary (lib/domain/cloneSource.ts), and follows the primary.
    const joined = await bootstrap(h4!);
    assert.ok(joined.ok && joined.did === 'joined as a standby' && HOSTS.some((n) => n === joined.from), JSON.stringify(joined));
    await startAgent(h4!);
    const rows = await waitFor('h4 to stream from the primary over TLS', async () => {
      const r = await superuser<{ name: string; ssl: boolean }>(primary, "SELECT r.application_name AS name, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.application_name = 'h4' AND r.state = 'streaming'");
      return r.length === 1 ? r : undefined;
    }, 60_000);
    assert.deepEqual(rows, [{ name: 'h4', ssl: true }]);
    // The probe function probes it (the log's spec, not the deployed one), and the primary's agent lists it as a quorum member.
    await waitFor('the probe to see h4 stream from the primary', async () => {
      const read = await latestObservations(store!, CLUSTER, Date.now() - 15_000);
      const o = read.ok ? read.observations.find((x) => x.node === 'h4') : undefined;
      return o?.reachable && o.prober.startsWith('lambda-') && o.role === 'standby' && o.walReceiver?.upstream === primary.name;
      // The on-wake probe (what the stack deploys for this synchronous cluster) sees a new healthy
      // standby at its next minute run: nobody wakes it for a node that joined well.
    }, 90_000, 200);
    const sync = await waitFor('h4 in the primary\'s synchronous_standby_names', async () => {
      const [r] = await superuser<{ s: string }>(primary, "SELECT current_setting('synchronous_standby_names') AS s");
      return r?.s.includes('h4') ? r.s : undefined;
    }, 30_000);
    process.stderr.write(`ec2 lab fourth host: copied from ${joined.ok ? joined.from : '?'} synchronous_standby_names=${sync}\n`);
    passed++;
  });

  test('a crash of the primary host fails over with nothing acknowledged lost', async () => {
    const h1 = host('h1');
    const app = await startAppWrites(h1, 1);
    const crashedAfter = await lastSeq();
    // The host loses power: its agent and its server die at once, SIGKILL (no shutdown checkpoint,
    // no goodbye), and its cable goes dead (the VIP stays on its interface, as after a power cut).
    const pid = await readPostmasterPid(h1.dataDir);
    await Promise.all([agents.get('h1')!.stop({ kill: true }), pid ? process.kill(pid, 'SIGKILL') : null, lab!.link('h1', 'down')]);
    const crashedAt = Date.now();
    const acked = await app.stop();
    const { next, missing } = await promotedInPlaceOf('h1', acked);
    assert.equal(missing, 0, `acknowledged writes missing on ${next.name}`);
    // h4 was counted: with ANY 1 of three standbys every one must be in sight (rule 2), and its evidence is in the decision.
    const read = await readDecisions(store!, CLUSTER, { afterSeq: crashedAfter });
    const started = read.ok ? read.items.flatMap((d) => d.events).find((e) => e.type === 'FailoverStarted') : undefined;
    const h4 = started?.type === 'FailoverStarted' ? started.evidence.find((e) => e.node === 'h4') : undefined;
    assert.ok(h4?.reachable && h4.lsn !== null, `h4 in the failover's evidence, reachable with its LSN: ${JSON.stringify(h4)}`);
    const timeline = (read.ok ? read.items.flatMap((d) => d.events) : []).map((e) => `${e.type}@${e.at - crashedAt}ms`);
    process.stderr.write(`ec2 lab crash decisions: ${timeline.join(' ')}\n`);
    // notify, fed the decision by the stream, published it to SNS.
    await waitFor('notify to publish the completed failover', () => control!.alerts.alerts.some((a) => a.subject.includes(`completed: ${next.name} is primary`)), 30_000);
    // The writer VIP follows: the new primary's agent claimed it on promote and announced it (unsolicited ARP).
    const seen = await vipAnswersFrom('the client to reach the new primary through the VIP', (r) => !r.startsWith('h1|'));
    const vipAt = Date.now();
    assert.equal(seen, `${next.name}|false|${VIP}`, 'the VIP answers from the new primary, out of recovery');
    assert.equal(await holdsVip(next.name), true, `${next.name} holds the VIP`);
    await waitFor(`${next.name}'s agent to log the announcement`, async () => (await readFile(join(workDir, `${next.name}.agent.log`), 'utf8')).includes('VIP announced (unsolicited ARP)'), 10_000);
    const mac = /link\/ether ([0-9a-f:]{17})/.exec((await lab!.exec(next.name, 'ip', ['link', 'show', 'dev', 'eth0'])).stdout)?.[1];
    assert.ok(mac, `${next.name}'s MAC`);
    assert.match((await lab!.exec('cli', 'ip', ['neigh', 'show', VIP])).stdout, new RegExp(`lladdr ${mac}`), `the client resolves ${VIP} to ${next.name}`);
    for (const other of ['h2', 'h3', 'h4'].filter((n) => n !== next.name)) assert.equal(await holdsVip(other), false, `${other} holds no VIP`);
    const wrote = await waitFor('a write through the VIP to commit', () => throughVip("INSERT INTO lab_writes VALUES (-1) ON CONFLICT DO NOTHING RETURNING current_setting('cluster_name')").then((r) => r ?? undefined), 30_000, 200);
    assert.equal(wrote, next.name);
    process.stderr.write(`ec2 lab crash: VIP answering from ${next.name} ${vipAt - crashedAt} ms after the crash, a write through it committed at ${Date.now() - crashedAt} ms\n`);
    process.stderr.write(`ec2 lab crash: acknowledged=${acked.length} missing=${missing} new_primary=${next.name}\n`);
    passed++;
  });

  test('the old primary\'s host comes back (bootstrap, then its agent, as systemd starts them) and rejoins as a standby', async () => {
    const h1 = host('h1');
    // Power back: the cable first, then the bootstrap and the agent, as the boot runs them.
    assert.equal(await holdsVip('h1'), true, 'the crash left the VIP on h1 (no reboot cleared it)');
    await lab!.link('h1', 'up');
    // The bootstrap leaves a data directory's server as it is: a deposed primary must not come back as one.
    assert.deepEqual(await bootstrap(h1), { ok: true, did: 'configured', changed: [] });
    assert.equal(await readPostmasterPid(h1.dataDir).then((pid) => pid !== null && isAlive(pid)), false, 'the bootstrap started no server on the old primary');
    await agents.get('h1')!.start();
    assert.equal(await holdsVip('h1'), false, 'h1 released the VIP when its agent started');
    const s = await loadState(store!, CLUSTER);
    assert.ok(s.ok && s.state.primary);
    await waitFor(`h1 to stream from ${s.state.primary}`, async () => {
      const read = await latestObservations(store!, CLUSTER, Date.now() - 5_000);
      const o = read.ok ? read.observations.find((x) => x.node === 'h1') : undefined;
      return o?.reachable && o.role === 'standby' && o.walReceiver?.status === 'streaming' && o.walReceiver.upstream === s.state.primary;
    }, 120_000, 500);
    assert.equal(await holdsVip('h1'), false, 'a rejoined standby holds no VIP');
    assert.equal(await throughVip(), `${s.state.primary}|false|${VIP}`, 'the VIP still answers from the primary');
    passed++;
  });

  test('a switchover (pgvigil switchover, AWS mode) moves the VIP: the old primary releases it when demoted, the new one claims it', async () => {
    const before = await loadState(store!, CLUSTER);
    assert.ok(before.ok && before.state.primary && before.state.primary !== 'h1');
    const from = before.state.primary!;
    // As an operator would: a request refused for now (h1 not yet counted in the synchronous set) is asked again.
    const done = await waitFor('the switchover to h1 to complete', async () => {
      const r = await runAwsCli(['switchover', '--to', 'h1'], awsTarget());
      return r.code === 0 ? r.stdout.trim() : undefined;
    }, 60_000, 1_000);
    const after = await loadState(store!, CLUSTER);
    assert.ok(after.ok && after.state.primary === 'h1' && after.state.failover === null, done);
    assert.equal(await vipAnswersFrom('the client to reach h1 through the VIP', (r) => r.startsWith('h1|')), `h1|false|${VIP}`);
    assert.equal(await holdsVip('h1'), true);
    assert.equal(await holdsVip(from), false, `${from} released the VIP`);
    assert.match(await readFile(join(workDir, `${from}.agent.log`), 'utf8'), /"msg":"writer VIP released".*"why":"demote at term \d+"/, `${from}'s agent released it on demote`);
    process.stderr.write(`ec2 lab switchover: ${done.split('\n').at(-1)}\n`);
    passed++;
  });

  test('a silent primary host (its cable pulled) fails over with nothing acknowledged lost', async () => {
    const before = await loadState(store!, CLUSTER);
    assert.ok(before.ok && before.state.primary);
    const old = host(before.state.primary!);
    const app = await startAppWrites(old, 1_000_000);
    await lab!.link(old.name, 'down');
    const acked = await app.stop();
    const { next, missing } = await promotedInPlaceOf(old.name, acked);
    assert.equal(missing, 0, `acknowledged writes missing on ${next.name}`);
    // No split brain: behind the cut its agent's lease lapsed and it stopped its own server.
    await waitFor(`${old.name} to have stopped its own server`, async () => {
      const pid = await readPostmasterPid(old.dataDir);
      return pid === null || !isAlive(pid);
    }, 30_000);
    // The VIP follows; the old primary, behind the cut, released it as it fenced itself.
    assert.equal(await vipAnswersFrom('the client to reach the new primary through the VIP', (r) => r.startsWith(`${next.name}|`)), `${next.name}|false|${VIP}`);
    await waitFor(`${old.name} to have released the VIP behind the cut`, async () => !(await holdsVip(old.name)), 30_000);
    process.stderr.write(`ec2 lab silent host: acknowledged=${acked.length} missing=${missing} old_primary=${old.name} new_primary=${next.name}\n`);
    passed++;
  });

  test('the next minute\'s probe invocation takes over from the last: a new Lambda prober observes the cluster', async () => {
    // The first invocation probes for its minute and returns; EventBridge's next one starts a prober of its own.
    const first = await waitFor('the first probe invocation to return', () => control!.invocations.find((i) => i.fn === FUNCTIONS.probe && i.done), 90_000, 500);
    assert.equal(first.error, undefined, first.error);
    const { rounds, written } = first.answer as { rounds: number; written: number };
    const firstProber = `lambda-${control!.requestIds('probe')[0]}`;
    // Three nodes answer now (the silent host's primary is still cut off); the new prober writes each on its first round or heartbeat.
    const probers = await waitFor('every reachable node observed by a later invocation\'s prober', async () => {
      const read = await latestObservations(store!, CLUSTER, Date.now() - 15_000);
      const fresh = (read.ok ? read.observations : []).filter((o) => o.reachable && o.prober.startsWith('lambda-') && o.prober !== firstProber);
      return new Set(fresh.map((o) => o.node)).size >= 3 ? [...new Set(fresh.map((o) => o.prober))] : undefined;
    }, 60_000, 500);
    const s = await loadState(store!, CLUSTER);
    assert.ok(s.ok && s.state.primary && !s.state.failover, 'no failover started at the hand-over');
    process.stderr.write(`ec2 lab probe hand-over: first invocation rounds=${rounds} written=${written}; probers seen since: ${probers.join(', ')}\n`);
    passed++;
  });
});
