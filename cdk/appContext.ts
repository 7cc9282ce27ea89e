import * as fs from 'node:fs';
import { z } from 'zod';
import { PermissionsBoundary } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { parseWith, type Parsed } from '../lib/domain/parse.ts';
import type { PgVigilStackProps } from './pgvigilStack.ts';
import { interfaceEndpointNames } from './network.ts';

const list = z
  .string()
  .optional()
  .transform((s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : []));
const onOff = z.union([z.boolean(), z.enum(['true', 'false'])], { error: 'give true or false' }).optional();
/** A true/false key that is off unless given. */
const flag = onOff.transform((v) => v === true || v === 'true');
/** A true/false key that is on unless given as false. */
const flagOn = onOff.transform((v) => v === undefined || v === true || v === 'true');

/** `cdk -c key=value` context; every value arrives as a string. */
export const AppContext = z.object({
  spec: z.string().min(1).optional(),
  vpcId: z.string().regex(/^vpc-[0-9a-f]+$/, 'give a VPC id like vpc-0abc1234').optional(),
  subnetIds: list,
  dbSecurityGroupId: z.string().regex(/^sg-[0-9a-f]+$/, 'give a security group id like sg-0abc1234').optional(),
  alertEmail: list,
  alertHttps: list,
  zoneId: z.string().regex(/^Z[0-9A-Z]+$/, 'give a hosted zone id like Z0123456789ABC').optional(),
  zoneName: z.string().min(1).optional(),
  /** "false": the VPC routes DynamoDB and S3 already (its own gateway endpoints). */
  gatewayEndpoints: flagOn,
  /** Interface endpoints to add, comma-separated: ssm, sns, lambda (secretsmanager: still accepted, no longer needed by pgvigil). Default none. */
  interfaceEndpoints: list.pipe(z.array(z.enum(interfaceEndpointNames, { error: `name interface endpoints from: ${interfaceEndpointNames.join(', ')} (comma-separated)` }))),
  /** Demo VPC flow logs. */
  flowLogs: z.enum(['off', 'reject', 'all'], { error: 'give off, reject or all' }).optional(),
  /** "true": a CloudWatch dashboard (3 USD a month beyond an account's first three). */
  dashboard: flag,
  /** How the probe runs: on-wake or always (default: on-wake unless a cluster replicates asynchronously). */
  probe: z.enum(['always', 'on-wake'], { error: 'give probe=on-wake or probe=always' }).optional(),
  /** "true": S3 Object Lock on the archive (governance, backupRetentionDays). */
  archiveObjectLock: flag,
  dbHosts: flag,
  /** The database hosts' AMI, pinned (README: Database hosts). */
  dbHostAmi: z.string().regex(/^ami-[0-9a-f]{8,17}$/, 'give an AMI id like ami-0123456789abcdef0').optional(),
  /** "false": no decision events on EventBridge (SNS alerts only). */
  decisionEvents: flagOn,
  backupRetentionDays: z.coerce.number({ error: 'give a whole number of days, e.g. 35' }).int('give a whole number of days, e.g. 35').min(1, 'keep backups at least 1 day').optional(),
  /** An EventBridge expression, cron(…) or rate(…), in UTC; "off" for no scheduled backups. */
  backupSchedule: z
    .string()
    .regex(/^(off|cron\(.+\)|rate\(.+\))$/, 'give "off", cron(0 3 * * ? *) or rate(1 day)')
    .optional(),
  /** An IAM policy (its name, or its ARN) set as the permissions boundary of every role the stack makes. */
  permissionsBoundary: z
    .string()
    .regex(/^(arn:aws[a-z-]*:iam::\d{12}:policy\/[\w+=,.@/-]+|[\w+=,.@-]+)$/, 'give a policy name like pgvigil-boundary, or its ARN arn:aws:iam::123456789012:policy/pgvigil-boundary')
    .optional(),
  /** "true": reserve (and cap) the handlers' concurrency (cdk/reservedConcurrency.ts). */
  reservedConcurrency: flag,
  stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'letters, digits and dashes').default('PgVigil'),
});

function readSpecFile(path: string): Parsed<unknown[]> {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    return { ok: false, reason: `-c spec=${path}: cannot read the file: ${(e as Error).message}` };
  }
  try {
    const json: unknown = JSON.parse(text);
    return { ok: true, value: Array.isArray(json) ? json : [json] };
  } catch (e) {
    return { ok: false, reason: `-c spec=${path}: not JSON: ${(e as Error).message}` };
  }
}

/** Context → stack props; one message naming the context key when something is wrong. */
export function stackPropsFromContext(context: Record<string, unknown>): Parsed<PgVigilStackProps & { stackName: string }> {
  const parsed = parseWith(AppContext, context, 'cdk context (-c)');
  if (!parsed.ok) return parsed;
  const c = parsed.value;
  if ((c.zoneId === undefined) !== (c.zoneName === undefined)) return { ok: false, reason: 'cdk context (-c): give zoneId and zoneName together' };
  let clusters: unknown[] | undefined;
  if (c.spec) {
    const spec = readSpecFile(c.spec);
    if (!spec.ok) return spec;
    clusters = spec.value;
  }
  if (c.vpcId && !clusters) return { ok: false, reason: 'cdk context (-c): vpcId: give -c spec=path.json too, the clusters in that VPC' };
  return {
    ok: true,
    value: {
      stackName: c.stackName,
      vpcId: c.vpcId,
      subnetIds: c.subnetIds,
      dbSecurityGroupId: c.dbSecurityGroupId,
      // Specs are validated, field by field, by the construct.
      clusters: clusters as PgVigilStackProps['clusters'],
      alertEmails: c.alertEmail,
      alertHttpsEndpoints: c.alertHttps,
      hostedZone: c.zoneId && c.zoneName ? { zoneId: c.zoneId, zoneName: c.zoneName } : undefined,
      gatewayEndpoints: c.gatewayEndpoints,
      interfaceEndpoints: c.interfaceEndpoints,
      ...(c.flowLogs ? { flowLogs: c.flowLogs } : {}),
      dashboard: c.dashboard,
      ...(c.probe ? { probeCadence: c.probe } : {}),
      archiveObjectLock: c.archiveObjectLock,
      dbHosts: c.dbHosts,
      dbHostAmi: c.dbHostAmi,
      decisionEvents: c.decisionEvents,
      reservedConcurrency: c.reservedConcurrency,
      ...(c.permissionsBoundary ? { permissionsBoundary: c.permissionsBoundary.startsWith('arn:') ? PermissionsBoundary.fromArn(c.permissionsBoundary) : PermissionsBoundary.fromName(c.permissionsBoundary) } : {}),
      backupRetentionDays: c.backupRetentionDays,
      backupSchedule: c.backupSchedule === undefined ? undefined : c.backupSchedule === 'off' ? null : events.Schedule.expression(c.backupSchedule),
      // A VPC lookup needs a concrete account and region; the demo synthesizes env-agnostic, offline.
      env: c.vpcId ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } : undefined,
    },
  };
}
