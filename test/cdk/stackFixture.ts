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
