import { z } from 'zod';
import { parseWith, type Parsed } from '../domain/parse.ts';
import { ClusterSpec } from '../domain/spec.ts';

const json = <T extends z.ZodType>(schema: T, what: string) =>
  z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: `${what} is not JSON` });
      return z.NEVER;
    }
  }).pipe(schema);

/** What the handlers read from their Lambda environment; the CDK construct sets every one. */
export const LambdaEnv = z.object({
  PGVIGIL_TABLE: z.string().min(3, 'set PGVIGIL_TABLE to the store table name'),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  PGVIGIL_CLUSTERS: json(z.array(ClusterSpec).min(1, 'list at least one cluster spec'), 'PGVIGIL_CLUSTERS'),
  /** Each node's agent key is the SSM SecureString parameter `<prefix><cluster>/<node>` (lib/control/agentKeySource.ts). */
  PGVIGIL_AGENT_KEY_PARAMETER_PREFIX: z.string().min(1).optional(),
  /** Runs off AWS: local mode's per-node key files (`<dir>/<cluster>/<node>.key`). */
  PGVIGIL_AGENT_KEY_DIR: z.string().min(1).optional(),
  /** The probe's pgvigil_monitor password: the SSM SecureString parameter the stack generates (cdk/hostSecrets.ts), or a file (runs off AWS). */
  PGVIGIL_MONITOR_PARAMETER: z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/, "set PGVIGIL_MONITOR_PARAMETER to the monitoring password parameter's full name, e.g. /pgvigil/PgVigil/host/demo/monitor-password").optional(),
  /** The same from Secrets Manager: functions deployed before the stack moved it to SSM. */
  PGVIGIL_MONITOR_SECRET_ARN: z.string().min(1).optional(),
  PGVIGIL_MONITOR_PASSWORD_FILE: z.string().min(1).optional(),
  /** The cluster CA's certificate: the probe then checks each node's certificate and name (verify-full), else TLS without (require). */
  PGVIGIL_CA_CERT_FILE: z.string().min(1).optional(),
  /** The same from SSM (on AWS): the parameter the hosts' bootstrap puts the certificate alone in, never the CA key. */
  PGVIGIL_CA_CERT_PARAMETER: z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/, "set PGVIGIL_CA_CERT_PARAMETER to the CA certificate parameter's full name, e.g. /pgvigil/PgVigil/host/demo/cluster-ca-cert").optional(),
  /** The same from Secrets Manager: functions deployed before the stack moved it to SSM. */
  PGVIGIL_CA_CERT_SECRET_ARN: z.string().min(1).optional(),
  PGVIGIL_TOPIC_ARN: z.string().min(1).optional(),
  /** notify: also put each decision on the default EventBridge bus ('off': SNS only). */
  PGVIGIL_DECISION_EVENTS: z.enum(['on', 'off'], { error: "set PGVIGIL_DECISION_EVENTS to 'on' or 'off'" }).default('on'),
  PGVIGIL_ENDPOINTS: json(
    z.object({ route53: z.object({ zoneId: z.string(), writerName: z.string(), readerName: z.string(), ttl: z.number().int().min(0) }).optional() }),
    'PGVIGIL_ENDPOINTS',
  ).optional(),
  /** decide hands each pending intent to this function (the act function), by asynchronous invoke. */
  PGVIGIL_ACT_FUNCTION: z.string().min(1).optional(),
  /** act sends each intent's result to this function (decide), which alone writes decisions. */
  PGVIGIL_DECIDE_FUNCTION: z.string().min(1).optional(),
  /** Local runs of the handlers (tests) point the Lambda invoke client here. */
  PGVIGIL_LAMBDA_ENDPOINT: z.string().url().optional(),
  /**
   * How the probe runs: 'always' probes every interval of every minute (about 4.4 USD a month on
   * AWS); 'on-wake' probes once a minute until the clusters are settled, and whenever decide starts
   * it for an agent's wake or an operator command (ARCHITECTURE, "Who wakes the probe"). decide reads
   * it too: between runs a quiet cluster's observations are past the staleness bound, which is no news.
   */
  PGVIGIL_PROBE_CADENCE: z.enum(['always', 'on-wake'], { error: "set PGVIGIL_PROBE_CADENCE to 'always' or 'on-wake'" }).default('always'),
  /** on-wake: the probe function decide starts for wakes and before operator commands. */
  PGVIGIL_PROBE_FUNCTION: z.string().min(1).optional(),
  /** Local runs of the handlers against dynalite (tests) point the store here. */
  PGVIGIL_STORE_ENDPOINT: z.string().url().optional(),
});
export type LambdaEnv = z.infer<typeof LambdaEnv>;

export function parseLambdaEnv(env: NodeJS.ProcessEnv = process.env): Parsed<LambdaEnv> {
  return parseWith(LambdaEnv, env, 'Lambda environment');
}
