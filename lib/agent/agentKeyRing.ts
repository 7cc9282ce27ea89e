import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Log } from '../log.ts';
import type { Parsed } from '../domain/parse.ts';
import { loadAgentKey, parseKeyLines, type AgentConfig } from './agentConfig.ts';
import type { AgentKeys } from './signing.ts';

/**
 * The keys one agent accepts: its own node's key, and during a rotation the previous one
 * (issue 15, the agent channel). No other node's key is ever here, so a request signed for
 * node A is refused by node B's agent by its signature, before its target is even compared.
 *
 * A rotation needs no restart: when a request's signature matches none of the keys held, the
 * ring reads its source again and the request is checked once more, so the control plane may sign
 * with the new key as soon as the source holds it. A key file is read again at every mismatch (a
 * local read); a parameter or secret at most once per `MIN_RELOAD_MS`, so badly signed traffic
 * cannot turn into a flood of SSM or Secrets Manager calls. *Cost:* a request with the new key that comes within that
 * time of another mismatch is refused, and the decider asks again after `actionTimeoutMs`.
 */
export interface AgentKeyRing {
  keys(): AgentKeys;
  /** Reads the source again; true when it now holds other keys. Never throws: a failed read keeps the keys held, logged. */
  reload(): Promise<boolean>;
}

export const MIN_RELOAD_MS = 10_000;

/** Keys given once (tests, an in-process agent): nothing to reload. */
export function fixedKeyRing(keys: AgentKeys): AgentKeyRing {
  return { keys: () => keys, reload: async () => false };
}

/**
 * The ring of an agent's config: its keyFile or keyParameter (two lines during a rotation), its
 * keySecret (AWSCURRENT and AWSPREVIOUS), or key / PGVIGIL_AGENT_KEY (fixed). Never logs a key.
 * `ssm`: the client to read keyParameter with (tests cut it at the wire); by default one in the
 * parameter's region.
 */
export async function loadAgentKeyRing(config: AgentConfig, log: Log, o: { minReloadMs?: number; env?: NodeJS.ProcessEnv; ssm?: SSMClient } = {}): Promise<Parsed<AgentKeyRing>> {
  const read = readerOf(config, o.env ?? process.env, o.ssm);
  const first = await read();
  if (!first.ok) return first;
  const remote = config.keyParameter !== undefined || config.keySecret !== undefined;
  if (config.keyFile === undefined && !remote) return { ok: true, value: fixedKeyRing(first.value) };
  const minReloadMs = o.minReloadMs ?? (remote ? MIN_RELOAD_MS : 0);
  let held = first.value;
  let lastReload = -Infinity;
  let reloading: Promise<boolean> | null = null;
  return {
    ok: true,
    value: {
      keys: () => held,
      reload() {
        if (reloading) return reloading;
        const now = performance.now();
        if (now - lastReload < minReloadMs) return Promise.resolve(false);
        lastReload = now;
        reloading = read()
          .then((r) => {
            if (!r.ok) {
              log({ level: 'warn', msg: 'agent key not read again; keeping the keys held', reason: r.reason });
              return false;
            }
            const changed = !sameKeys(held, r.value);
            held = r.value;
            if (changed) log({ level: 'info', msg: 'agent key reloaded', keys: keyCount(r.value) });
            return changed;
          })
          .finally(() => (reloading = null));
        return reloading;
      },
    },
  };
}

function readerOf(config: AgentConfig, env: NodeJS.ProcessEnv, given?: SSMClient): () => Promise<Parsed<AgentKeys>> {
  const parameter = config.keyParameter;
  if (parameter !== undefined) {
    let ssm = given;
    return async () => {
      const { getSecureParameter, ssmClient } = await import('../host/awsParameters.ts');
      ssm ??= ssmClient(parameter.region);
      let value: string | null;
      try {
        value = await getSecureParameter(ssm, parameter.name);
      } catch (e) {
        return { ok: false, reason: `agent config: keyParameter: ${(e as Error).message}` };
      }
      if (value === null) return { ok: false, reason: `agent config: keyParameter: ${parameter.name} does not exist: check the stack created this node's agent key, and the region` };
      // One line, or during a rotation the new key then the previous one (README: rotating the agent keys).
      const keys = parseKeyLines(value, `keyParameter ${parameter.name}`);
      if (!keys.ok) return keys;
      return { ok: true, value: keys.value.length === 1 ? keys.value[0]! : keys.value };
    };
  }
  const secret = config.keySecret;
  if (secret === undefined) return async () => loadAgentKey(config, env);
  return async () => {
    const { getSecretString } = await import('../host/awsSecrets.ts');
    let current: string | null;
    let previous: string | null;
    try {
      [current, previous] = await Promise.all([
        getSecretString(secret.secretId, secret.region, 'AWSCURRENT'),
        getSecretString(secret.secretId, secret.region, 'AWSPREVIOUS'),
      ]);
    } catch (e) {
      return { ok: false, reason: `agent config: keySecret: ${(e as Error).message}` };
    }
    if (current === null) return { ok: false, reason: `agent config: keySecret: ${secret.secretId} holds no value: check the stack created this node's agent key` };
    // The current value alone may hold two lines (an operator's rotation by hand); the previous version adds one more.
    const cur = parseKeyLines(current, `keySecret ${secret.secretId} (AWSCURRENT)`);
    if (!cur.ok) return cur;
    const prev = previous === null ? null : parseKeyLines(previous, `keySecret ${secret.secretId} (AWSPREVIOUS)`);
    // A malformed previous version is no reason to refuse the current key.
    const keys = [...cur.value, ...(prev?.ok ? prev.value.slice(0, 1) : [])];
    const distinct = keys.filter((k, i) => keys.findIndex((o) => o.equals(k)) === i);
    return { ok: true, value: distinct.length === 1 ? distinct[0]! : distinct };
  };
}

const list = (k: AgentKeys): readonly Buffer[] => (Buffer.isBuffer(k) ? [k] : k);
const keyCount = (k: AgentKeys) => list(k).length;

function sameKeys(a: AgentKeys, b: AgentKeys): boolean {
  const x = list(a);
  const y = list(b);
  return x.length === y.length && x.every((k, i) => k.equals(y[i]!));
}
