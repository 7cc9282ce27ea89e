import type { Template } from 'aws-cdk-lib/assertions';
import { identityStatements, refsIn, resourcesOf, type PolicyStatement } from './stackFixture.ts';
import { ACCOUNT, REGION, allows as kmsAllows, resolverOf } from './kmsPolicy.ts';

/**
 * Who may read or put which of the stack's SSM parameters, counted as IAM would (the idea of
 * agentKeys.unit, for any set of parameters): a role's allows, plus AmazonSSMManagedInstanceCore's
 * ssm:GetParameter(s) on "*" for the roles that carry it (the hosts'), minus its explicit denies.
 * Reading a value also takes kms:Decrypt on the stack's key under the parameter's own context
 * (PARAMETER_ARN, through SSM): `decrypts` and `opens` count that, as kmsPolicy.ts evaluates it.
 */
export function parameterAccess(t: Template) {
  const roles = resourcesOf(t, 'AWS::IAM::Role');
  const statements = identityStatements(t);
  const allows = (pattern: string, action: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`, 'i').test(action);
  const names = (st: PolicyStatement, action: string) => [st.Action].flat().some((p) => allows(p, action));
  const coreManaged = (role: string) => JSON.stringify(roles.find(([id]) => id === role)?.[1].ManagedPolicyArns ?? []).includes('AmazonSSMManagedInstanceCore');
  const CORE_READS = ['ssm:GetParameter', 'ssm:GetParameters'];

  /** The parameters of `ids` (logical ids of the custom resources) `role` may do any of `actions` on. */
  function may(role: string, ids: string[], actions: string[]): string[] {
    const sts = statements.filter(({ roles: rs }) => rs.includes(role)).map(({ st }) => st);
    const of = (st: PolicyStatement) => ([st.Resource].flat().includes('*') ? ids : refsIn(st.Resource).filter((r) => ids.includes(r)));
    const out = new Set<string>();
    for (const action of actions) {
      const allowed = new Set(sts.filter((st) => st.Effect === 'Allow' && names(st, action)).flatMap(of));
      if (coreManaged(role) && CORE_READS.includes(action)) for (const k of ids) allowed.add(k);
      const denied = new Set(sts.filter((st) => st.Effect === 'Deny' && names(st, action)).flatMap(of));
      for (const k of allowed) if (!denied.has(k)) out.add(k);
    }
    return [...out].sort();
  }
  const resolve = resolverOf(t);
  const keyArn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${resourcesOf(t, 'AWS::KMS::Key')[0]![0]}`;
  const nameOf = (id: string) => String((t.toJSON().Resources as Record<string, { Properties?: { Name?: string } }>)[id]?.Properties?.Name);
  /** The request Parameter Store makes to KMS for a parameter (KMS Developer Guide, services-parameter-store.html). */
  const ssmRequest = (action: string, id: string) => ({
    action,
    context: { 'kms:ViaService': `ssm.${REGION}.amazonaws.com`, 'kms:EncryptionContext:PARAMETER_ARN': `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${nameOf(id)}` },
  });
  /** The parameters of `ids` whose value the key lets these identity statements use for `action` (the key policy's account statement delegates to IAM). */
  const keyAllows = (sts: PolicyStatement[], ids: string[], action: string) => ids.filter((id) => kmsAllows(resolve(sts) as never, ssmRequest(action, id), keyArn)).sort();
  const roleStatements = (role: string) => statements.filter(({ roles: rs }) => rs.includes(role)).map(({ st }) => st);
  const readsOf = (role: string, ids: string[]) => may(role, ids, ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParameterHistory']);
  return {
    keyArn,
    resolve,
    ssmRequest,
    keyAllows,
    /** The parameters whose value `role` may have decrypted: kms:Decrypt under its context. */
    decrypts: (role: string, ids: string[]) => keyAllows(roleStatements(role), ids, 'kms:Decrypt'),
    /** What a put of a new value needs of the key (kms:Encrypt under its context). */
    encrypts: (role: string, ids: string[]) => keyAllows(roleStatements(role), ids, 'kms:Encrypt'),
    /** The parameters `role` can read the value of: ssm read and kms decrypt both. */
    opens: (role: string, ids: string[]) => {
      const d = new Set(keyAllows(roleStatements(role), ids, 'kms:Decrypt'));
      return readsOf(role, ids).filter((id) => d.has(id));
    },
    roleIds: roles.map(([id]) => id),
    coreManaged,
    reads: (role: string, ids: string[]) => may(role, ids, ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParameterHistory']),
    puts: (role: string, ids: string[]) => may(role, ids, ['ssm:PutParameter']),
  };
}
