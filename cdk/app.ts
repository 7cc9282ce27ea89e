import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PgVigilStack } from './pgvigilStack.ts';
import { AppContext, stackPropsFromContext } from './appContext.ts';

const app = new App();
// Every key the context schema knows (a hand-kept list here once dropped decisionEvents and the backup keys).
const keys = Object.keys(AppContext.shape);
const context = Object.fromEntries(keys.map((k) => [k, app.node.tryGetContext(k)]).filter(([, v]) => v !== undefined));
const props = stackPropsFromContext(context);
if (!props.ok) {
  console.error(props.reason);
  process.exit(1);
}
new PgVigilStack(app, props.value.stackName, props.value);
// Any unacknowledged finding stops the synth, as it fails the tests.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
