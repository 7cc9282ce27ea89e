/**
 * Select-only read load on a real cluster (primary + 2 standbys), in interleaved rounds:
 * pgbench -S direct to a standby vs through the proxy's reader port, and a Node load
 * generator with plain pg direct to the standby vs the same generator through lib/client.
 * Prints one line per round and a final line of medians.
 *
 *   npm run bench:reads [-- --rounds 4 --seconds 1]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { z } from 'zod';
import { createLocalCluster, type LocalCluster } from '../../lib/local/localCluster.ts';
import { sqlOnce } from '../../lib/postgres/sqlOnce.ts';
import { runPg } from '../../lib/postgres/pgCommand.ts';
import { startEndpointProxy, type EndpointProxy } from '../../lib/endpoints/proxy.ts';
import { createCluster, type Cluster } from '../../lib/client/index.ts';

const BASE = 15640;
const WRITER_PORT = 15650;
const READER_PORT = 15651;
const CLIENTS = 8;
const SCALE = 10;
const ACCOUNTS = SCALE * 100_000;
const QUERY = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';
/** pgbench runs per path per round. */
const PGBENCH_PAIRS = 4;
/** Node runs per path per round: the pools stay connected, so runs can be short and many. */
const NODE_PAIRS = 8;
const NODE_SLICE_S = 0.25;

const Args = z.object({
  rounds: z.coerce.number().int().min(1).max(20).default(4),
  /** Length of each pgbench run (-T). */
  seconds: z.coerce.number().int().min(1).max(60).default(1),
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number) => Math.round(x);
const fixed = (x: number) => x.toFixed(2);

async function pgbench(cluster: LocalCluster, port: number, args: string[], timeoutMs: number): Promise<string> {
  const r = await runPg(cluster.bindir, 'pgbench', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', ...args, 'postgres'], {
    osUser: cluster.osUser,
    cwd: '/tmp',
    timeoutMs,
  });
  if (!r.ok) throw new Error(`pgbench ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim().slice(-500)}`);
  return r.stdout;
}

async function pgbenchSelect(cluster: LocalCluster, port: number, seconds: number): Promise<number> {
  const out = await pgbench(cluster, port, ['-n', '-S', '-c', String(CLIENTS), '-j', '2', '-T', String(seconds)], (seconds + 30) * 1000);
  const m = /tps = ([0-9.]+) \(without initial connection time\)/.exec(out);
  if (!m) throw new Error(`no tps in pgbench output: ${out.slice(-300)}`);
  return Number(m[1]);
}

/**
 * Runs A and B alternately, A B B A A B B A…, `pairs` times each, and returns their mean tps.
 * The machine is shared: short alternating runs see the same background load, and the
 * mirrored order cancels a steady drift.
 */
async function alternate(pairs: number, a: () => Promise<number>, b: () => Promise<number>): Promise<[number, number]> {
  let sumA = 0;
  let sumB = 0;
  for (let i = 0; i < pairs; i++) {
    if (i % 2 === 0) {
      sumA += await a();
      sumB += await b();
    } else {
      sumB += await b();
      sumA += await a();
    }
  }
  return [sumA / pairs, sumB / pairs];
}

/** CLIENTS workers, each running the pgbench -S query back to back for `seconds`. */
async function nodeLoad(query: (aid: number) => Promise<unknown>, seconds: number): Promise<number> {
  const aid = () => 1 + Math.floor(Math.random() * ACCOUNTS);
  // Warm the pool first: pgbench's figure also leaves out connection time.
  await Promise.all(Array.from({ length: CLIENTS }, () => query(aid())));
  let done = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < end) {
        await query(aid());
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, seconds: { type: 'string' } } });
  const parsedArgs = Args.safeParse(values);
  if (!parsedArgs.success) {
    const issue = parsedArgs.error.issues[0];
    throw new Error(`bench:reads: --${issue?.path.join('.')}: ${issue?.message}`);
  }
  const { rounds, seconds } = parsedArgs.data;

  const workDir = await mkdtemp('/tmp/pgvigil-d-bench-');
  let cluster: LocalCluster | undefined;
  let proxy: EndpointProxy | undefined;
  let direct: pg.Pool | undefined;
  let client: Cluster | undefined;
  const stopping = async () => {
    await direct?.end().catch(() => {});
    await client?.end().catch(() => {});
    await proxy?.close();
    await cluster?.stopAll();
    await rm(workDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stopping().then(() => process.exit(130)));
  try {
    cluster = await createLocalCluster({ workDir, basePort: BASE, replication: { mode: 'async', maximumLagOnFailover: 1024 * 1024 } });
    await cluster.waitStreaming();
    const [primary, standby, other] = cluster.nodes as [LocalCluster['nodes'][0], LocalCluster['nodes'][0], LocalCluster['nodes'][0]];
    console.log(`cluster up: primary ${primary.name}:${primary.port}, standbys ${standby.name}:${standby.port} ${other.name}:${other.port}`);

    await pgbench(cluster, primary.port, ['-i', '-q', '-s', String(SCALE)], 300_000);
    const [{ lsn } = { lsn: '' }] = await sqlOnce<{ lsn: string }>(primary.port, 'SELECT pg_current_wal_lsn()::text AS lsn');
    for (const n of [standby, other]) {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const [row] = await sqlOnce<{ ok: boolean }>(n.port, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn]);
        if (row?.ok) break;
        if (Date.now() > deadline) throw new Error(`${n.name} did not replay the pgbench data within 2 minutes`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    console.log(`pgbench -i -s ${SCALE} loaded and replayed on both standbys`);

    const started = await startEndpointProxy({ host: '127.0.0.1', writerPort: WRITER_PORT, readerPort: READER_PORT });
    if (!started.ok) throw new Error(started.reason);
    proxy = started.proxy;
    const target = (n: typeof primary) => ({ name: n.name, host: n.host, port: n.port });
    // The proxy's reader is the same standby the direct runs use: the ratio measures the relay, not a second server.
    await proxy.apply({ term: 1, writer: target(primary), readers: [target(standby)] });

    const url = (port: number) => `postgresql://postgres@127.0.0.1:${port}/postgres`;
    direct = new pg.Pool({ connectionString: url(standby.port), max: CLIENTS });
    client = createCluster({ writer: url(primary.port), reader: { connectionString: url(standby.port), max: CLIENTS } });
    const directPool = direct;
    const app = client;

    const r = { direct: [] as number[], proxy: [] as number[], nodeDirect: [] as number[], client: [] as number[] };
    const ratios = { proxy: [] as number[], client: [] as number[] };
    const nodeDirect = () => nodeLoad((aid) => directPool.query(QUERY, [aid]), NODE_SLICE_S);
    const nodeClient = () => nodeLoad((aid) => app.read(QUERY, [aid]), NODE_SLICE_S);
    for (let i = 1; i <= rounds; i++) {
      const [d, p] = await alternate(PGBENCH_PAIRS, () => pgbenchSelect(cluster!, standby.port, seconds), () => pgbenchSelect(cluster!, READER_PORT, seconds));
      const [nd, c] = await alternate(NODE_PAIRS, nodeDirect, nodeClient);
      r.direct.push(d);
      r.proxy.push(p);
      r.nodeDirect.push(nd);
      r.client.push(c);
      ratios.proxy.push(p / d);
      ratios.client.push(c / nd);
      console.log(
        `round ${i}/${rounds}: pgbench direct=${round(d)} proxy=${round(p)} (${fixed(p / d)}) | node direct=${round(nd)} client=${round(c)} (${fixed(c / nd)})`,
      );
    }
    console.log(`medians: pgbench direct=${round(median(r.direct))} proxy=${round(median(r.proxy))}; node direct=${round(median(r.nodeDirect))} client=${round(median(r.client))}; ${CLIENTS} clients, per round ${PGBENCH_PAIRS} alternating pgbench runs of ${seconds}s and ${NODE_PAIRS} node runs of ${NODE_SLICE_S}s per path, scale ${SCALE}`);
    console.log(
      `reads tps_direct=${round(median(r.direct))} tps_proxy=${round(median(r.proxy))} tps_client=${round(median(r.client))} ratio_proxy=${fixed(median(ratios.proxy))} ratio_client=${fixed(median(ratios.client))}`,
    );
  } finally {
    await stopping();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
