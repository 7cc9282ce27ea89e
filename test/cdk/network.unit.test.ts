import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fullProps, resourcesOf, synthStack } from './stackFixture.ts';

/** The networking choices a VPC owner makes: each endpoint its own option, routes only where pgvigil runs. */
describe('network: endpoints and flow logs', () => {
  const { template } = synthStack(fullProps);
  const endpoints = (t: typeof template) => resourcesOf(t, 'AWS::EC2::VPCEndpoint').map(([, p]) => ({ type: p.VpcEndpointType as string, service: JSON.stringify(p.ServiceName), routes: p.RouteTableIds as unknown[] | undefined, dns: p.PrivateDnsEnabled }));

  test('by default: DynamoDB and S3 gateway endpoints (free), no interface endpoint', () => {
    const e = endpoints(template);
    assert.deepEqual(e.map((x) => x.type).sort(), ['Gateway', 'Gateway']);
    assert.ok(e.some((x) => x.service.includes('.dynamodb')));
    assert.ok(e.some((x) => x.service.includes('.s3')));
  });

  test('the gateway routes go into the route tables of pgvigil\'s subnets only, never the public ones', () => {
    const tables = resourcesOf(template, 'AWS::EC2::RouteTable').map(([id]) => id);
    const privateTables = tables.filter((id) => id.includes('private'));
    assert.equal(privateTables.length, 3);
    for (const e of endpoints(template)) {
      const routed = JSON.stringify(e.routes);
      for (const id of tables) assert.equal(routed.includes(id), privateTables.includes(id), `${e.service} in ${id}`);
    }
  });

  test('each interface endpoint only when asked, with private DNS', () => {
    const one = endpoints(synthStack({ ...fullProps, interfaceEndpoints: ['secretsmanager'] }).template).filter((x) => x.type === 'Interface');
    assert.equal(one.length, 1);
    assert.ok(one[0]!.service.includes('.secretsmanager') && one[0]!.dns === true);
    const all = endpoints(synthStack({ ...fullProps, interfaceEndpoints: ['secretsmanager', 'ssm', 'sns', 'lambda'] }).template).filter((x) => x.type === 'Interface');
    assert.deepEqual(all.map((x) => /\.(secretsmanager|ssm|sns|lambda)/.exec(x.service)?.[1]).sort(), ['lambda', 'secretsmanager', 'sns', 'ssm']);
  });

  test('gatewayEndpoints: false leaves the VPC\'s routes alone, and the agents\' requests without the aws:SourceVpc condition', () => {
    const t = synthStack({ ...fullProps, gatewayEndpoints: false }).template;
    assert.equal(endpoints(t).length, 0);
    assert.equal(JSON.stringify(t.toJSON()).includes('aws:SourceVpc'), false);
  });

  test('flow logs: rejected traffic by default; all traffic, or none, when asked', () => {
    const kinds = (t: typeof template) => resourcesOf(t, 'AWS::EC2::FlowLog').map(([, p]) => p.TrafficType);
    assert.deepEqual(kinds(template), ['REJECT']);
    assert.deepEqual(kinds(synthStack({ ...fullProps, flowLogs: 'all' }).template), ['ALL']);
    assert.deepEqual(kinds(synthStack({ ...fullProps, flowLogs: 'off' }).template), []);
  });

  test('outputs give the writer as every node with target_session_attrs=read-write, and the DNS name as the fallback', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown; Description: string }>;
    const conninfo = Object.entries(outputs).find(([k]) => k.includes('WriterConninfodemo'))?.[1];
    assert.match(String(conninfo?.Value), /^host=10\.42\.\d+\.10,10\.42\.\d+\.10,10\.42\.\d+\.10 port=5432,5432,5432 dbname=postgres target_session_attrs=read-write$/);
    assert.match(conninfo!.Description, /targetServerType=primary/);
    assert.equal(Object.entries(outputs).find(([k]) => k.includes('WriterDnsName'))?.[1].Value, 'writer.db.internal');
  });
});
