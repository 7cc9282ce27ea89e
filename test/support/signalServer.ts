import type { LocalCluster } from '../../lib/local/localCluster.ts';
import { childrenOf } from '../../lib/postgres/pgServer.ts';

/**
 * Signals a node's postmaster and every child of it: SIGSTOP freezes the whole server (its
 * connections stay open and say nothing, as behind a partition), SIGCONT thaws it.
 */
export async function signalServer(cluster: LocalCluster, name: string, sig: NodeJS.Signals): Promise<void> {
  const pid = await cluster.postmasterPid(name);
  if (pid === null) throw new Error(`${name} is not running: nothing to signal`);
  process.kill(pid, sig);
  for (const p of await childrenOf(pid)) {
    try {
      process.kill(p, sig);
    } catch (e) {
      // A backend that ended between the listing and the signal (ESRCH) has nothing left to signal.
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }
}
