import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jsonLog } from '../../log.ts';
import { runWatchdog } from './watchdogDaemon.ts';
import { parseWatchdogSettings } from './watchdogSettings.ts';

/**
 * `pgvigil-agent watchdog --settings <json>`: the agent's watchdog process (watchdogDaemon.ts).
 * The agent starts it itself (watchdogLink.ts); by hand it is only for looking at.
 */
export async function watchdogMain(args: string[]): Promise<number> {
  const usage = 'usage: pgvigil-agent watchdog --settings <json> (the agent starts it; see lib/agent/watchdog)';
  let json: string | undefined;
  try {
    json = parseArgs({ args, options: { settings: { type: 'string' } } }).values.settings;
  } catch (e) {
    process.stderr.write(`pgvigil-agent watchdog: ${(e as Error).message}\n${usage}\n`);
    return 2;
  }
  if (!json) {
    process.stderr.write(`pgvigil-agent watchdog: --settings is required\n${usage}\n`);
    return 2;
  }
  const settings = parseWatchdogSettings(json);
  if (!settings.ok) {
    process.stderr.write(`pgvigil-agent watchdog: ${settings.reason}\n`);
    return 2;
  }
  const log = jsonLog('watchdog', { cluster: settings.value.cluster, node: settings.value.node });
  // Stopped from outside: end without the magic close, so a device keeps counting (the safe side).
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(sig, () => {
      log({ level: 'warn', msg: 'watchdog stopped by a signal: a device left open keeps counting', signal: sig });
      process.exit(1);
    });
  }
  await runWatchdog(settings.value, log);
  return 0;
}

/**
 * How an agent running from source starts its watchdog: this Node with the same loader flags
 * (tsx), on watchdogEntry.ts. The bundled agent passes its own `pgvigil-agent watchdog` (main.ts).
 */
export function sourceWatchdogCommand(): string[] {
  return [process.execPath, ...process.execArgv, fileURLToPath(new URL('./watchdogEntry.ts', import.meta.url))];
}
