import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PgVigilStack } from './pgvigilStack.ts';
import { stackPropsFromContext } from './appContext.ts';

const app = new App();
const keys = ['spec', 'vpcId', 'subnetIds', 'dbSecurityGroupId', 'alertEmail', 'alertHttps', 'zoneId', 'zoneName', 'vpcEndpoints', 'dbHosts', 'stackName'];
const context = Object.fromEntries(keys.map((k) => [k, app.node.tryGetContext(k)]).filter(([, v]) => v !== undefined));
const props = stackPropsFromContext(context);
if (!props.ok) {
  console.error(props.reason);
  process.exit(1);
}
new PgVigilStack(app, props.value.stackName, props.value);
// Any unacknowledged finding stops the synth, as it fails the tests.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
