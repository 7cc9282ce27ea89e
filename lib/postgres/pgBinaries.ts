import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';

export type PgBinaries = { ok: true; bindir: string; major: number } | { ok: false; reason: string };

/** pgvigil relies on features of PostgreSQL 13+ (wal_keep_size, pg_rewind -R). */
export const MIN_PG_MAJOR = 13;
const REQUIRED = ['postgres', 'initdb', 'pg_ctl'] as const;
const INSTALL_HINT = 'install them with `sudo apt-get install -y postgresql` (Debian/Ubuntu), or set PG_BIN to a directory holding postgres, initdb and pg_ctl';

type Checked = { ok: true; major: number } | { ok: false; why: string };

/**
 * Finds the PostgreSQL server binaries: PG_BIN, `pg_config --bindir`,
 * /usr/lib/postgresql/<major>/bin (highest major first), then PATH.
 * `installRoot` exists so tests can point the versioned search at fake directories.
 */
export function findPgBinaries(
  env: NodeJS.ProcessEnv = process.env,
  opts: { installRoot?: string } = {},
): PgBinaries {
  // An explicit PG_BIN is the operator's choice: a bad one is reported, not silently skipped.
  if (env.PG_BIN) {
    const c = checkBindir(env.PG_BIN, env);
    if (c.ok) return { ok: true, bindir: env.PG_BIN, major: c.major };
    return { ok: false, reason: `PG_BIN=${env.PG_BIN}: ${c.why}; point PG_BIN at a PostgreSQL ${MIN_PG_MAJOR}+ bin directory` };
  }
  const rejected: string[] = [];
  for (const dir of candidates(env, opts.installRoot ?? '/usr/lib/postgresql')) {
    const c = checkBindir(dir, env);
    if (c.ok) return { ok: true, bindir: dir, major: c.major };
    if (c.why !== 'missing') rejected.push(`${dir}: ${c.why}`);
  }
  const seen = rejected.length > 0 ? ` (rejected ${rejected.join('; ')})` : '';
  return { ok: false, reason: `PostgreSQL ${MIN_PG_MAJOR}+ server binaries not found${seen}: ${INSTALL_HINT}` };
}

function* candidates(env: NodeJS.ProcessEnv, installRoot: string): Generator<string> {
  const fromPgConfig = pgConfigBindir(env);
  if (fromPgConfig) yield fromPgConfig;
  yield* versionedDirs(installRoot);
  for (const dir of (env.PATH ?? '').split(delimiter)) if (dir) yield dir;
}

function pgConfigBindir(env: NodeJS.ProcessEnv): string | null {
  const r = spawnSync('pg_config', ['--bindir'], { env, encoding: 'utf8', timeout: 5_000 });
  if (r.status !== 0 || typeof r.stdout !== 'string') return null;
  const dir = r.stdout.trim();
  return dir.length > 0 ? dir : null;
}

function versionedDirs(root: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^\d+$/.test(e))
    .sort((a, b) => Number(b) - Number(a))
    .map((e) => join(root, e, 'bin'));
}

function checkBindir(dir: string, env: NodeJS.ProcessEnv): Checked {
  for (const tool of REQUIRED) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
    } catch {
      return { ok: false, why: dirMissingReason(dir, tool) };
    }
  }
  const r = spawnSync(join(dir, 'postgres'), ['--version'], { env, encoding: 'utf8', timeout: 5_000 });
  const major = parseMajor(typeof r.stdout === 'string' ? r.stdout : '');
  if (r.status !== 0 || major === null) return { ok: false, why: 'postgres --version did not report a version' };
  if (major < MIN_PG_MAJOR) return { ok: false, why: `PostgreSQL ${major} is too old (need ${MIN_PG_MAJOR}+)` };
  return { ok: true, major };
}

/** A directory without postgres at all is just not a candidate; one missing only initdb or pg_ctl is worth reporting. */
function dirMissingReason(dir: string, tool: string): string {
  try {
    accessSync(join(dir, 'postgres'), constants.X_OK);
    return `has postgres but no executable ${tool}`;
  } catch {
    return 'missing';
  }
}

/** "postgres (PostgreSQL) 15.18 (Debian …)" → 15; "postgres (PostgreSQL) 9.6.24" → 9. */
export function parseMajor(versionOutput: string): number | null {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!m || m[1] === undefined) return null;
  return Number(m[1]);
}
