import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentConfig } from '../../lib/agent/agentConfig.ts';
import { parseClusterSpec } from '../../lib/domain/spec.ts';
import { hostUserData } from '../../cdk/hostUserData.ts';

// The user data's agent config is what `pgvigil-agent bootstrap` reads at boot: it must parse.
describe('database host user data', () => {
  const spec = parseClusterSpec({
    cluster: 'demo',
    nodes: ['a', 'b', 'c'].map((n, i) => ({ name: `pg-${n}`, host: `10.0.${i}.10`, port: 5432, agent: `http://10.0.${i}.10:8008` })),
  });
  if (!spec.ok) throw new Error(spec.reason);
  const script = hostUserData({
    spec: spec.value,
    node: 'pg-b',
    bundleParameter: '/pgvigil/S/host/demo/agent-bundle',
    dataMount: '/var/lib/pgsql',
    region: 'eu-west-1',
    tableName: 'pgvigil',
    archiveBucketName: 'archive',
    agentKeyParameterName: '/pgvigil/PgVigil/agent-key/demo/pg-b',
    parameters: { monitor: '/pgvigil/S/host/demo/monitor-password', replication: '/pgvigil/S/host/demo/replication-password', ca: '/pgvigil/S/host/demo/cluster-ca', caCert: '/pgvigil/S/host/demo/cluster-ca-cert' },
    parameterKeyId: 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    clientCidr: '10.0.0.0/16',
  }).join('\n');

  test('the agent config carries a bootstrap section the agent accepts: peers from the spec, passwords and CA by SSM parameter, the VPC as clients', () => {
    const text = /cat > \/etc\/pgvigil\/agent\.json <<'JSON'\n([\s\S]*?)\nJSON/.exec(script)![1]!.replace('@PG_BINDIR@', '/usr/bin');
    const parsed = parseAgentConfig(JSON.parse(text));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
    const c = parsed.value;
    assert.equal(c.node, 'pg-b');
    assert.equal(c.pgHost, '/var/lib/pgvigil/host/run', 'the superuser over the socket, never the network');
    assert.deepEqual(c.bootstrap?.peers.map((p) => p.name), ['pg-a', 'pg-b', 'pg-c']);
    assert.equal(c.bootstrap?.address, '10.0.1.10');
    assert.deepEqual(c.bootstrap?.clientCidrs, ['10.0.0.0/16']);
    assert.deepEqual(c.bootstrap?.passwords, { monitor: { parameter: '/pgvigil/S/host/demo/monitor-password', region: 'eu-west-1' }, replication: { parameter: '/pgvigil/S/host/demo/replication-password', region: 'eu-west-1' } });
    assert.deepEqual(c.bootstrap?.ca, { parameter: '/pgvigil/S/host/demo/cluster-ca', certParameter: '/pgvigil/S/host/demo/cluster-ca-cert', keyId: 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab', region: 'eu-west-1' }, 'the CA and its certificate are put under the stack key');
    assert.doesNotMatch(text, /secretId|certSecretId/, 'no Secrets Manager source: the stack makes none');
    assert.deepEqual(c.replicationAuth, { passfile: '/var/lib/pgvigil/host/replication.pgpass', sslRootCert: '/var/lib/pgvigil/host/tls/ca.crt' });
  });

  test("the agent reads its own node's key from its SSM parameter, in the stack's region; no key, key file or secret in the config", () => {
    const text = /cat > \/etc\/pgvigil\/agent\.json <<'JSON'\n([\s\S]*?)\nJSON/.exec(script)![1]!.replace('@PG_BINDIR@', '/usr/bin');
    const parsed = parseAgentConfig(JSON.parse(text));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
    assert.deepEqual(parsed.value.keyParameter, { name: '/pgvigil/PgVigil/agent-key/demo/pg-b', region: 'eu-west-1' });
    assert.equal(parsed.value.keySecret, undefined);
    assert.equal(parsed.value.keyFile, undefined);
    assert.equal(parsed.value.key, undefined);
  });

  test('the bindir placeholder is filled at boot, per distribution', () => {
    assert.match(script, /PG_BINDIR=\/usr\/bin\n/);
    assert.match(script, /PG_BINDIR=\/usr\/lib\/postgresql\/15\/bin\n/);
    assert.ok(script.indexOf('sed -i "s#@PG_BINDIR@#$PG_BINDIR#" /etc/pgvigil/agent.json') > script.indexOf("cat > /etc/pgvigil/agent.json"));
  });
});
