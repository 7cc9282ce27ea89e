/**
 * What a failing check saw, as a kind (the `reason_kind` label of pgvigil_agent_wakes_total)
 * and a sentence for the wake's reason. Sentences name nodes, roles and error codes, never a
 * login, key or connection string.
 */
export const WAKE_KINDS = ['postgres_down', 'wrong_role', 'fenced', 'not_streaming', 'primary_agent_unreachable', 'primary_not_serving'] as const;
export type WakeKind = (typeof WAKE_KINDS)[number];

export interface Finding {
  kind: WakeKind;
  what: string;
}

/** The wake's reason: the node, then each thing seen, cut to the store's 300 characters. */
export function wakeReason(node: string, findings: readonly Finding[]): string {
  const text = `${node}: ${findings.map((f) => f.what).join('; ')}`;
  return text.length <= 300 ? text : `${text.slice(0, 299)}…`;
}
