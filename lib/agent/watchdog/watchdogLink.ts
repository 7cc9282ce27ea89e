import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import type { PgServer } from '../../postgres/pgServer.ts';
import type { Log } from '../../log.ts';
import { hostMonotonicMs, perfToHostMonotonic } from './hostClock.ts';
import { watchdogSocketPath } from './watchdogDaemon.ts';
import type { WatchdogSettings } from './watchdogSettings.ts';
import { FromWatchdog, lineReader, type ToWatchdog, type WatchdogEventName } from './watchdogWire.ts';

/** What the agent's metrics count of its watchdog (agentMetrics.ts). */
export interface WatchdogMetrics {
  event(name: WatchdogEventName): void;
}

export interface WatchdogLinkOptions {
  settings: WatchdogSettings;
  /** The watchdog process's command line, without its `--settings`. */
  command: string[];
  pg: PgServer;
  term: () => number;
  log: Log;
  metrics?: WatchdogMetrics;
  /** How often PostgreSQL's role is read: primary arms the watchdog, standby or stopped disarms it. */
  roleEveryMs: number;
}

/** The agent's side of its watchdog (watchdogDaemon.ts). */
export interface WatchdogLink {
  /** The lease rule lets PostgreSQL serve as primary until this performance.now() instant (null: no news). */
  servingUntil(perfMs: number | null): void;
  /** A clean agent stop: disarm and end the watchdog process. */
  close(why: string): Promise<void>;
}

type Role = 'primary' | 'standby' | 'stopped' | 'unknown';

/**
 * Connects to this state directory's watchdog process, starting it (detached, so it outlives
 * a crash or a hang of the agent) when none listens; one left by an earlier run of the agent is
 * adopted. Arms it only while PostgreSQL here is a primary (read every `roleEveryMs`), feeding
 * it each deadline the lease loop reports; disarms it when PostgreSQL is a standby or stopped.
 */
export function startWatchdogLink(o: WatchdogLinkOptions): WatchdogLink {
  const socketPath = watchdogSocketPath(o.settings.stateDir);
  let sock: Socket | null = null;
  let connecting: Promise<void> | null = null;
  let closing = false;
  /** The latest deadline reported, on the host's monotonic clock. */
  let until: number | null = null;
  /** What the watchdog process was last told; null after a (re)connect: tell it again. */
  let told: 'armed' | 'disarmed' | null = null;
  let role: Role = 'unknown';
  let sampling = false;

  const send = (m: ToWatchdog) => {
    if (sock && !sock.destroyed) sock.write(`${JSON.stringify(m)}\n`);
  };
  const feed = () => {
    if (until === null) return;
    // Never armed on a deadline already past: that is the agent's own self-fence to make (a
    // standby just promoted may hold only a standby-cadence renewal); the next renewal arms it.
    if (told !== 'armed' && until <= hostMonotonicMs()) return;
    send({ t: 'feed', until, term: o.term() });
    told = 'armed';
  };

  const onEvent = (m: FromWatchdog) => {
    if (m.t !== 'event') return;
    o.metrics?.event(m.event);
    const level = m.event === 'fire-failed' || m.event === 'device-unavailable' ? 'error' : m.event === 'fired' ? 'warn' : 'info';
    o.log({ level, msg: m.msg, from: 'watchdog process', event: m.event, ...(m.why !== undefined ? { why: m.why } : {}) });
    // Fired or disarmed on its own: a later feed arms it again only when PostgreSQL is a primary again.
    if (m.event === 'fired' || m.event === 'disarmed') told = 'disarmed';
  };

  const attach = (s: Socket) => {
    sock = s;
    told = null;
    s.on('data', lineReader(FromWatchdog, onEvent, (why) => o.log({ level: 'warn', msg: 'watchdog process: bad message ignored', why })));
    s.on('error', () => {});
    s.once('close', () => {
      if (sock === s) sock = null;
      if (!closing) o.log({ level: 'error', msg: 'watchdog process connection lost: reconnecting (starting it again if it is gone)' });
    });
  };

  const tryConnect = () =>
    new Promise<Socket | null>((resolve) => {
      const s = createConnection(socketPath);
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(null));
    });

  const start = () => {
    const logPath = join(o.settings.stateDir, 'watchdog.log');
    const fd = openSync(logPath, 'a', 0o600);
    try {
      const [cmd, ...args] = o.command;
      const child = spawn(cmd!, [...args, '--settings', JSON.stringify(o.settings)], { detached: true, stdio: ['ignore', fd, fd] });
      child.unref();
      o.log({ level: 'info', msg: 'watchdog process started', pid: child.pid ?? null, log: logPath });
    } finally {
      closeSync(fd);
    }
  };

  const connect = () => {
    connecting ??= (async () => {
      let s = await tryConnect();
      if (!s) {
        start();
        for (let i = 0; i < 200 && !s && !closing; i++) {
          await new Promise((r) => setTimeout(r, 50));
          s = await tryConnect();
        }
      }
      if (!s) return o.log({ level: 'error', msg: 'watchdog process not listening: PostgreSQL serves unguarded by it until it is', socket: socketPath });
      if (closing) return void s.destroy();
      attach(s);
      apply();
    })().finally(() => (connecting = null));
    return connecting;
  };

  /** Tell the watchdog what the role calls for, when that differs from what it was told. */
  const apply = () => {
    if (role === 'primary' && told !== 'armed') feed();
    else if ((role === 'standby' || role === 'stopped') && told !== 'disarmed') {
      send({ t: 'disarm', why: role === 'standby' ? 'PostgreSQL here is a standby' : 'PostgreSQL is not running here' });
      told = 'disarmed';
    }
  };

  const readRole = async (): Promise<Role> => {
    if ((await o.pg.postmasterPid()) === null) return 'stopped';
    const r = await o.pg.sql<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby', [], 1_000);
    if (!r.ok || r.rows.length === 0) return 'unknown';
    return r.rows[0]!.standby ? 'standby' : 'primary';
  };

  const timer = setInterval(() => {
    if (sampling || closing) return;
    sampling = true;
    void (async () => {
      const next = await readRole();
      // Not answering: keep what it was told (armed stays armed, the safe side).
      if (next !== 'unknown') role = next;
      if (!sock) await connect();
      else apply();
    })()
      .catch((e: unknown) => o.log({ level: 'error', msg: 'watchdog role check threw', error: String(e) }))
      .finally(() => (sampling = false));
  }, o.roleEveryMs);
  void connect();

  return {
    servingUntil(perfMs) {
      if (perfMs === null) return;
      const u = perfToHostMonotonic(perfMs);
      until = until === null ? u : Math.max(until, u);
      if (told === 'armed') feed();
      else if (role === 'primary') apply();
    },
    async close(why) {
      closing = true;
      clearInterval(timer);
      await connecting;
      const s = sock;
      if (!s) return;
      const gone = new Promise<void>((r) => s.once('close', () => r()));
      send({ t: 'exit', why });
      s.end();
      await Promise.race([gone, new Promise((r) => setTimeout(r, 2_000))]);
      s.destroy();
    },
  };
}
