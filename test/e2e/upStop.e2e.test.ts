import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { isAlive, isPostmasterOf, readPostmasterPid } from '../../lib/postgres/nodeFiles.ts';
import { waitFor } from '../support/waitFor.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const BASE = 16440;
const NODES = ['pg1', 'pg2', 'pg3'];

interface Up {
  child: ChildProcess;
  /** Everything up wrote on stdout so far (through the reader, when there is one). */
  out(): string;
  err(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `pgvigil up` as `npm start | tee log` runs it: its stdout a pipe into `cat`, which the test
 * can kill as a Ctrl-C kills tee. Without a reader, its stdout is a pipe the test reads.
 */
function startUp(workDir: string, reader: ChildProcess | null): Up {
  let out = '';
  let err = '';
  const stdout = reader ? reader.stdin! : 'pipe';
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'up', '--workdir', workDir, '--base-port', String(BASE)], {
    cwd: repo,
    stdio: ['ignore', stdout, 'pipe'],
  });
  (reader ? reader.stdout! : child.stdout!).on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, out: () => out, err: () => err, exited };
}

function cat(): ChildProcess {
  return spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
}

/** The live postmaster of each node of the work dir, by its postmaster.pid. */
async function postmasters(workDir: string): Promise<Map<string, number>> {
  const live = new Map<string, number>();
  for (const n of NODES) {
    const dataDir = join(workDir, n);
    const pid = await readPostmasterPid(dataDir);
    if (pid !== null && isPostmasterOf(pid, dataDir)) live.set(n, pid);
  }
  return live;
}

/** The agent pids the work dir's pid files name that are still alive. */
async function agents(workDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const n of NODES) {
    const pid = Number((await readFile(join(workDir, 'agents', n, 'agent.pid'), 'utf8').catch(() => '')).trim());
    if (pid > 0 && isAlive(pid)) pids.push(pid);
  }
  return pids;
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const isUp = (up: Up) => waitFor('pgvigil up to say it is up', () => /pgvigil is up in/.test(up.out()) || (up.child.exitCode !== null ? Promise.reject(new Error(`up exited: ${up.err()}`)) : false), 120_000, 200);

describe('pgvigil up stops what it started whatever happens to its output, and a later up adopts what was left running', () => {
  let workDir: string;
  const started: ChildProcess[] = [];

  before(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'pgvigil-up-'));
  });
  after(async () => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    // Whatever a failed case left: no server may outlive the test.
    for (const pid of (await postmasters(workDir)).values()) process.kill(pid, 'SIGKILL');
    for (const pid of await agents(workDir)) process.kill(pid, 'SIGKILL');
    await rm(workDir, { recursive: true, force: true });
  });

  test('its reader killed, then Ctrl-C: up still stops every PostgreSQL server and its agents, and exits', async () => {
    const reader = cat();
    const up = startUp(workDir, reader);
    started.push(reader, up.child);
    await isUp(up);
    assert.equal((await postmasters(workDir)).size, 3, 'three servers run');
    reader.kill('SIGKILL');
    await new Promise((r) => reader.once('exit', r));
    up.child.kill('SIGINT');
    const end = await within(up.exited, 60_000, 'up to exit after SIGINT');
    assert.deepEqual([...(await postmasters(workDir)).keys()], [], 'no postmaster of the work dir is left');
    assert.deepEqual(await agents(workDir), [], 'no agent is left');
    assert.doesNotMatch(up.err(), /EPIPE|at .*\(.*:\d+:\d+\)/, 'no stack trace');
    assert.equal(end.code, 0, `up exits 0 after a clean stop (stderr: ${up.err()})`);
  });

  test('up killed outright leaves its servers running: the next up adopts them and says so, and SIGHUP stops them', async () => {
    const first = startUp(workDir, null);
    started.push(first.child);
    await isUp(first);
    first.child.kill('SIGKILL');
    await within(first.exited, 10_000, 'up to die of SIGKILL');
    const left = await postmasters(workDir);
    assert.equal(left.size, 3, 'SIGKILL leaves the servers running');

    const again = startUp(workDir, null);
    started.push(again.child);
    await isUp(again);
    for (const [name, pid] of left) assert.match(again.out(), new RegExp(`adopted ${name} \\(already running, pid ${pid}\\)`), `up says it adopted ${name}`);
    assert.deepEqual(await postmasters(workDir), left, 'the same servers, not restarted');

    again.child.kill('SIGHUP');
    const end = await within(again.exited, 60_000, 'up to exit after SIGHUP');
    assert.equal(end.code, 0, `up exits 0 (stderr: ${again.err()})`);
    assert.deepEqual([...(await postmasters(workDir)).keys()], [], 'SIGHUP stopped every server');
    assert.deepEqual(await agents(workDir), [], 'and every agent, those the killed up left too');
  });
});
