/** One structured log line. Fields must never hold the agent key or a signature. */
export type AgentLogEntry = { level: 'info' | 'warn' | 'error'; msg: string } & Record<string, unknown>;
export type AgentLog = (entry: AgentLogEntry) => void;

/** The default sink: one JSON object per line on stderr. */
export function jsonAgentLog(fields: Record<string, unknown> = {}): AgentLog {
  return (entry) => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'agent', ...fields, ...entry })}\n`);
  };
}

/** For tests that want the lines: collects them and optionally forwards. */
export function collectingAgentLog(lines: AgentLogEntry[], forward?: AgentLog): AgentLog {
  return (entry) => {
    lines.push(entry);
    forward?.(entry);
  };
}
