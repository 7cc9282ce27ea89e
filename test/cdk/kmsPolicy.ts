import type { Template } from 'aws-cdk-lib/assertions';

/**
 * Policy statements of the template evaluated against one KMS request, the way IAM reads them
 * (an explicit Deny wins; an Allow needs its action, its resource and every condition), so a
 * test can ask "may this role use the key for that?" instead of matching statement shapes.
 * Template values are resolved to concrete ARNs in a made-up account (the buckets, topics, keys
 * and roles the key's grants name); only the condition operators the stack's KMS grants use are
 * known, and any other fails the test rather than passing it.
 */
export const ACCOUNT = '111111111111';
export const REGION = 'eu-west-1';

type Json = unknown;
type Statement = { Effect: string; Action: string | string[]; Resource?: Json; Principal?: Json; Condition?: Record<string, Record<string, Json>> };

export interface KmsRequest {
  action: string;
  /** The request's condition keys: kms:ViaService, kms:EncryptionContext:…, aws:SourceArn, … */
  context: Record<string, string>;
}

/** A template value with Ref, Fn::GetAtt and Fn::Join resolved, resources named by their logical id. */
export function resolverOf(template: Template): (value: Json) => Json {
  const resources = template.toJSON().Resources as Record<string, { Type: string }>;
  const pseudo: Record<string, string> = { 'AWS::AccountId': ACCOUNT, 'AWS::Region': REGION, 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com' };
  const props = template.toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  const arnOf = (id: string): string => {
    const type = resources[id]?.Type;
    if (type === 'AWS::S3::Bucket') return `arn:aws:s3:::${id.toLowerCase()}`;
    if (type === 'AWS::SNS::Topic') return `arn:aws:sns:${REGION}:${ACCOUNT}:${id}`;
    if (type === 'AWS::KMS::Key') return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
    if (type === 'AWS::IAM::Role') return `arn:aws:iam::${ACCOUNT}:role/${id}`;
    // Anything else: a value no key ARN or condition here can be mistaken for.
    return `unresolved:${type}:${id}`;
  };
  const resolve = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value && typeof value === 'object') {
      const o = value as Record<string, Json>;
      if (typeof o['Ref'] === 'string') {
        // A SecureString parameter's custom resource: its physical id, the Ref, is the parameter's name.
        const r = props[o['Ref']];
        if (r && /^Custom::PgVigil(AgentKey|Host)Parameter$/.test(r.Type)) return String(r.Properties?.['Name']);
        return pseudo[o['Ref']] ?? arnOf(o['Ref']);
      }
      if (Array.isArray(o['Fn::GetAtt'])) {
        const [id, attr] = o['Fn::GetAtt'] as [string, string];
        return attr === 'Arn' ? arnOf(id) : `unresolved:${id}.${attr}`;
      }
      if (Array.isArray(o['Fn::Join'])) {
        const [sep, parts] = o['Fn::Join'] as [string, Json[]];
        return parts.map(resolve).join(sep);
      }
      return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolve(v)]));
    }
    return value;
  };
  return resolve;
}

const wildcard = (pattern: string, value: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);
const list = (v: Json): string[] => [v].flat() as string[];

function conditionHolds(operator: string, key: string, expected: Json, context: Record<string, string>): boolean {
  const actual = context[key];
  const values = list(expected);
  switch (operator) {
    case 'StringEquals':
    case 'ArnEquals':
      return actual !== undefined && values.includes(actual);
    case 'StringLike':
    case 'ArnLike':
      return actual !== undefined && values.some((p) => wildcard(p, actual));
    case 'Null':
      return (actual === undefined) === (String(expected) === 'true');
    default:
      throw new Error(`condition operator ${operator} is not evaluated here: teach kmsPolicy.ts before relying on it`);
  }
}

function applies(st: Statement, request: KmsRequest, keyArn: string): boolean {
  if (!list(st.Action).some((a) => wildcard(a, request.action))) return false;
  if (st.Resource !== undefined && !list(st.Resource).some((r) => wildcard(r, keyArn))) return false;
  return Object.entries(st.Condition ?? {}).every(([op, keys]) => Object.entries(keys).every(([k, v]) => conditionHolds(op, k, v, request.context)));
}

/** Whether these (resolved) statements allow the request on the key: no Deny applies, an Allow does. */
export function allows(statements: Statement[], request: KmsRequest, keyArn: string): boolean {
  const matching = statements.filter((st) => applies(st, request, keyArn));
  return !matching.some((st) => st.Effect === 'Deny') && matching.some((st) => st.Effect === 'Allow');
}

/** The key policy statements naming this service principal (resolved). */
export function keyPolicyFor(resolve: (v: Json) => Json, keyPolicy: { Statement: Statement[] }, service: string): Statement[] {
  return (resolve(keyPolicy.Statement) as Statement[]).filter((st) => list((st.Principal as { Service?: Json } | undefined)?.Service ?? []).includes(service));
}
