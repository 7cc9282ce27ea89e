import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAgentConfig } from '../../lib/agent/agentConfig.ts';
import { hostMonotonicMs, perfToHostMonotonic } from '../../lib/agent/watchdog/hostClock.ts';
import { WatchdogDevice } from '../../lib/agent/watchdog/watchdogDevice.ts';
import { parseWatchdogSettings } from '../../lib/agent/watchdog/watchdogSettings.ts';
import { FromWatchdog, lineReader, ToWatchdog } from '../../lib/agent/watchdog/watchdogWire.ts';

const base = {
  cluster: 'c',
  node: 'n1',
  listen: { port: 8008 },
  dataDir: '/var/lib/pg/data',
  bindir: '/usr/bin',
  pgPort: 5432,
  stateDir: '/var/lib/pgvigil',
  lease: { ttlMs: 3_000, renewEveryMs: 1_000 },
  store: { table: 'pgvigil-test', region: 'us-east-1' },
};

test('agent config: the watchdog is optional, its device an absolute path, and it needs a store', () => {
  const off = parseAgentConfig(base);
  assert.ok(off.ok, !off.ok ? off.reason : '');
  assert.equal(off.value.watchdog, undefined);
  const on = parseAgentConfig({ ...base, watchdog: { device: '/dev/watchdog' } });
  assert.ok(on.ok);
  assert.deepEqual(on.value.watchdog, { device: '/dev/watchdog' });
  const relative = parseAgentConfig({ ...base, watchdog: { device: 'watchdog' } });
  assert.equal(relative.ok, false);
  assert.match(!relative.ok ? relative.reason : '', /^agent config: watchdog\.device: give the watchdog device \(e\.g\. \/dev\/watchdog\) as an absolute path/);
  const unknown = parseAgentConfig({ ...base, watchdog: { timeout: 5 } });
  assert.match(!unknown.ok ? unknown.reason : '', /^agent config: watchdog/);
  const { store: _store, ...noStore } = base;
  const storeless = parseAgentConfig({ ...noStore, watchdog: {} });
  assert.match(!storeless.ok ? storeless.reason : '', /^agent config: watchdog: the watchdog is fed by lease renewals: configure a store/);
});

test('watchdog wire: messages are parsed line by line, a bad line is reported and skipped', () => {
  const got: ToWatchdog[] = [];
  const bad: string[] = [];
  const read = lineReader(ToWatchdog, (m) => got.push(m), (why) => bad.push(why));
  read('{"t":"feed","until":12.5,"term":3}\n{"t":"disarm","why":"standby"}\n{"t":"feed","until":"soon","term":3}\nnot json\n{"t":"sta');
  read('tus"}\n');
  assert.deepEqual(got, [{ t: 'feed', until: 12.5, term: 3 }, { t: 'disarm', why: 'standby' }, { t: 'status' }]);
  assert.equal(bad.length, 2);
  assert.match(bad[0]!, /until/);
  assert.equal(FromWatchdog.safeParse({ t: 'event', event: 'exploded', msg: 'x' }).success, false);
});

test('watchdog settings: parsed with the field named', () => {
  const r = parseWatchdogSettings(JSON.stringify({ cluster: 'c', node: 'n', dataDir: 'rel', bindir: '/b', pgHost: 'h', pgPort: 5432, osUser: null, stateDir: '/s', ttlMs: 1, graceMs: 0 }));
  assert.match(!r.ok ? r.reason : '', /^watchdog settings: dataDir: give the PostgreSQL data directory as an absolute path/);
});

test("host clock: a performance.now() instant maps onto the host's monotonic clock, never later than it was", () => {
  const before = hostMonotonicMs();
  const mapped = perfToHostMonotonic(performance.now());
  const after = hostMonotonicMs();
  assert.ok(mapped <= after && mapped >= before - 1, `${before} <= ${mapped} <= ${after}`);
});

// What this checks is what *this code* writes to the path it is given. The path is a plain
// file: this machine has no watchdog driver, so nothing here shows what a kernel does with it.
test('watchdog device: keepalive bytes while open, the magic close V when disarmed; never creates a missing device', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgvigil-wdev-'));
  try {
    const path = join(dir, 'watchdog');
    writeFileSync(path, '');
    const d = new WatchdogDevice(path);
    assert.equal(d.open().ok, true);
    assert.equal(d.keepalive().ok, true);
    assert.equal(d.keepalive().ok, true);
    assert.equal(d.disarm().ok, true);
    assert.equal(d.isOpen, false);
    assert.equal(readFileSync(path, 'utf8'), '11V');
    assert.equal(d.keepalive().ok, false, 'no keepalive once closed');
    const missing = new WatchdogDevice(join(dir, 'none'));
    const r = missing.open();
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /ENOENT \(no watchdog driver/);
    assert.throws(() => readFileSync(join(dir, 'none')), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
