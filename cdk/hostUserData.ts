import type { ClusterSpec } from '../lib/domain/spec.ts';

/** Where the host keeps what its bootstrap makes (TLS, passfile, socket); on the root volume, remade from the host parameters. */
export const hostDir = '/var/lib/pgvigil/host';
const bundleZip = '/opt/pgvigil/agent.zip';

export interface HostUserDataProps {
  spec: ClusterSpec;
  node: string;
  /**
   * The String parameter naming the agent bundle's S3 object (`s3://bucket/key`), read at boot:
   * the bundle's key changes with every build, and EC2 changes user data only on a stopped instance.
   */
  bundleParameter: string;
  /** Where the data volume is mounted; the data directory is `data` under it. */
  dataMount: string;
  region: string;
  tableName: string;
  archiveBucketName: string;
  /** This node's own agent key parameter's name (cdk/agentKeys.ts): the agent reads it from SSM Parameter Store itself. */
  agentKeyParameterName: string;
  /** The cluster's host parameters' names (cdk/hostSecrets.ts): the bootstrap reads them, and puts the CA and its certificate. */
  parameters: { monitor: string; replication: string; ca: string; caCert: string };
  /** The stack's key ARN (cdk/controlKey.ts): the bootstrap puts the CA and its certificate under it. */
  parameterKeyId: string;
  /** Who may connect over the network: the VPC. */
  clientCidr: string;
}

/**
 * The commands of a database host's user data: packages (dnf on Amazon Linux 2023, apt on
 * Debian), the agent and its config with a `bootstrap` section, and the systemd units. The
 * agent unit runs `pgvigil-agent bootstrap` before the agent at every start, which is what
 * makes the host a node (lib/host/bootstrap.ts); user data only installs.
 */
export function hostUserData(p: HostUserDataProps): string[] {
  const spec = p.spec;
  const me = spec.nodes.find((n) => n.name === p.node)!;
  // The ArchiveTarget schema (lib/backup/archiveTarget.ts): the bucket root, wal/ and backups/ under it.
  const archive = { kind: 's3', bucket: p.archiveBucketName, prefix: '', region: p.region };
  // The agent's own config schema (lib/agent/agentConfig.ts); the key is read from its parameter, never written here.
  const config = {
    cluster: spec.cluster,
    node: p.node,
    listen: { host: '0.0.0.0', port: Number(new URL(me.agent).port || 80) },
    // An https agent URL in the spec: the agent serves the channel with the certificate its bootstrap issued from the cluster CA.
    ...(new URL(me.agent).protocol === 'https:' ? { tls: { certFile: `${hostDir}/tls/server.crt`, keyFile: `${hostDir}/tls/server.key` } } : {}),
    dataDir: `${p.dataMount}/data`,
    bindir: '@PG_BINDIR@',
    pgPort: me.port,
    // The superuser over the socket (peer), never over the network.
    pgHost: `${hostDir}/run`,
    osUser: 'postgres',
    // One line, or the new and the previous key during a rotation, read again on a key the agent doesn't hold: a rotation needs no restart.
    keyParameter: { name: p.agentKeyParameterName, region: p.region },
    stateDir: '/var/lib/pgvigil',
    store: { table: p.tableName, region: p.region },
    archive,
    lease: { ttlMs: spec.timing.leaseTtlMs, renewEveryMs: Math.max(50, Math.floor(spec.timing.leaseTtlMs / 2)) }, // as leaseRenewEveryMs (lib/agent/lease.ts): a failed renewal is retried within the TTL
    // The lease proof assumes a primary stops by its lease even when its agent hangs: the watchdog
    // process does that (lib/agent/watchdog). No device: a kernel reset of a database host is the
    // operator's choice (README, Installing on your own hosts).
    watchdog: {},
    bootstrap: {
      address: me.host,
      peers: spec.nodes.map((n) => ({ name: n.name, host: n.host, port: n.port })),
      hostDir,
      clientCidrs: [p.clientCidr],
      // A silent primary is noticed by its standbys after this (README: timing).
      walReceiverTimeoutMs: 5_000,
      ca: { parameter: p.parameters.ca, certParameter: p.parameters.caCert, keyId: p.parameterKeyId, region: p.region },
      passwords: { monitor: { parameter: p.parameters.monitor, region: p.region }, replication: { parameter: p.parameters.replication, region: p.region } },
      archiveCommand: '/usr/local/bin/pgvigil-agent archive-push --target-file /etc/pgvigil/archive.json %p %f',
    },
  };
  return [
    ...installPackages(),
    // The package owns its home, which may be the mounted volume: keep it postgres's.
    `chown postgres:postgres ${p.dataMount} && chmod 0700 ${p.dataMount}`,
    // After the packages: the AWS CLI is one of them on Debian. agent.mjs lands in /opt/pgvigil.
    `BUNDLE_URL=$(aws ssm get-parameter --region ${p.region} --name '${p.bundleParameter}' --query Parameter.Value --output text)`,
    `install -d /opt/pgvigil && aws s3 cp "$BUNDLE_URL" ${bundleZip} --region ${p.region}`,
    `unzip -o ${bundleZip} -d /opt/pgvigil`,
    'install -d -m 0755 /etc/pgvigil && install -d -m 0700 /var/lib/pgvigil',
    `cat > /etc/pgvigil/agent.json <<'JSON'\n${JSON.stringify(config, null, 2)}\nJSON`,
    'sed -i "s#@PG_BINDIR@#$PG_BINDIR#" /etc/pgvigil/agent.json',
    'chmod 0600 /etc/pgvigil/agent.json',
    // archive_command runs as postgres: it reads the target from this file, not the root-only agent config.
    `cat > /etc/pgvigil/archive.json <<'JSON'\n${JSON.stringify(archive)}\nJSON`,
    'chmod 0644 /etc/pgvigil/archive.json',
    // Unquoted heredoc: NODE_BIN is filled in now, \$@ stays for the wrapper's own arguments.
    ['cat > /usr/local/bin/pgvigil-agent <<WRAP', '#!/bin/sh', 'exec ${NODE_BIN} /opt/pgvigil/agent.mjs "\\$@"', 'WRAP'].join('\n'),
    'chmod 0755 /usr/local/bin/pgvigil-agent',
    `cat > /etc/systemd/system/pgvigil-agent.service <<'UNIT'\n${agentUnit(p)}UNIT`,
    `cat > /etc/systemd/system/pgvigil-postgresql.service <<'UNIT'\n${postgresUnit(p.dataMount)}UNIT`,
    'systemctl daemon-reload',
    'systemctl enable pgvigil-agent.service pgvigil-postgresql.service',
    'systemctl start pgvigil-postgresql.service',
  ];
}

/** PostgreSQL 15, Node.js 20+, openssl and unzip; the distribution's own PostgreSQL service stays off (the agent drives the server). */
export function installPackages(): string[] {
  return [
    [
      'if command -v dnf >/dev/null; then',
      '  dnf install -y postgresql15-server postgresql15-contrib nodejs20 unzip openssl',
      '  PG_BINDIR=/usr/bin',
      'elif command -v apt-get >/dev/null; then',
      // Debian makes and starts a "main" cluster on 5432 on install unless told not to.
      '  install -d /etc/postgresql-common && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf',
      '  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15 postgresql-contrib nodejs unzip openssl awscli',
      '  systemctl disable --now postgresql.service || true',
      '  PG_BINDIR=/usr/lib/postgresql/15/bin',
      'else',
      '  echo "pgvigil: neither dnf nor apt-get: install PostgreSQL 15 and Node.js 20 by hand (README: Installing on your own hosts)" >&2; exit 1',
      'fi',
    ].join('\n'),
    'NODE_BIN=$(command -v node-20 || command -v node)',
    '[ "$(${NODE_BIN} -p "process.versions.node.split(\'.\')[0]")" -ge 20 ] || { echo "pgvigil: the agent needs Node.js 20 or later: install it (e.g. from NodeSource) and re-run" >&2; exit 1; }',
  ];
}

/**
 * The agent, with the bootstrap before it at every start. KillMode=process: PostgreSQL, started
 * by the bootstrap or the agent, lives on through an agent restart (the agent counts its lease
 * lapsed until it renews); it stops with the agent through pgvigil-postgresql.service.
 */
export function agentUnit(p: { region: string; dataMount: string }): string {
  return [
    '[Unit]',
    'Description=pgvigil agent (bootstraps this host, then drives its PostgreSQL)',
    'After=network-online.target',
    'Wants=network-online.target',
    // Never against an empty directory where the data volume failed to mount.
    `RequiresMountsFor=${p.dataMount}`,
    '[Service]',
    // root, so it can run PostgreSQL tools as osUser and read the key; PostgreSQL itself runs as postgres.
    'User=root',
    `Environment=AWS_REGION=${p.region}`,
    'ExecStartPre=/usr/local/bin/pgvigil-agent bootstrap --config /etc/pgvigil/agent.json',
    'ExecStart=/usr/local/bin/pgvigil-agent --config /etc/pgvigil/agent.json',
    // A standby's first copy may take long; the bootstrap bounds its own wait for a primary.
    'TimeoutStartSec=infinity',
    'KillMode=process',
    'Restart=always',
    'RestartSec=2',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * PostgreSQL's lifetime bound to the agent's: BindsTo stops it when the agent unit stops or
 * fails for good (a primary without its agent could not fence itself when its lease lapses).
 * It never starts PostgreSQL: whether a node's server runs is the control plane's decision
 * (a deposed primary must stay down), carried out by the agent.
 */
export function postgresUnit(dataMount: string): string {
  return [
    '[Unit]',
    "Description=pgvigil: PostgreSQL stops with its agent",
    'BindsTo=pgvigil-agent.service',
    'After=pgvigil-agent.service',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    'ExecStart=/bin/true',
    `ExecStop=/bin/sh -c 'for b in /usr/lib/postgresql/15/bin /usr/bin; do [ -x $$b/pg_ctl ] && exec runuser -u postgres -- $$b/pg_ctl stop -D ${dataMount}/data -m fast -w -t 60; done; exit 0'`,
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
