import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findFreePort } from '../../lib/postgres/freePort.ts';
import { crashNode, startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';
import { waitFor } from '../support/waitFor.ts';

// Derived ports (localPorts): pg BASE+0..2, agents BASE+100.., proxy BASE+200..201, metrics BASE+202, store BASE+300.
const BASE = 18800;
const ALERTS = resolve(import.meta.dirname, '../../docs/prometheus-alerts.yml');
const DASHBOARD = resolve(import.meta.dirname, '../../docs/grafana-dashboard.json');
const haveProm = spawnSync('prometheus', ['--version']).status === 0 && spawnSync('promtool', ['--version']).status === 0;

type Sample = { metric: Record<string, string>; value: [number, string] };

describe('Prometheus (Debian package) scraping the agents and the control plane', { skip: haveProm ? false : 'prometheus/promtool not installed (npm run setup as root installs them)' }, () => {
  let p: TestPipeline;
  let prom: ChildProcess | null = null;
  let promLog = '';
  let dir = '';
  let api = '';

  const query = async (q: string): Promise<Sample[]> => {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: Sample[] } };
    assert.equal(body.status, 'success', `query ${q}: ${body.error}`);
    return body.data.result;
  };
  const total = async (q: string): Promise<number> => (await query(q)).reduce((sum, s) => sum + Number(s.value[1]), 0);
  /** node → role, from the agents' pgvigil_node_role as Prometheus last scraped it. */
  const roles = async (): Promise<Record<string, string>> => Object.fromEntries((await query('pgvigil_node_role == 1')).map((s) => [s.metric['node']!, s.metric['role']!]));

  before(async () => {
    p = await startTestPipeline(BASE, { metrics: true });
    assert.ok(p.metricsUrl, 'the control plane serves /metrics');
    dir = await mkdtemp(join(tmpdir(), 'pgvigil-prom-'));
    const port = await findFreePort();
    api = `http://127.0.0.1:${port}`;
    const agents = [...p.agents.values()].map((a) => new URL(a.url).host);
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${JSON.stringify(ALERTS)}`,
      'scrape_configs:',
      '  - job_name: pgvigil-agents',
      '    static_configs:',
      `      - targets: ${JSON.stringify(agents)}`,
      '  - job_name: pgvigil-control-plane',
      '    static_configs:',
      `      - targets: ${JSON.stringify([new URL(p.metricsUrl).host])}`,
      '',
    ].join('\n');
    await writeFile(join(dir, 'prometheus.yml'), config);
    const args = [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`];
    prom = spawn('prometheus', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    prom.stderr!.on('data', (c: Buffer) => (promLog = (promLog + c.toString()).slice(-8_000)));
    await waitFor('Prometheus to be ready', async () => (await fetch(`${api}/-/ready`).catch(() => null))?.ok, 30_000, 200).catch((e: Error) => {
      throw new Error(`${e.message}\n${promLog}`);
    });
  });

  after(async () => {
    if (prom && prom.exitCode === null && prom.pid) {
      const exited = new Promise((r) => prom!.once('exit', r));
      process.kill(prom.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (prom.exitCode === null && prom.signalCode === null) process.kill(prom.pid, 'SIGKILL');
    }
    await p?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the alert rules pass promtool, and Prometheus loads and evaluates them', async () => {
    const check = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    assert.match(check.stdout, /SUCCESS: \d+ rules found/);
    await waitFor('every rule evaluated without error', async () => {
      const body = (await (await fetch(`${api}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
      const rules = body.data.groups.flatMap((g) => g.rules);
      const bad = rules.filter((r) => r.health !== 'ok');
      return rules.length > 0 && bad.length === 0 ? true : undefined;
    }, 20_000, 500);
  });

  test('every agent and the control plane are scraped; one primary and two standbys, by their agents', async () => {
    await waitFor('all four targets up', async () => (await query('up == 1')).length === 4, 20_000, 250);
    const seen = await waitFor('a role for every node', async () => {
      const r = await roles();
      return Object.keys(r).length === 3 ? r : undefined;
    }, 20_000, 250);
    assert.deepEqual(seen, { pg1: 'primary', pg2: 'standby', pg3: 'standby' });
    const labels = (await query('pgvigil_node_term'))[0]!.metric;
    assert.equal(labels['cluster'], 'local');
    assert.equal(labels['job'], 'pgvigil-agents');
    await waitFor('probe rounds counted by the control plane', async () => (await total('pgvigil_probe_round_duration_seconds_count')) > 10, 20_000, 250);
    await waitFor("the primary's view of both standbys' lag", async () => (await query('pgvigil_replication_lag_bytes{node="pg1"}')).length === 2, 20_000, 250);
    assert.equal(await total('pgvigil_control_plane_blind'), 0);
  });

  test("the sample Grafana dashboard's queries are valid PromQL and find series", async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((t) => ({ title: panel.title, expr: t.expr.replaceAll('$cluster', 'local') })));
    assert.ok(exprs.length >= 10);
    // Every query must parse at once; rates and quantiles find series only after two scrapes in
    // their window (later on a loaded machine), and the action panels need an action other than status.
    let empty: string[] = [];
    await waitFor('the dashboard queries to find series', async () => {
      empty = [];
      for (const { title, expr } of exprs) if ((await query(expr)).length === 0) empty.push(`${title}: ${expr}`);
      return empty.length <= 4;
    }, 30_000, 500).catch((e: Error) => assert.fail(`${e.message}\npanels with no series:\n${empty.join('\n')}`));
  });

  test('after a crash of the primary the failover counter rises and a standby answers as primary', async () => {
    const started = await total('pgvigil_failovers_total{kind="failover",outcome="started"}');
    const completed = await total('pgvigil_failovers_total{kind="failover",outcome="completed"}');
    await crashNode(p, 'pg1');
    await waitFor('Prometheus to see the failover start', async () => (await total('pgvigil_failovers_total{kind="failover",outcome="started"}')) > started, 60_000, 250);
    await waitFor('Prometheus to see the failover complete', async () => (await total('pgvigil_failovers_total{kind="failover",outcome="completed"}')) > completed, 60_000, 250);
    const next = (await p.state())?.primary;
    assert.ok(next && next !== 'pg1', `a standby was promoted (${next})`);
    await waitFor(`${next} to be scraped as primary`, async () => (await roles())[next] === 'primary', 20_000, 250);
    assert.ok((await total('increase(pgvigil_failovers_total{outcome="started"}[5m])')) > 0, 'what the PgvigilFailover alert reads');
    assert.ok((await total('pgvigil_probe_failures_total{node="pg1",kind="refused"}')) > 0, 'the probes of pg1 were refused');
    await waitFor("pg1's agent target down", async () => (await query('up{job="pgvigil-agents"} == 0')).length === 1, 20_000, 250);
    assert.ok((await total('pgvigil_cluster_term')) >= 2, 'a new term');
    // Its duration, from the decision to the endpoints moved, is in the histogram.
    await waitFor('the failover duration scraped', async () => (await total('pgvigil_failover_duration_seconds_count{kind="failover"}')) >= 1, 20_000, 250);
    assert.ok((await total('pgvigil_failover_duration_seconds_sum{kind="failover"}')) > 0);
  });
});
