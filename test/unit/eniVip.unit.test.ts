import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createEniVipDriver, vipTermTag } from '../../lib/endpoints/eniVip.ts';
import { cutWire, offlineClientConfig, type WireRequest, type WireResponse } from '../support/sdkWire.ts';

interface Eni {
  id: string;
  ips: string[];
  tags: Record<string, string>;
}

const ec2Ns = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** The far side of the wire: EC2's query API over a few interfaces of one subnet. */
function subnet(enis: Eni[]) {
  function respond(req: WireRequest): WireResponse {
    const form = new URLSearchParams(req.body);
    const action = form.get('Action');
    const ok = (name: string, inner: string): WireResponse => ({ statusCode: 200, body: `<?xml version="1.0" encoding="UTF-8"?><${name}Response xmlns="${ec2Ns}"><requestId>r-1</requestId>${inner}</${name}Response>` });
    if (action === 'DescribeNetworkInterfaces') {
      assert.equal(form.get('Filter.1.Name'), 'addresses.private-ip-address');
      const ip = form.get('Filter.1.Value.1')!;
      const items = enis
        .filter((e) => e.ips.includes(ip))
        .map(
          (e) =>
            `<item><networkInterfaceId>${e.id}</networkInterfaceId><privateIpAddressesSet>${e.ips
              .map((a, i) => `<item><privateIpAddress>${a}</privateIpAddress><primary>${i === 0}</primary></item>`)
              .join('')}</privateIpAddressesSet><tagSet>${Object.entries(e.tags)
              .map(([k, v]) => `<item><key>${k}</key><value>${v}</value></item>`)
              .join('')}</tagSet></item>`,
        );
      return ok('DescribeNetworkInterfaces', `<networkInterfaceSet>${items.join('')}</networkInterfaceSet>`);
    }
    if (action === 'AssignPrivateIpAddresses') {
      const id = form.get('NetworkInterfaceId')!;
      const ip = form.get('PrivateIpAddress.1')!;
      const reassign = form.get('AllowReassignment') === 'true';
      const other = enis.find((e) => e.id !== id && e.ips.includes(ip));
      if (other && !reassign) return { statusCode: 400, body: `<Response><Errors><Error><Code>InvalidParameterValue</Code><Message>Address ${ip} is in use</Message></Error></Errors><RequestID>r</RequestID></Response>` };
      if (other) {
        other.ips = other.ips.filter((a) => a !== ip);
        delete other.tags[vipTermTag];
      }
      const target = enis.find((e) => e.id === id)!;
      if (!target.ips.includes(ip)) target.ips.push(ip);
      return ok('AssignPrivateIpAddresses', `<networkInterfaceId>${id}</networkInterfaceId><assignedPrivateIpAddressesSet><item><privateIpAddress>${ip}</privateIpAddress></item></assignedPrivateIpAddressesSet>`);
    }
    if (action === 'CreateTags') {
      const eni = enis.find((e) => e.id === form.get('ResourceId.1'))!;
      eni.tags[form.get('Tag.1.Key')!] = form.get('Tag.1.Value')!;
      return ok('CreateTags', '<return>true</return>');
    }
    throw new Error(`unexpected EC2 action ${action}`);
  }
  return { enis, respond };
}

const vip = '10.42.3.100';

function agentOn(net: ReturnType<typeof subnet>, node: string, eniId: string) {
  const client = new EC2Client(offlineClientConfig);
  const wire = cutWire(client, net.respond);
  const driver = createEniVipDriver({ client, node, networkInterfaceId: eniId, vip });
  const actions = () => wire.map((r) => new URLSearchParams(r.body).get('Action'));
  return { wire, driver, actions };
}

const target = (name: string, host: string) => ({ name, host, port: 5432 });

describe('ENI VIP driver, over the SDK wire', () => {
  test('the new primary takes the VIP from the old one: describe, assign with AllowReassignment, tag the term', async () => {
    const net = subnet([
      { id: 'eni-aaa', ips: ['10.42.3.10', vip], tags: { [vipTermTag]: '1' } },
      { id: 'eni-bbb', ips: ['10.42.3.11'], tags: {} },
    ]);
    const b = agentOn(net, 'pg-b', 'eni-bbb');
    assert.deepEqual(await b.driver.apply({ term: 2, writer: target('pg-b', '10.42.3.11'), readers: [] }), { ok: true, applied: true });
    assert.deepEqual(b.actions(), ['DescribeNetworkInterfaces', 'AssignPrivateIpAddresses', 'CreateTags']);

    const assign = b.wire[1]!;
    assert.equal(assign.method, 'POST');
    assert.equal(assign.hostname, 'ec2.eu-west-1.amazonaws.com');
    const form = new URLSearchParams(assign.body);
    assert.equal(form.get('Version'), '2016-11-15');
    assert.equal(form.get('NetworkInterfaceId'), 'eni-bbb');
    assert.equal(form.get('PrivateIpAddress.1'), vip);
    assert.equal(form.get('AllowReassignment'), 'true');
    assert.match(assign.headers.authorization ?? '', /\/eu-west-1\/ec2\/aws4_request/);

    const tagForm = new URLSearchParams(b.wire[2]!.body);
    assert.deepEqual([tagForm.get('ResourceId.1'), tagForm.get('Tag.1.Key'), tagForm.get('Tag.1.Value')], ['eni-bbb', vipTermTag, '2']);
    assert.deepEqual(net.enis.map((e) => e.ips.includes(vip)), [false, true]);
  });

  test('replaying the same term, from a restarted agent too, only describes', async () => {
    const net = subnet([
      { id: 'eni-aaa', ips: ['10.42.3.10'], tags: {} },
      { id: 'eni-bbb', ips: ['10.42.3.11'], tags: {} },
    ]);
    const change = { term: 3, writer: target('pg-a', '10.42.3.10'), readers: [target('pg-b', '10.42.3.11')] };
    const a = agentOn(net, 'pg-a', 'eni-aaa');
    assert.deepEqual(await a.driver.apply(change), { ok: true, applied: true });
    const restarted = agentOn(net, 'pg-a', 'eni-aaa');
    assert.deepEqual(await restarted.driver.apply(change), { ok: true, applied: false });
    assert.deepEqual(restarted.actions(), ['DescribeNetworkInterfaces']);
  });

  test('an older term never takes the VIP back', async () => {
    const net = subnet([
      { id: 'eni-aaa', ips: ['10.42.3.10'], tags: {} },
      { id: 'eni-bbb', ips: ['10.42.3.11', vip], tags: { [vipTermTag]: '5' } },
    ]);
    const a = agentOn(net, 'pg-a', 'eni-aaa');
    assert.deepEqual(await a.driver.apply({ term: 4, writer: target('pg-a', '10.42.3.10'), readers: [] }), { ok: true, applied: false });
    assert.deepEqual(a.actions(), ['DescribeNetworkInterfaces']);
    assert.deepEqual(net.enis[1]!.ips, ['10.42.3.11', vip]);
    // And once it has seen term 5, it does not even ask about term 4 again.
    await a.driver.apply({ term: 4, writer: target('pg-a', '10.42.3.10'), readers: [] });
    assert.equal(a.wire.length, 1);
  });

  test('an agent that is not the writer sends nothing', async () => {
    const net = subnet([{ id: 'eni-aaa', ips: ['10.42.3.10', vip], tags: { [vipTermTag]: '1' } }]);
    const c = agentOn(net, 'pg-c', 'eni-ccc');
    assert.deepEqual(await c.driver.apply({ term: 2, writer: target('pg-a', '10.42.3.10'), readers: [] }), { ok: true, applied: false });
    assert.equal(c.wire.length, 0);
  });

  test('an EC2 error comes back as a reason naming the interface and VIP', async () => {
    const net = subnet([{ id: 'eni-aaa', ips: ['10.42.3.10'], tags: {} }]);
    const client = new EC2Client(offlineClientConfig);
    cutWire(client, (req) => (new URLSearchParams(req.body).get('Action') === 'AssignPrivateIpAddresses'
      ? { statusCode: 403, body: '<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r</RequestID></Response>' }
      : net.respond(req)));
    const driver = createEniVipDriver({ client, node: 'pg-a', networkInterfaceId: 'eni-aaa', vip });
    const result = await driver.apply({ term: 1, writer: target('pg-a', '10.42.3.10'), readers: [] });
    assert.equal(result.ok, false);
    assert.match((result as { reason: string }).reason, /UnauthorizedOperation.*eni-aaa.*10\.42\.3\.100/);
  });
});
