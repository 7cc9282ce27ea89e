import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { REPLICATION_USER } from '../postgres/standbyConf.ts';

/** The probe's login: pg_monitor and nothing else (issue 14 item 2). */
export const MONITOR_USER = 'pgvigil_monitor';

const ITERATIONS = 4096;

/**
 * A SCRAM-SHA-256 verifier (RFC 7677, PostgreSQL's rolpassword format), made here so the
 * password itself never travels to the server nor lands in its log. Passwords are ASCII
 * (generatePassword), for which SASLprep changes nothing.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = ITERATIONS): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Does a stored verifier belong to this password (same salt and iterations)? Lets a re-run leave a role as it is. */
export function verifierMatches(verifier: string | null, password: string): boolean {
  const m = verifier ? /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(verifier) : null;
  if (!m) return false;
  return scramVerifier(password, Buffer.from(m[2]!, 'base64'), Number(m[1])) === verifier;
}

export interface RolePasswords {
  monitor: string;
  replication: string;
}

/** Statements that bring the roles to what the cluster needs, given the verifiers stored now. Empty when nothing is to change. */
export function roleStatements(current: Map<string, string | null>, passwords: RolePasswords): string[] {
  const out: string[] = [];
  const role = (name: string, attrs: string, password: string) => {
    if (!current.has(name)) out.push(`CREATE ROLE ${name} WITH ${attrs}`);
    if (!verifierMatches(current.get(name) ?? null, password)) out.push(`ALTER ROLE ${name} WITH ${attrs} PASSWORD '${scramVerifier(password)}'`);
  };
  role(REPLICATION_USER, 'LOGIN REPLICATION NOSUPERUSER', passwords.replication);
  role(MONITOR_USER, 'LOGIN NOREPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE', passwords.monitor);
  return out;
}

/** Grants that are idempotent in PostgreSQL itself: pg_monitor for the probe; pg_rewind's file functions for the replication role. */
export const ROLE_GRANTS = [
  `GRANT pg_monitor TO ${MONITOR_USER}`,
  `GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO ${REPLICATION_USER}`,
  `GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO ${REPLICATION_USER}`,
  `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO ${REPLICATION_USER}`,
  `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO ${REPLICATION_USER}`,
  // What the agent asks a peer before it follows (lib/agent/actions/pointAtUpstream.ts): timelines, control data, history files.
  `GRANT pg_monitor TO ${REPLICATION_USER}`,
  `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_file(text) TO ${REPLICATION_USER}`,
  // The rewind's CHECKPOINT on its source (lib/agent/actions/rewind.ts); the role exists from PostgreSQL 15.
  `DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_checkpoint') THEN GRANT pg_checkpoint TO ${REPLICATION_USER}; END IF; END $$`,
];

export const CURRENT_ROLES_SQL = `SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ('${REPLICATION_USER}', '${MONITOR_USER}')`;
