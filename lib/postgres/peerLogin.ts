import { readFileSync } from 'node:fs';
import type { SqlTarget } from './pgSql.ts';
import { REPLICATION_USER, type ReplicationAuth } from './standbyConf.ts';

/**
 * How the agent's own SQL reaches a peer (an upstream's timeline, its slot, a CHECKPOINT before
 * a rewind): on a bootstrapped host the superuser never logs in over the network, so it is the
 * replication role, its password read from the passfile and TLS checked against the cluster CA
 * (verify-ca). Without auth (older layouts) the superuser, as before. Read at each call: the
 * bootstrap may have rewritten the passfile (a rotated password).
 */
export function peerTarget(peer: { host: string; port: number }, auth: ReplicationAuth | null | undefined): SqlTarget {
  if (!auth) return peer;
  const line = readFileSync(auth.passfile, 'utf8').split('\n').find((l) => l.split(':')[3] === REPLICATION_USER);
  const password = line?.split(':').slice(4).join(':').replace(/\\(.)/g, '$1');
  if (!password) throw new Error(`${auth.passfile} holds no password for ${REPLICATION_USER}: run pgvigil-agent bootstrap`);
  return {
    ...peer,
    login: { user: REPLICATION_USER, password, ssl: { ca: readFileSync(auth.sslRootCert, 'utf8'), checkServerIdentity: () => undefined } },
  };
}
