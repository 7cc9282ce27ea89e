import type { Template } from 'aws-cdk-lib/assertions';
import { identityStatements, refsIn, resourcesOf, type PolicyStatement } from './stackFixture.ts';

/**
 * Who may read or put which of the stack's SSM parameters, counted as IAM would (the idea of
 * agentKeys.unit, for any set of parameters): a role's allows, plus AmazonSSMManagedInstanceCore's
 * ssm:GetParameter(s) on "*" for the roles that carry it (the hosts'), minus its explicit denies.
 * Under aws/ssm every principal of the account may decrypt through SSM, so this is the whole of
 * who reads a SecureString.
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
  return {
    roleIds: roles.map(([id]) => id),
    coreManaged,
    reads: (role: string, ids: string[]) => may(role, ids, ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParameterHistory']),
    puts: (role: string, ids: string[]) => may(role, ids, ['ssm:PutParameter']),
  };
}
