import { watchdogMain } from './watchdogCommand.ts';

// The watchdog process when the agent runs from source (an in-process agent); the bundle runs `pgvigil-agent watchdog`.
watchdogMain(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`pgvigil-agent watchdog: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
