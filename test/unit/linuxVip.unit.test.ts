import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentConfig } from '../../lib/agent/agentConfig.ts';
import { announceCommand, heldPrefix, planPlace, planRemove, showCommand } from '../../lib/endpoints/vip/vipCommands.ts';
import { parseVipConfig, type VipConfig } from '../../lib/endpoints/vip/vipConfig.ts';

const vip: VipConfig = { address: '10.0.0.100', prefix: 24, interface: 'eth0' };

function reason(input: unknown): string {
  const r = parseVipConfig(input);
  return r.ok ? 'accepted' : r.reason;
}

// What `ip -o -4 addr show dev eth0` prints on a host holding its own address and the VIP.
const holding = [
  '2: eth0    inet 10.0.0.1/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever',
  '2: eth0    inet 10.0.0.100/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever',
  '',
].join('\n');
const notHolding = '2: eth0    inet 10.0.0.1/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever\n';

describe('VIP config', () => {
  test('a good config parses', () => {
    assert.deepEqual(parseVipConfig({ address: '192.168.1.50', prefix: 24, interface: 'enp3s0' }), { ok: true, value: { address: '192.168.1.50', prefix: 24, interface: 'enp3s0' } });
  });

  test('a bad field is named with what to give', () => {
    assert.match(reason({ ...vip, address: '10.0.0.300' }), /^vip: address: give the writer VIP as an IPv4 address/);
    assert.match(reason({ ...vip, address: 'fe80::1' }), /^vip: address: give the writer VIP as an IPv4 address/);
    assert.match(reason({ ...vip, prefix: 33 }), /^vip: prefix: the prefix length is between 1 and 32/);
    assert.match(reason({ ...vip, prefix: '24' }), /^vip: prefix: give the prefix length/);
    assert.match(reason({ ...vip, interface: 'eth0; rm -rf /' }), /^vip: interface: give a network interface name/);
    assert.match(reason({ ...vip, interface: '-help' }), /^vip: interface: give a network interface name/);
    assert.match(reason({ ...vip, interface: 'averyveryverylongname' }), /^vip: interface: give a network interface name/);
    const { interface: _omit, ...noInterface } = vip;
    assert.match(reason(noInterface), /^vip: interface: give the network interface that carries the VIP/);
    assert.match(reason({ ...vip, netmask: '255.255.255.0' }), /^vip: Unrecognized key: "netmask"/);
  });

  test('the agent config takes an optional vip, and names its bad fields', () => {
    const agent = {
      cluster: 'demo',
      node: 'pg1',
      listen: { port: 8008 },
      dataDir: '/var/lib/postgresql/15/main',
      bindir: '/usr/lib/postgresql/15/bin',
      pgPort: 5432,
      stateDir: '/var/lib/pgvigil',
      lease: { ttlMs: 3000, renewEveryMs: 500 },
    };
    const without = parseAgentConfig(agent);
    assert.ok(without.ok);
    assert.equal(without.value.vip, undefined);
    const withVip = parseAgentConfig({ ...agent, vip });
    assert.ok(withVip.ok);
    assert.deepEqual(withVip.value.vip, vip);
    const bad = parseAgentConfig({ ...agent, vip: { ...vip, prefix: 0 } });
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : bad.reason, /^agent config: vip\.prefix: the prefix length is between 1 and 32/);
  });
});

describe('VIP commands', () => {
  test('the interface is listed as one line per IPv4 address', () => {
    assert.deepEqual(showCommand(vip), { cmd: 'ip', args: ['-o', '-4', 'addr', 'show', 'dev', 'eth0'] });
  });

  test('the held prefix is read from the listing, and only for the VIP itself', () => {
    assert.equal(heldPrefix(holding, '10.0.0.100'), 24);
    assert.equal(heldPrefix(notHolding, '10.0.0.100'), null);
    assert.equal(heldPrefix('2: eth0    inet 10.0.0.100/32 scope global eth0\n', '10.0.0.100'), 32);
    // 10.0.0.10 is a prefix of the VIP's text, not the VIP.
    assert.equal(heldPrefix('2: eth0    inet 10.0.0.10/24 scope global eth0\n', '10.0.0.100'), null);
    assert.equal(heldPrefix('', '10.0.0.100'), null);
  });

  test('placing adds the address only when it is missing', () => {
    assert.deepEqual(planPlace(vip, notHolding), { kind: 'add', command: { cmd: 'ip', args: ['-4', 'addr', 'add', '10.0.0.100/24', 'dev', 'eth0'] } });
    assert.deepEqual(planPlace(vip, holding), { kind: 'present', prefix: 24 });
  });

  test('removing deletes the address with the prefix it is held with, only when present', () => {
    assert.deepEqual(planRemove(vip, holding), { kind: 'del', command: { cmd: 'ip', args: ['-4', 'addr', 'del', '10.0.0.100/24', 'dev', 'eth0'] } });
    assert.deepEqual(planRemove({ ...vip, prefix: 16 }, holding), { kind: 'del', command: { cmd: 'ip', args: ['-4', 'addr', 'del', '10.0.0.100/24', 'dev', 'eth0'] } });
    assert.deepEqual(planRemove(vip, notHolding), { kind: 'absent' });
  });

  test('the announcement is an unsolicited ARP from the interface', () => {
    assert.deepEqual(announceCommand(vip), { cmd: 'arping', args: ['-U', '-c', '2', '-I', 'eth0', '10.0.0.100'] });
  });
});
