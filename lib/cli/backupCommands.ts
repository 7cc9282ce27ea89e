import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { Command } from 'commander';
import { z } from 'zod';
import { agentTargetOf, callAgent } from '../agent/agentClient.ts';
import { describeTarget, openArchive, type ArchiveStore } from '../backup/archiveStore.ts';
import type { ArchiveTarget } from '../backup/archiveTarget.ts';
import { parseArchiveUrl } from '../backup/archiveUrl.ts';
import { BackupId } from '../backup/backupManifest.ts';
import { listBackups, type BackupEntry } from '../backup/backupList.ts';
import { verifyBackup } from '../backup/restoreVerify.ts';
import { restoreBackup } from '../backup/restoreBackup.ts';
import { localArchiveTarget, localArchiveTargetFile } from '../local/localArchive.ts';
import { readLocalWorkDir } from '../local/localWorkDir.ts';
import { ensurePgOsUser } from '../postgres/osUser.ts';
import { findPgBinaries } from '../postgres/pgBinaries.ts';
import { chooseStandbySource } from '../local/standbySource.ts';
import { loadState } from '../store/loadState.ts';
import { closeStore, createStore } from '../store/store.ts';
import { fail, parseIntOption, parseOption } from './cliErrors.ts';
import { invokeFunction } from './decideInvoke.ts';
import { parseTimeArg } from './timeArg.ts';
import { untilInterrupted } from './interrupt.ts';
import { renderTable } from './table.ts';

const DURATION_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A backup can take hours on a big database: the agent answers when it is done. */
const BACKUP_TIMEOUT_MS = 6 * 3_600_000;

type ArchiveCliOptions = { workdir: string; archive?: string; json?: boolean };

/** `--archive` when given, else the archive of the local cluster in --workdir. */
function archiveTargetOf(opts: ArchiveCliOptions): ArchiveTarget {
  if (opts.archive !== undefined) {
    const parsed = parseArchiveUrl(opts.archive);
    if (!parsed.ok) fail(parsed.reason, 'pass a directory or s3://bucket/prefix/');
    return parsed.target;
  }
  if (!existsSync(localArchiveTargetFile(opts.workdir))) {
    fail(`no archive in ${opts.workdir} (no archive.json)`, 'pass --archive DIR|s3://bucket/prefix/, or the --workdir of a `pgvigil up` cluster');
  }
  return localArchiveTarget(readLocalWorkDirOrFail(opts.workdir).workDir);
}

function readLocalWorkDirOrFail(dir: string) {
  const files = readLocalWorkDir(dir);
  if (!files.ok) fail(files.reason, 'start it first, or pass its --workdir');
  return files.value;
}

export function parseEvery(value: string): number {
  const m = /^(\d+)\s*([mhd])$/.exec(value.trim());
  const ms = m ? Number(m[1]) * DURATION_MS[m[2]!]! : NaN;
  if (!Number.isFinite(ms) || ms < 60_000) fail(`--every "${value}" is not a period of at least a minute`, 'pass e.g. --every 6h, --every 1d or --every 30m');
  return ms;
}

type BackupCliOptions = ArchiveCliOptions & { cluster?: string; from?: string; every?: string; decideFunction?: string; region?: string };

/**
 * AWS mode: the decide function takes it, as it does on the stack's schedule: it picks a
 * streaming standby from the latest observations and asks that node's agent.
 */
async function backupThroughDecide(opts: BackupCliOptions, functionName: string): Promise<BackupResult> {
  if (opts.from !== undefined) return { ok: false, node: opts.from, reason: '--from is local mode only: on AWS decide picks the least lagging streaming standby' };
  if (opts.cluster === undefined) fail('--cluster is required with --decide-function', 'pass the cluster name of the stack, e.g. --cluster main');
  const lambda = new LambdaClient(opts.region ? { region: opts.region } : {});
  try {
    const out = await invokeFunction(lambda, functionName, { source: 'pgvigil.schedule', action: 'backup', cluster: opts.cluster });
    if (!out.ok) return { ok: false, node: null, reason: out.reason };
    let answer;
    try {
      answer = DecideBackupAnswer.safeParse(JSON.parse(out.text));
    } catch {
      answer = null;
    }
    if (!answer?.success) return { ok: false, node: null, reason: `decide function ${functionName} answered something unexpected: ${out.text.slice(0, 300)}` };
    const b = answer.data.backup;
    return b.ok ? { ok: true, id: b.backupId, node: b.node, bytes: null, ms: null, stopLsn: null } : { ok: false, node: b.node, reason: b.reason };
  } finally {
    lambda.destroy();
  }
}

const DecideBackupAnswer = z.object({
  backup: z.union([
    z.object({ ok: z.literal(true), node: z.string(), backupId: z.string(), reason: z.string() }),
    z.object({ ok: z.literal(false), node: z.string().nullable(), reason: z.string() }),
  ]),
});

/** bytes, ms and stopLsn are known when the agent was asked directly (local mode); decide reports the id only. */
type BackupResult = { ok: true; id: string; node: string; bytes: number | null; ms: number | null; stopLsn: string | null } | { ok: false; node: string | null; reason: string };

/** One backup of the local cluster: the chosen standby's agent takes it into the archive. */
async function backupOnce(opts: BackupCliOptions): Promise<BackupResult> {
  const files = readLocalWorkDirOrFail(opts.workdir);
  const store = createStore(files.storeConfig, () => {});
  let state;
  try {
    const loaded = await loadState(store, opts.cluster ?? 'local');
    if (!loaded.ok) return { ok: false, node: null, reason: `the store does not answer (${loaded.reason}): is pgvigil up running?` };
    state = loaded.state;
  } finally {
    closeStore(store);
  }
  if (state.spec === null) return { ok: false, node: null, reason: 'the cluster is not initialized: start it with pgvigil up' };
  const source = await chooseStandbySource(state.spec, state.primary, opts.from);
  if (!source.ok) return { ok: false, node: opts.from ?? null, reason: source.reason };
  const node = source.node;
  if (!opts.json) process.stdout.write(`… ${node.name}'s agent takes a compressed base backup of its standby (the primary serves none)\n`);
  const r = await callAgent(agentTargetOf(state.spec.cluster, node, files.agentCa), files.agentKey, 'backup', {}, { timeoutMs: BACKUP_TIMEOUT_MS });
  if (!r.ok) return { ok: false, node: node.name, reason: r.reason };
  return { ok: true, id: r.id, node: node.name, bytes: r.bytes, ms: r.ms, stopLsn: r.stopLsn };
}

function backupLine(r: Extract<BackupResult, { ok: true }>): string {
  const size = r.bytes !== null && r.ms !== null ? `: ${mb(r.bytes)} in ${(r.ms / 1000).toFixed(1)} s` : '';
  return `backup ${r.id} taken from ${r.node}${size}${r.stopLsn ? `, ends at ${r.stopLsn}` : ''}`;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('a compressed base backup taken from a standby into the archive (WAL is archived continuously from the primary)')
    .option('--workdir <dir>', 'local mode: the work dir of a running `pgvigil up`', '.pgvigil')
    .option('--cluster <name>', 'the cluster name (local mode: local)')
    .option('--from <standby>', 'the standby to back up (default: the first streaming standby)')
    .option('--every <period>', 'keep running and take one every period (e.g. 6h, 1d) until Ctrl-C')
    .option('--decide-function <name>', 'AWS mode: ask the stack\'s decide Lambda (default: PGVIGIL_DECIDE_FUNCTION); needs --cluster')
    .option('--region <region>', 'AWS mode: the Lambda\'s region (default: AWS_REGION)')
    .option('--json', 'print each outcome as one JSON line on stdout')
    .addHelpText('after', '\nOn AWS the stack schedules backups itself (EventBridge, see README); --decide-function takes one now.\n\nExamples:\n  $ pgvigil backup\n  $ pgvigil backup --every 6h')
    .action(async (opts: BackupCliOptions) => {
      const every = opts.every !== undefined ? parseEvery(opts.every) : null;
      let failed = false;
      const decideFunction = opts.decideFunction ?? process.env['PGVIGIL_DECIDE_FUNCTION'];
      const once = async () => {
        const r = decideFunction ? await backupThroughDecide(opts, decideFunction) : await backupOnce(opts);
        if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else if (r.ok) process.stdout.write(`${backupLine(r)}\n  verify it: pgvigil restore --verify ${r.id} ${decideFunction ? '--archive s3://<ArchiveBucketName>/' : `--workdir ${opts.workdir}`}\n`);
        else process.stderr.write(`pgvigil: backup failed${r.node ? ` on ${r.node}` : ''}: ${r.reason}\n`);
        failed = !r.ok;
      };
      if (every === null) {
        await once();
        if (failed) process.exit(1);
        return;
      }
      if (!opts.json) process.stdout.write(`taking a backup every ${opts.every}; Ctrl-C stops\n`);
      await untilInterrupted(once, every);
    });

  program
    .command('backups')
    .description('the backups in the archive, with whether and when each was verified')
    .option('--workdir <dir>', 'local mode: the work dir of a running `pgvigil up`', '.pgvigil')
    .option('--archive <where>', 'the archive: a directory or s3://bucket/prefix/ (default: the local cluster\'s)')
    .option('--json', 'print the list as JSON')
    .action(async (opts: ArchiveCliOptions) => {
      const target = archiveTargetOf(opts);
      const archive = await openArchive(target);
      const listed = await listBackups(archive);
      if (!listed.ok) fail(listed.reason, 'check the archive is reachable (and AWS credentials for S3)', 1);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ archive: describeTarget(target), backups: listed.backups })}\n`);
        return;
      }
      if (listed.backups.length === 0) {
        process.stdout.write(`no backups in ${describeTarget(target)}: take one with pgvigil backup\n`);
        return;
      }
      process.stdout.write(`${renderTable(['ID', 'FROM', 'TAKEN', 'SIZE', 'ENDS AT', 'VERIFIED'], listed.backups.map(backupRow))}\n`);
    });

  program
    .command('restore')
    .argument('[backup]', 'the backup id (from pgvigil backups) to restore --into a new data directory')
    .description('restore a backup into a new data directory (--into), or check one in a temporary instance (--verify)')
    .option('--into <dir>', 'the new data directory (absent or empty): the restored instance is left there, stopped, ready to start')
    .option('--verify <backup>', 'restore this backup into a temporary instance, replay WAL, check it, remove it')
    .option('--target-time <time>', 'replay to this time (ISO, UTC without zone, or 30m / 2h ago) instead of the backup end: point-in-time restore')
    .option('--port <port>', 'with --into: the port the restored instance listens on, on 127.0.0.1 (default: a free one)')
    .option('--workdir <dir>', 'local mode: the work dir of a running `pgvigil up`', '.pgvigil')
    .option('--archive <where>', 'the archive: a directory or s3://bucket/prefix/ (default: the local cluster\'s)')
    .option('--json', 'print the outcome as JSON on stdout')
    .addHelpText(
      'after',
      '\nNeeds PostgreSQL server binaries of the backup\'s major version on this machine.\n\nExamples:\n  $ pgvigil restore --verify 20261124T031500Z-pg2\n  $ pgvigil restore --verify 20261124T031500Z-pg2 --target-time 2026-11-24T04:00:00Z\n  $ pgvigil restore 20261124T031500Z-pg2 --into /srv/pg/restored --target-time 2026-11-24T04:00:00Z',
    )
    .action(async (backup: string | undefined, opts: ArchiveCliOptions & { verify?: string; into?: string; port?: string; targetTime?: string }) => {
      if (opts.verify !== undefined && (backup !== undefined || opts.into !== undefined)) {
        fail('give either --verify ID (check a backup) or ID --into DIR (restore it), not both', 'e.g. pgvigil restore 20261124T031500Z-pg2 --into /srv/pg/restored');
      }
      if (opts.verify === undefined && (backup === undefined || opts.into === undefined)) {
        fail(backup === undefined ? 'which backup? give its id' : `where to? give --into DIR for backup ${backup}`, 'pgvigil restore ID --into DIR restores it; pgvigil restore --verify ID checks it; pgvigil backups lists the ids');
      }
      const id = parseOption(opts.verify !== undefined ? '--verify' : 'backup', (opts.verify ?? backup)!, BackupId, 'pgvigil backups lists the ids');
      if (opts.port !== undefined && opts.into === undefined) fail('--port goes with --into: a verification picks its own free port', 'leave --port out, or restore with --into DIR');
      const port = opts.port === undefined ? undefined : parseIntOption('--port', opts.port, 1024, 65535);
      let targetTime: Date | undefined;
      if (opts.targetTime !== undefined) {
        const at = parseTimeArg('--target-time', opts.targetTime, Date.now(), 'ago');
        if (!at.ok) fail(at.reason, 'e.g. --target-time 2026-11-24T04:00:00Z, or --target-time 30m for half an hour ago');
        targetTime = new Date(at.at);
      }
      const bins = findPgBinaries();
      if (!bins.ok) fail(bins.reason, 'install PostgreSQL server binaries (scripts/setup.sh)', 1);
      const target = archiveTargetOf(opts);
      const archive: ArchiveStore = await openArchive(target);
      const osUser = ensurePgOsUser();
      const progress = (step: string) => {
        if (!opts.json) process.stdout.write(`… ${step}\n`);
      };
      if (opts.into !== undefined) {
        const out = await restoreBackup({ archive, id, ...(targetTime ? { targetTime } : {}), ...(port !== undefined ? { port } : {}), bindir: bins.bindir, osUser, into: opts.into, progress });
        if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`);
        if (!out.ok && out.refused) fail(out.reason, 'pass a new (or empty) directory to --into and a free --port, or leave --port out');
        if (!out.ok) fail(`backup ${id} did not restore: ${out.reason}`, 'pgvigil restore --verify ID says whether the backup restores; an older backup may', 1);
        if (!opts.json) {
          const as = osUser ? `sudo -u ${osUser.name} ` : '';
          process.stdout.write(
            `restored: backup ${id} to ${out.target} into ${out.into} (${(out.ms / 1000).toFixed(1)} s), stopped\n` +
              `  start it: ${as}${join(bins.bindir, 'pg_ctl')} start -D ${out.into} -l ${out.logFile}\n` +
              `  connect: postgresql://127.0.0.1:${out.port}/ (loopback only, archiving off, nobody's standby: postgresql.auto.conf holds these)\n`,
          );
        }
        return;
      }
      const out = await verifyBackup({
        archive,
        id,
        ...(targetTime ? { targetTime } : {}),
        bindir: bins.bindir,
        osUser,
        scratchDir: existsSync(opts.workdir) ? join(opts.workdir, 'restores') : join(process.cwd(), '.pgvigil-restores'),
        progress,
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      if (!out.ok) fail(`backup ${id} did not restore: ${out.reason}`, 'pgvigil backups shows it as failed; take a new backup and verify that', 1);
      const v = out.verification;
      if (!opts.json) process.stdout.write(`${v.ok ? 'verified' : 'FAILED'}: backup ${id}: ${v.reason} (${(v.ms / 1000).toFixed(1)} s)\n`);
      if (!v.ok) process.exit(1);
    });
}

function backupRow(b: BackupEntry): string[] {
  const verified = !b.complete
    ? 'incomplete (no manifest)'
    : b.verification === null
      ? 'not verified'
      : `${b.verification.ok ? 'ok' : 'FAILED'} ${b.verification.at.slice(0, 19)}Z${b.verification.target === 'backup end' ? '' : ` to ${b.verification.target}`}`;
  return [b.id, b.node ?? '?', b.startedAt ? `${b.startedAt.slice(0, 19)}Z` : '?', mb(b.bytes), b.stopLsn ?? '?', verified];
}
