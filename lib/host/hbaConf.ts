import { REPLICATION_USER } from '../postgres/standbyConf.ts';
import { MONITOR_USER } from './roles.ts';

/**
 * pg_hba.conf for a node: over the network only TLS and scram-sha-256 (the replication role,
 * the monitoring role and application roles with passwords); the superuser never over the
 * network. On a host the superuser logs in over the unix socket by peer (the OS user of the
 * server, or root for the agent, mapped in pg_ident.conf); local mode has no socket and keeps
 * one loopback trust line for the superuser, its agents and tests all being on one machine.
 */
export interface HbaInput {
  /** Where clients and peers connect from: the VPC, the hosts' subnet, 127.0.0.1/32 locally. */
  clientCidrs: string[];
  superuser: 'socket-peer' | 'loopback-trust';
}

export const IDENT_MAP = 'pgvigil';

export function hbaText(input: HbaInput): string {
  const lines = ['# written by pgvigil: TLS and scram-sha-256 over the network, the superuser never'];
  if (input.superuser === 'socket-peer') {
    lines.push(`local all postgres peer map=${IDENT_MAP}`);
  } else {
    lines.push('# LOCAL MODE ONLY: the superuser on loopback, for the agents and tests of this one machine');
    lines.push('host all postgres 127.0.0.1/32 trust');
  }
  lines.push('host all postgres all reject');
  for (const cidr of input.clientCidrs) {
    lines.push(`hostssl replication ${REPLICATION_USER} ${cidr} scram-sha-256`);
    // pg_rewind's source session (the role holds the four file functions it needs).
    lines.push(`hostssl postgres ${REPLICATION_USER} ${cidr} scram-sha-256`);
    lines.push(`hostssl all ${MONITOR_USER} ${cidr} scram-sha-256`);
    lines.push(`hostssl all all ${cidr} scram-sha-256`);
  }
  return `${lines.join('\n')}\n`;
}

/** pg_ident.conf: who may be the superuser over the socket (the server's OS user, and root for the agent and bootstrap). */
export function identText(osUser: string): string {
  const users = [...new Set([osUser, 'root'])];
  return `# written by pgvigil\n${users.map((u) => `${IDENT_MAP} ${u} postgres`).join('\n')}\n`;
}
