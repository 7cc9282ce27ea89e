import type { CommandWithoutObservations } from '../domain/commands.ts';
import type { DecisionEvent } from '../domain/events.ts';
import { fail } from './cliErrors.ts';
import type { ClusterTarget } from './clusterTarget.ts';

/**
 * Send one operator command and answer what was appended. A refusal exits 2 (nothing
 * changed), a failure 1; with --json the answer is also printed as JSON on stdout.
 */
export async function submitOrExit(target: ClusterTarget, command: CommandWithoutObservations, json: boolean): Promise<{ seq: number; events: DecisionEvent[] }> {
  await target.state();
  const out = await target.submit(command);
  if (out.ok) return out;
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, refused: out.refused, reason: out.reason })}\n`);
  if (out.refused) fail(`refused: ${out.reason}`, `nothing was changed; pgvigil status ${target.flags} shows the cluster`, 2);
  fail(out.reason, `the command may or may not have been recorded: check pgvigil history ${target.flags} --since 5m before retrying`, 1);
}
