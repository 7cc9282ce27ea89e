import { readFile } from 'node:fs/promises';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { editAutoConf } from '../../postgres/autoConf.ts';
import type { PgServer } from '../../postgres/pgServer.ts';
import { NODE_CONF, nodeConfText } from '../../postgres/standbyConf.ts';
import type { ActionContext } from './actionTypes.ts';
import { hostFiles } from '../../host/hostFiles.ts';
import { hostNodeSettings } from '../../host/serverConf.ts';

/**
 * pg_basebackup and pg_rewind copy the source's configuration, port included. Put this
 * node's own back: in pgvigil.node.conf when the layout has one, else in postgresql.auto.conf.
 * The copied server log is the source's: drop it.
 */
export async function restoreNodeIdentity(ctx: ActionContext): Promise<void> {
  const { pg, config } = ctx;
  const hasNodeConf = (await pg.readDataFile(NODE_CONF)) !== null;
  if (hasNodeConf) {
    const host = config.bootstrap ? hostNodeSettings(hostFiles(config.bootstrap.hostDir)) : {};
    await pg.writeDataFile(NODE_CONF, nodeConfText({ name: config.node, port: config.pgPort }, host));
  } else {
    const auto = (await pg.readDataFile('postgresql.auto.conf')) ?? '';
    await pg.writeDataFile('postgresql.auto.conf', editAutoConf(auto, { port: config.pgPort }));
  }
  await rm(join(pg.dataDir, 'log'), { recursive: true, force: true });
  await rm(join(pg.dataDir, 'postmaster.log'), { force: true });
}

export async function hasDataDir(pg: PgServer): Promise<boolean> {
  return (await readFile(join(pg.dataDir, 'PG_VERSION'), 'utf8').catch(() => null)) !== null;
}
