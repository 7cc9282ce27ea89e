import pg from 'pg';
import { pgSslOption } from '../probe/probeLogin.ts';
import type { ProbeLogin } from '../probe/probeLogin.ts';

/**
 * A connection to a peer as the monitoring role over TLS, bounded by `timeoutMs`: the bootstrap's
 * questions before it copies (peerRole, readCloneView). Not yet connected; errors after connect
 * are the caller's to read from its queries.
 */
export function monitorClient(peer: { host: string; port: number }, login: ProbeLogin, timeoutMs: number): pg.Client {
  const client = new pg.Client({
    host: peer.host,
    port: peer.port,
    user: login.user,
    password: login.password,
    database: login.database ?? 'postgres',
    ssl: pgSslOption(login.ssl, peer.host),
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    application_name: 'pgvigil-bootstrap',
  });
  client.on('error', () => {});
  return client;
}

export type PeerRole = 'primary' | 'standby' | 'unreachable';

/** What a peer is right now, asked as the monitoring role over TLS (the bootstrap's one question before it copies). */
export async function peerRole(peer: { host: string; port: number }, login: ProbeLogin, timeoutMs = 3_000): Promise<PeerRole> {
  const client = monitorClient(peer, login, timeoutMs);
  try {
    await client.connect();
    const r = await client.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
    return r.rows[0]?.recovery ? 'standby' : 'primary';
  } catch {
    return 'unreachable';
  } finally {
    void client.end().catch(() => {});
  }
}
