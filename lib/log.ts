/**
 * One structured log line for every layer (store, agent, control plane, local mode).
 * Fields must never hold secrets: no keys, signatures, passwords or connection strings with them.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogEntry = { level: LogLevel; msg: string } & Record<string, unknown>;
export type Log = (entry: LogEntry) => void;

/** The default sink: one JSON object per line on stderr, so stdout stays free for command output. */
export function jsonLog(component: string, fields: Record<string, unknown> = {}): Log {
  return (entry) => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component, ...fields, ...entry })}\n`);
  };
}

export const silentLog: Log = () => {};

/** For tests that want the lines: collects them and optionally forwards. */
export function collectingLog(lines: LogEntry[], forward?: Log): Log {
  return (entry) => {
    lines.push(entry);
    forward?.(entry);
  };
}
