import { parseArgs } from 'node:util';
import { archivePush, loadArchiveTarget } from '../backup/archivePush.ts';
import { ensurePgOsUser, type OsUser } from '../postgres/osUser.ts';
import { loadAgentConfig } from './agentConfig.ts';
import { loadAgentKeyRing } from './agentKeyRing.ts';
import { startAgent } from './startAgent.ts';
import { bootstrapHost } from '../host/bootstrap.ts';
import { jsonLog } from '../log.ts';
import { watchdogMain } from './watchdog/watchdogCommand.ts';

/** `tsx lib/agent/main.ts --config agent.json`: one agent per database host; SIGTERM stops it. */
async function main(): Promise<number> {
  if (process.argv[2] === 'archive-push') return archivePushMain(process.argv.slice(3));
  if (process.argv[2] === 'bootstrap') return bootstrapMain(process.argv.slice(3));
  if (process.argv[2] === 'watchdog') return watchdogMain(process.argv.slice(3));
  let configPath: string | undefined;
  try {
    configPath = parseArgs({ options: { config: { type: 'string' } } }).values.config;
  } catch (e) {
    process.stderr.write(`pgvigil-agent: ${(e as Error).message}\nusage: pgvigil-agent --config <agent.json>\n`);
    return 2;
  }
  if (!configPath) {
    process.stderr.write('pgvigil-agent: --config is required\nusage: pgvigil-agent --config <agent.json>\n');
    return 2;
  }
  const config = loadAgentConfig(configPath);
  if (!config.ok) {
    process.stderr.write(`pgvigil-agent: ${config.reason}\n`);
    return 2;
  }
  const log = jsonLog('agent', { cluster: config.value.cluster, node: config.value.node });
  const key = await loadAgentKeyRing(config.value, log);
  if (!key.ok) {
    process.stderr.write(`pgvigil-agent: ${key.reason}\n`);
    return 2;
  }
  const osUser = resolveOsUser(config.value.osUser);
  if (!osUser.ok) {
    log({ level: 'error', msg: osUser.reason });
    return 2;
  }
  // The watchdog is this same program (`pgvigil-agent watchdog`), so the bundle that ships carries it.
  const watchdogCommand = [process.execPath, ...process.execArgv, process.argv[1]!, 'watchdog'];
  const agent = await startAgent(config.value, { key: key.value, osUser: osUser.value, log, watchdogCommand });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log({ level: 'info', msg: 'stopping', signal });
      void agent.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

/** `pgvigil-agent archive-push (--target-file archive.json | --config agent.json) %p %f`: PostgreSQL's archive_command. */
async function archivePushMain(args: string[]): Promise<number> {
  const usage = 'usage: pgvigil-agent archive-push --target-file <archive.json> <%p> <%f>';
  let parsed;
  try {
    parsed = parseArgs({ args, options: { 'target-file': { type: 'string' }, config: { type: 'string' } }, allowPositionals: true });
  } catch (e) {
    process.stderr.write(`pgvigil-agent archive-push: ${(e as Error).message}\n${usage}\n`);
    return 2;
  }
  const file = parsed.values['target-file'] ?? parsed.values.config;
  const [walPath, fileName] = parsed.positionals;
  if (!file || !walPath || !fileName) {
    process.stderr.write(`pgvigil-agent archive-push: give the target file and %p %f\n${usage}\n`);
    return 2;
  }
  const target = loadArchiveTarget(file);
  if (!target.ok) {
    process.stderr.write(`pgvigil-agent archive-push: ${target.reason}\n`);
    return 2;
  }
  const r = await archivePush(target.value, walPath, fileName);
  if (!r.ok) {
    process.stderr.write(`pgvigil-agent archive-push: ${r.reason}\n`);
    return 1;
  }
  return 0;
}

/**
 * `pgvigil-agent bootstrap --config agent.json [--json]`: make this host a node of its cluster
 * (lib/host/bootstrap.ts); idempotent, for systemd's ExecStartPre and by hand alike.
 */
async function bootstrapMain(args: string[]): Promise<number> {
  const usage = 'usage: pgvigil-agent bootstrap --config <agent.json> [--json]';
  let parsed;
  try {
    parsed = parseArgs({ args, options: { config: { type: 'string' }, json: { type: 'boolean', default: false } } });
  } catch (e) {
    process.stderr.write(`pgvigil-agent bootstrap: ${(e as Error).message}\n${usage}\n`);
    return 2;
  }
  const path = parsed.values.config;
  if (!path) {
    process.stderr.write(`pgvigil-agent bootstrap: --config is required\n${usage}\n`);
    return 2;
  }
  const config = loadAgentConfig(path);
  if (!config.ok) {
    process.stderr.write(`pgvigil-agent bootstrap: ${config.reason}\n`);
    return 2;
  }
  const { bootstrap, ...agent } = config.value;
  if (!bootstrap) {
    process.stderr.write(`pgvigil-agent bootstrap: ${path} has no "bootstrap" section: add one (README, "Installing on your own hosts")\n`);
    return 2;
  }
  const osUser = resolveOsUser(agent.osUser);
  if (!osUser.ok) {
    process.stderr.write(`pgvigil-agent bootstrap: ${osUser.reason}\n`);
    return 2;
  }
  const log = jsonLog('bootstrap', { cluster: agent.cluster, node: agent.node });
  const r = await bootstrapHost({ ...agent, bootstrap }, osUser.value, log);
  if (parsed.values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else if (r.ok) process.stdout.write(`${agent.node}: ${r.did}${r.from ? ` (from ${r.from})` : ''}; ${r.changed.length > 0 ? `changed ${r.changed.join(', ')}` : 'nothing changed'}\n`);
  else process.stderr.write(`pgvigil-agent bootstrap: ${agent.node}: ${r.reason}\n`);
  return r.ok ? 0 : 1;
}

/** As root, PG tools must run as an unprivileged user: the configured one, else pgvigil's default. */
function resolveOsUser(name: string | undefined): { ok: true; value: OsUser | null } | { ok: false; reason: string } {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) return { ok: true, value: null };
  try {
    return { ok: true, value: ensurePgOsUser(name) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`pgvigil-agent: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
