import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { watchdogSocketPath } from '../../lib/agent/watchdog/watchdogDaemon.ts';
import { FromWatchdog, lineReader } from '../../lib/agent/watchdog/watchdogWire.ts';
import type { LogEntry } from '../../lib/log.ts';
import { TEST_KEY } from './agentHarness.ts';
import { testAgentConfig, type TestAgentNode } from './testAgentConfig.ts';

/** An agent in a process of its own (the bundle, as it ships), so a test can SIGSTOP or SIGKILL it. */
export interface ProcessAgent {
  stateDir: string;
  pid(): number;
  /** Its log lines so far (JSON on stderr, into a file). */
  lines(): LogEntry[];
  logged(msg: string): number;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM (a clean stop) and wait for it to exit. */
  stop(): Promise<void>;
}

export async function startProcessAgent(o: TestAgentNode & { bundle: string; osUser: string | null }): Promise<ProcessAgent> {
  const keyFile = join(o.workDir, 'agent.key');
  await writeFile(keyFile, TEST_KEY.toString('utf8'), { mode: 0o600 });
  const config = testAgentConfig(o, { ...(o.osUser ? { osUser: o.osUser } : {}), keyFile });
  const stateDir = config.stateDir;
  const configPath = join(o.workDir, `agent-${o.node.name}.json`);
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const logPath = join(o.workDir, `agent-${o.node.name}.log`);
  let proc: ChildProcess;
  const launch = () => {
    const fd = openSync(logPath, 'a');
    try {
      proc = spawn(process.execPath, [o.bundle, '--config', configPath], { stdio: ['ignore', 'ignore', fd], env: { ...process.env, PGVIGIL_AGENT_KEY: '' } });
    } finally {
      closeSync(fd);
    }
  };
  launch();
  const lines = (): LogEntry[] => {
    if (!existsSync(logPath)) return [];
    return readFileSync(logPath, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogEntry);
  };
  return {
    stateDir,
    pid: () => proc.pid!,
    lines,
    logged: (msg) => lines().filter((l) => l.msg === msg).length,
    signal: (sig) => void proc.kill(sig),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGCONT');
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** The watchdog process's own account of itself, asked over its socket; null when none listens. */
export function watchdogStatus(stateDir: string): Promise<Extract<FromWatchdog, { t: 'status' }> | null> {
  return new Promise((resolve) => {
    const s = createConnection(watchdogSocketPath(stateDir));
    const timer = setTimeout(() => (s.destroy(), resolve(null)), 2_000);
    s.on('data', lineReader(FromWatchdog, (m) => {
      if (m.t !== 'status') return;
      clearTimeout(timer);
      s.end();
      resolve(m);
    }, () => {}));
    s.once('connect', () => s.write(`${JSON.stringify({ t: 'status' })}\n`));
    s.once('error', () => (clearTimeout(timer), resolve(null)));
  });
}
