import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PgServer } from '../../postgres/pgServer.ts';
import type { Log } from '../../log.ts';
import { FenceMarker } from '../fenceMarker.ts';
import { SELF_FENCE_PREFIX } from '../lease.ts';
import { dropWriterVip } from '../writerVip.ts';
import { hostMonotonicMs } from './hostClock.ts';
import { WatchdogDevice } from './watchdogDevice.ts';
import type { WatchdogSettings } from './watchdogSettings.ts';
import { FromWatchdog, lineReader, ToWatchdog, type WatchdogEventName } from './watchdogWire.ts';

/** Where an agent's watchdog listens: in its state directory, which only the agent's user may enter. */
export function watchdogSocketPath(stateDir: string): string {
  return join(stateDir, 'watchdog.sock');
}

/** How often the deadline is checked: with the grace, what the watchdog adds to the agent's own check period. */
const CHECK_EVERY_MS = 50;
/** Disarmed with no agent connected this long: nothing to watch, so the process ends (an agent starts a new one). */
const IDLE_EXIT_MS = 60_000;

/**
 * The watchdog process: a deadline the agent moves on each lease renewal, kept on a clock and
 * an event loop of its own, so a SIGSTOPped agent, a blocked event loop or an agent stuck in
 * I/O cannot leave PostgreSQL serving as primary past the lease rule. Past the deadline (plus
 * the agent's check period) it does what the agent's self-fence does: sets the lease-lapse
 * fence marker (so restarts follow the same rules: only a `promote` of that term lifts it),
 * stops PostgreSQL at once (`pg_ctl stop -m immediate`, then SIGKILL) and drops the writer VIP.
 * With a device configured it keeps /dev/watchdog alive while armed, so a hang of this process
 * or of the kernel ends in a reset; it closes it with the magic 'V' when disarmed or once
 * PostgreSQL is stopped, and leaves it unfed if it could not stop it.
 *
 * Resolves when an agent asks it to exit (a clean agent stop), or after a while disarmed alone.
 */
export async function runWatchdog(s: WatchdogSettings, log: Log): Promise<void> {
  const socketPath = watchdogSocketPath(s.stateDir);
  if (await answers(socketPath)) {
    log({ level: 'info', msg: 'a watchdog already listens on this state directory: leaving it in charge', socket: socketPath });
    return;
  }
  await rm(socketPath, { force: true });
  const pg = new PgServer({ dataDir: s.dataDir, bindir: s.bindir, host: s.pgHost, port: s.pgPort, osUser: s.osUser, log });
  const fence = new FenceMarker(s.stateDir);
  const device = s.device ? new WatchdogDevice(s.device) : null;
  const clients = new Set<Socket>();
  let armed = false;
  let until = 0;
  let term = 0;
  let fired = 0;
  let firing = false;
  let deviceState: 'none' | 'open' | 'closed' | 'unavailable' = device ? 'closed' : 'none';
  let aloneSince = hostMonotonicMs();
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));

  const send = (sock: Socket, m: FromWatchdog) => {
    if (!sock.destroyed) sock.write(`${JSON.stringify(m)}\n`);
  };
  /** Logged here and told to every agent connected (its log and metrics say it too). */
  const event = (name: WatchdogEventName, level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}) => {
    log({ level, msg, event: name, ...fields });
    const why = typeof fields['why'] === 'string' ? fields['why'] : undefined;
    for (const c of clients) send(c, { t: 'event', event: name, msg, ...(why !== undefined ? { why } : {}) });
  };

  const openDevice = () => {
    if (!device || device.isOpen) return;
    const r = device.open();
    if (!r.ok) {
      deviceState = 'unavailable';
      return event('device-unavailable', 'error', 'watchdog device unavailable: only the watchdog process guards the lease', { why: r.reason });
    }
    deviceState = 'open';
    const tooLong = r.timeoutS !== null && r.timeoutS * 1000 > s.ttlMs;
    event('device-opened', tooLong ? 'warn' : 'info', tooLong ? 'watchdog device opened, but its timeout is longer than the lease TTL: a hung host is reset only after the decider may count it fenced' : 'watchdog device opened', { device: device.path, timeoutS: r.timeoutS, ttlMs: s.ttlMs });
  };
  const closeDevice = (why: string) => {
    if (!device?.isOpen) return;
    const r = device.disarm();
    deviceState = 'closed';
    event('device-closed', r.ok ? 'info' : 'error', r.ok ? 'watchdog device closed (magic close)' : 'watchdog device close failed: the kernel may reset this host', { why: r.ok ? why : r.reason });
  };

  const disarm = (why: string) => {
    if (!armed) return;
    armed = false;
    closeDevice(why);
    event('disarmed', 'info', 'watchdog disarmed', { why });
  };

  const fire = async () => {
    firing = true;
    armed = false;
    const lateMs = Math.round(hostMonotonicMs() - until);
    try {
      if ((await pg.postmasterPid()) === null) {
        closeDevice('PostgreSQL is not running');
        return event('disarmed', 'info', 'watchdog deadline passed; PostgreSQL is not running here, nothing to stop', { why: 'PostgreSQL is not running', lateMs });
      }
      const why = `watchdog: the agent's lease rule let PostgreSQL serve as primary until ${lateMs} ms ago and the agent has said nothing since (hung, stopped or dead)`;
      log({ level: 'warn', msg: 'watchdog firing: stopping PostgreSQL', why });
      await fence.set(term, `${SELF_FENCE_PREFIX} ${why}`);
      const stop = await pg.stopNow(0);
      if (stop.ok) {
        fired++;
        event('fired', 'warn', 'watchdog fired: PostgreSQL stopped', { why, how: stop.how, term });
        await dropWriterVip(s.vip, log, 'watchdog fired');
        closeDevice('PostgreSQL stopped');
      } else {
        // The device stays open and unfed: if there is one, the kernel resets this host.
        event('fire-failed', 'error', device?.isOpen ? 'watchdog could not stop PostgreSQL: leaving the watchdog device unfed, so the host resets' : 'watchdog could not stop PostgreSQL', { why: stop.reason, term });
      }
    } catch (e) {
      event('fire-failed', 'error', 'watchdog fire threw', { why: String(e) });
    } finally {
      firing = false;
    }
  };

  const onMessage = (sock: Socket, m: ToWatchdog) => {
    switch (m.t) {
      case 'feed':
        if (firing) return;
        term = Math.max(term, m.term);
        if (!armed) {
          armed = true;
          until = m.until;
          openDevice();
          event('armed', 'info', 'watchdog armed', { inMs: Math.round(m.until - hostMonotonicMs()), term });
        } else {
          until = Math.max(until, m.until);
        }
        if (device?.isOpen) {
          const k = device.keepalive();
          if (!k.ok) log({ level: 'error', msg: 'watchdog device keepalive failed', reason: k.reason });
        }
        return;
      case 'disarm':
        return disarm(m.why);
      case 'exit':
        disarm(m.why);
        log({ level: 'info', msg: 'watchdog exiting: the agent stopped cleanly', why: m.why });
        return stop();
      case 'status':
        return send(sock, { t: 'status', armed, untilInMs: armed ? Math.round(until - hostMonotonicMs()) : null, fired, device: deviceState, pid: process.pid });
      default: {
        const never: never = m;
        return never;
      }
    }
  };

  const server: Server = createServer((sock) => {
    clients.add(sock);
    sock.on('data', lineReader(ToWatchdog, (m) => onMessage(sock, m), (why) => log({ level: 'warn', msg: 'watchdog: bad message ignored', why })));
    sock.on('error', () => {});
    sock.on('close', () => {
      clients.delete(sock);
      if (clients.size === 0) aloneSince = hostMonotonicMs();
      if (armed) log({ level: 'warn', msg: 'watchdog: the agent went away while armed; the deadline stands', inMs: Math.round(until - hostMonotonicMs()) });
    });
  });

  const timer = setInterval(() => {
    const now = hostMonotonicMs();
    if (armed && !firing && now > until + s.graceMs) void fire();
    else if (!armed && !firing && clients.size === 0 && now - aloneSince > IDLE_EXIT_MS) {
      log({ level: 'info', msg: 'watchdog exiting: disarmed with no agent connected' });
      stop();
    }
  }, CHECK_EVERY_MS);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    for (const c of clients) c.end();
    server.close(() => done());
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  log({ level: 'info', msg: 'watchdog listening', socket: socketPath, device: s.device ?? null, graceMs: s.graceMs });
  await finished;
  await rm(socketPath, { force: true });
}

/** Something listens on the socket (a watchdog left from an earlier run of the agent). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => (c.end(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}
