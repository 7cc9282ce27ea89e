import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { VipConfig } from '../../endpoints/vip/vipConfig.ts';
import { parseWith, type Parsed } from '../../domain/parse.ts';
import type { OsUser } from '../../postgres/osUser.ts';
import type { AgentConfig } from '../agentConfig.ts';

const absolute = (what: string) => z.string({ error: `give the ${what} as an absolute path` }).refine(isAbsolute, `give the ${what} as an absolute path`);

/**
 * What the watchdog process needs to stop this host's PostgreSQL on its own, handed to it by
 * the agent that starts it (one JSON argument; no secrets: it never signs or calls anything).
 */
export const WatchdogSettings = z
  .object({
    cluster: z.string().min(1),
    node: z.string().min(1),
    dataDir: absolute('PostgreSQL data directory'),
    bindir: absolute('PostgreSQL bin directory'),
    pgHost: z.string().min(1),
    pgPort: z.number().int().min(1).max(65535),
    osUser: z.object({ name: z.string().min(1), uid: z.number().int(), gid: z.number().int(), home: z.string() }).strict().nullable(),
    /** The agent's state directory: the socket and the fence marker live here. */
    stateDir: absolute('state directory'),
    vip: VipConfig.optional(),
    /** A Linux watchdog device kept alive while armed (e.g. /dev/watchdog). */
    device: absolute('watchdog device').optional(),
    /** The agent's lease TTL: a device whose timeout is longer resets the host only after the decider may count it fenced. */
    ttlMs: z.number().int().min(1),
    /** How long past the deadline before firing: the agent's own check period, so a live agent's self-fence comes first. */
    graceMs: z.number().int().min(0),
  })
  .strict();
export type WatchdogSettings = z.infer<typeof WatchdogSettings>;

export function parseWatchdogSettings(json: string): Parsed<WatchdogSettings> {
  let input: unknown;
  try {
    input = JSON.parse(json);
  } catch (e) {
    return { ok: false, reason: `watchdog settings: not JSON: ${(e as Error).message}` };
  }
  return parseWith(WatchdogSettings, input, 'watchdog settings');
}

/** The watchdog's settings from the agent's config; null when none is configured. */
export function watchdogSettingsOf(config: AgentConfig, osUser: OsUser | null): WatchdogSettings | null {
  if (!config.watchdog) return null;
  return {
    cluster: config.cluster,
    node: config.node,
    dataDir: config.dataDir,
    bindir: config.bindir,
    pgHost: config.pgHost,
    pgPort: config.pgPort,
    osUser,
    stateDir: config.stateDir,
    ...(config.vip ? { vip: config.vip } : {}),
    ...(config.watchdog.device ? { device: config.watchdog.device } : {}),
    ttlMs: config.lease.ttlMs,
    // The lease loop's check period (lease.ts): a live agent's own self-fence comes first.
    graceMs: Math.min(config.lease.renewEveryMs, 100),
  };
}
