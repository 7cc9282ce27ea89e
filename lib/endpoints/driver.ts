/** Where an endpoint sends clients: one PostgreSQL node. */
export interface EndpointTarget {
  name: string;
  host: string;
  port: number;
}

/** One change of the writer/reader endpoints, tagged with the term that decided it. */
export interface EndpointChange {
  term: number;
  writer: EndpointTarget | null;
  readers: EndpointTarget[];
}

/** `detail`: what the change did to clients (the proxy's resume after a drain), for the history. */
export type EndpointResult = { ok: true; applied: boolean; detail?: Record<string, unknown> } | { ok: false; reason: string };

/**
 * A writer/reader endpoint mechanism (local TCP proxy, Route 53 records, ENI secondary IP,
 * Linux VIP). `apply` is idempotent and term-tagged: a change with a term older than
 * the last applied one is ignored (`applied: false`), never undone.
 */
export interface EndpointDriver {
  readonly kind: string;
  apply(change: EndpointChange): Promise<EndpointResult>;
  /**
   * Before a switchover stops the old primary (the local proxy only): stop handing it new
   * transactions, wait for open sessions to finish theirs. The next applied change of a new
   * writer resumes; `resume` does when the switchover gives up.
   */
  drain?(term: number): Promise<{ term: number; drained: number; cut: number; waitedMs: number }>;
  resume?(): unknown;
  close(): Promise<void>;
}
