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

export type EndpointResult = { ok: true; applied: boolean } | { ok: false; reason: string };

/**
 * A writer/reader endpoint mechanism (local TCP proxy, Route 53 records, ENI secondary IP,
 * Linux VIP). `apply` is idempotent and term-tagged: a change with a term older than
 * the last applied one is ignored (`applied: false`), never undone.
 */
export interface EndpointDriver {
  readonly kind: string;
  apply(change: EndpointChange): Promise<EndpointResult>;
  close(): Promise<void>;
}
