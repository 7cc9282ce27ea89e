import pg from 'pg';
import { parseWith } from '../domain/parse.ts';
import { NODE_QUERY, NodeRow } from './nodeQuerySql.ts';
import { pgSslOption, type ProbeTls } from './probeLogin.ts';
import { ProbeDeadline, classifyProbeError, type ProbeError } from './probeError.ts';

export interface ProbeConnection {
  host: string;
  port: number;
  user: string;
  database: string;
  /** Never logged. */
  password?: string | undefined;
  ssl?: ProbeTls | undefined;
}

export type QueryOutcome = { ok: true; row: NodeRow } | { ok: false; error: ProbeError };

/**
 * One short-lived connection, one query. The prober's own deadline is authoritative:
 * pg's connect timeout and the server's statement_timeout are backstops set a little
 * later, so a silent node is always reported as 'timeout', never as something pg guessed.
 */
export async function runNodeQuery(conn: ProbeConnection, timeoutMs: number): Promise<QueryOutcome> {
  const client = new pg.Client({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    database: conn.database,
    password: conn.password,
    ssl: pgSslOption(conn.ssl, conn.host),
    connectionTimeoutMillis: timeoutMs + 250,
    statement_timeout: timeoutMs,
    application_name: 'pgvigil-probe',
  });
  // A socket destroyed under a live client emits 'error' later; the outcome is already decided.
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeDeadline(timeoutMs)), timeoutMs);
  });
  const work = (async () => {
    await client.connect();
    const r = await client.query(NODE_QUERY);
    return r.rows[0] as unknown;
  })();
  work.catch(() => {}); // settled below or abandoned after the deadline
  let answered = false;
  try {
    const raw = await Promise.race([work, deadline]);
    answered = true;
    const parsed = parseWith(NodeRow, raw, 'unexpected answer');
    return parsed.ok ? { ok: true, row: parsed.value } : { ok: false, error: { kind: 'other', message: parsed.reason } };
  } catch (e) {
    return { ok: false, error: classifyProbeError(e) };
  } finally {
    clearTimeout(timer);
    close(client, answered, timeoutMs);
  }
}

/**
 * A node that answered gets a polite goodbye (no "unexpected EOF" in its log), bounded in
 * case it freezes now; one that didn't gets its socket destroyed: end() would wait for it.
 */
function close(client: pg.Client, answered: boolean, timeoutMs: number): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  if (!answered) {
    stream?.destroy();
    return;
  }
  const guard = setTimeout(() => stream?.destroy(), timeoutMs);
  guard.unref();
  client.end().then(() => clearTimeout(guard), () => stream?.destroy());
}
