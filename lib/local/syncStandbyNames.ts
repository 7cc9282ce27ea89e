import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { editAutoConf } from '../postgres/autoConf.ts';
import type { ClusterSpec } from '../domain/spec.ts';
import { writeOwnedFile } from '../postgres/nodeFiles.ts';
import type { OsUser } from '../postgres/osUser.ts';
import { CLUSTER_CONF } from './pgConf.ts';
import { synchronousStandbyNames } from '../domain/syncNames.ts';
import { sqlOnce } from '../postgres/sqlOnce.ts';

/**
 * synchronous_standby_names lives in pgvigil.cluster.conf, the same on every node and
 * listing every node that may be synchronous (the primary too: a server never counts
 * itself). After the spec's nodes change, rewrite it in each local data dir under
 * `workDir` and reload the running servers. Answers the value and which nodes reloaded.
 */
export async function applySynchronousStandbyNames(
  workDir: string,
  spec: ClusterSpec,
  osUser: OsUser | null,
): Promise<{ value: string; written: string[]; reloaded: string[] }> {
  const value = synchronousStandbyNames(
    spec.replication,
    spec.nodes.filter((n) => !n.tags.nosync).map((n) => n.name),
  );
  const written: string[] = [];
  const reloaded: string[] = [];
  for (const node of spec.nodes) {
    const path = join(workDir, node.name, CLUSTER_CONF);
    if (!existsSync(path)) continue;
    const text = await readFile(path, 'utf8');
    await writeOwnedFile(path, editAutoConf(text, { synchronous_standby_names: value }), osUser);
    written.push(node.name);
    // A node that is down reads the file when it starts.
    const ok = await sqlOnce(node.port, 'SELECT pg_reload_conf()', [], { host: node.host, timeoutMs: 2_000 }).then(
      () => true,
      () => false,
    );
    if (ok) reloaded.push(node.name);
  }
  return { value, written, reloaded };
}

/** pg_reload_conf() only signals: wait until the server really uses `value`. */
export async function waitSynchronousStandbyNames(port: number, value: string, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await sqlOnce<{ v: string }>(port, 'SELECT current_setting($1) AS v', ['synchronous_standby_names']).catch(() => []);
    if (rows[0]?.v === value) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
