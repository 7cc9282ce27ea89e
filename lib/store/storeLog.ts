/** One structured log line. Fields must never hold secrets: the store logs keys and reasons only. */
export type StoreLogEntry = { level: 'info' | 'warn' | 'error'; msg: string } & Record<string, unknown>;
export type StoreLog = (entry: StoreLogEntry) => void;

/** The default sink: one JSON object per line on stderr, so stdout stays free for command output. */
export const jsonStderrLog: StoreLog = (entry) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'store', ...entry })}\n`);
};
