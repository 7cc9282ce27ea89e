import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PgVigilStack, type PgVigilStackProps } from '../../cdk/pgvigilStack.ts';

/**
 * A synthesized stack for template assertions. Asset bundling is skipped here (the bundle
 * test and the synth test build the real bundles); everything else is the real construct.
 */
export function synthStack(props: PgVigilStackProps = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new PgVigilStack(app, 'PgVigilTest', props);
  return { app, stack, template: Template.fromStack(stack) };
}

export const fullProps: PgVigilStackProps = {
  alertEmails: ['oncall@example.com'],
  alertHttpsEndpoints: ['https://hooks.example.com/pgvigil'],
  hostedZone: { zoneId: 'Z0123456789ABC', zoneName: 'db.internal' },
};

/** The demo with its database hosts, on a pinned (made-up) AMI as `-c dbHostAmi` gives it. */
export const hostProps: PgVigilStackProps = { ...fullProps, dbHosts: true, dbHostAmi: 'ami-0123456789abcdef0' };

type Resources = Record<string, { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string }>;

/** Resources of one type, by logical id, with their properties. */
export function resourcesOf(template: Template, type: string): Array<[string, Record<string, any>]> {
  const all = template.toJSON().Resources as Resources;
  return Object.entries(all)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

/** Logical ids a CloudFormation value refers to (Ref / Fn::GetAtt), anywhere inside it. */
export function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o['Ref'] === 'string') return [o['Ref']];
    if (Array.isArray(o['Fn::GetAtt'])) return [String(o['Fn::GetAtt'][0])];
    return Object.values(o).flatMap(refsIn);
  }
  return [];
}

export type PolicyStatement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };

/** Every identity-policy statement (inline policies, and managed ones attached to roles), with the roles it reaches. */
export function identityStatements(template: Template): Array<{ roles: string[]; st: PolicyStatement }> {
  const roles = resourcesOf(template, 'AWS::IAM::Role');
  const inline = resourcesOf(template, 'AWS::IAM::Policy').flatMap(([, p]) => (p.PolicyDocument.Statement as PolicyStatement[]).map((st) => ({ roles: refsIn(p.Roles ?? []), st })));
  const managed = resourcesOf(template, 'AWS::IAM::ManagedPolicy').flatMap(([id, p]) => {
    const attached = [...refsIn(p.Roles ?? []), ...roles.filter(([, r]) => refsIn(r.ManagedPolicyArns ?? []).includes(id)).map(([rid]) => rid)];
    return attached.length === 0 ? [] : (p.PolicyDocument.Statement as PolicyStatement[]).map((st) => ({ roles: attached, st }));
  });
  return [...inline, ...managed];
}
