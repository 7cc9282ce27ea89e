/** The ports of a local cluster, all derived from one base port so several can run side by side. */
export interface LocalPorts {
  nodes: { name: string; pg: number; agent: number }[];
  writer: number;
  reader: number;
  /** The control plane's Prometheus `/metrics`. */
  metrics: number;
  store: number;
}

export function localPorts(basePort: number, count: number): LocalPorts {
  return {
    nodes: Array.from({ length: count }, (_, i) => ({ name: `pg${i + 1}`, pg: basePort + i, agent: basePort + 100 + i })),
    writer: basePort + 200,
    reader: basePort + 201,
    metrics: basePort + 202,
    store: basePort + 300,
  };
}
