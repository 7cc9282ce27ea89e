import type { HostFiles } from '../host/hostFiles.ts';
import { serverConfText } from '../host/serverConf.ts';
import { hbaText } from '../host/hbaConf.ts';

/** Local mode's node configuration: the host bootstrap's (lib/host), for a host that is 127.0.0.1. */
export { CLUSTER_CONF, includeLines, standbyAutoConfText } from '../host/serverConf.ts';

export interface ClusterConfInput {
  synchronousStandbyNames: string;
  walReceiverTimeoutMs: number;
  extraConf?: Record<string, string>;
  /** The local host's TLS files; absent only for test nodes set up by hand. */
  files?: HostFiles;
}

export function clusterConfText(input: ClusterConfInput): string {
  const f = input.files;
  return serverConfText({
    // Local mode: loopback only; no unix socket (its path length is limited and /tmp is shared).
    listenAddresses: '127.0.0.1',
    unixSocketDirectories: '',
    sizing: 'local',
    walReceiverTimeoutMs: input.walReceiverTimeoutMs,
    synchronousStandbyNames: input.synchronousStandbyNames,
    ...(f ? { tls: { certFile: f.serverCert, keyFile: f.serverKey, caFile: f.caCert } } : {}),
    ...(input.extraConf ? { extraConf: input.extraConf } : {}),
  });
}

/** Local mode's pg_hba.conf: the host bootstrap's rules for clients on 127.0.0.1, the superuser trusted on loopback. */
export function localHbaText(): string {
  return hbaText({ clientCidrs: ['127.0.0.1/32'], superuser: 'loopback-trust' });
}
