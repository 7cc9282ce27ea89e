import pg from 'pg';

/**
 * One statement on a fresh connection, as a client would send it: to a connection string
 * (an endpoint, a clone) or to a node's port on 127.0.0.1. No statement timeout: tests load
 * data with it. A server going away mid-test fails the awaited call, not the process.
 */
export async function sqlAt<R extends pg.QueryResultRow = pg.QueryResultRow>(target: string | number, text: string, values: unknown[] = []): Promise<R[]> {
  const where = typeof target === 'number' ? { host: '127.0.0.1', port: target, user: 'postgres', database: 'postgres' } : { connectionString: target };
  const c = new pg.Client({ ...where, connectionTimeoutMillis: 3_000 });
  c.on('error', () => {});
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}
