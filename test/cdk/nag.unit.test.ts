import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { fullProps, hostProps, synthStack } from './stackFixture.ts';

/** Every acknowledgement in the tree: where, which rule, why. */
function acknowledgements(root: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason }))),
  );
}

for (const [label, props] of [
  ['control plane', fullProps],
  ['control plane with database hosts', hostProps],
] as const) {
  describe(`cdk-nag AwsSolutions: ${label}`, () => {
    const { app, stack } = synthStack(props);

    test('no finding left unacknowledged', () => {
      const report = new AwsSolutionsChecks(app).validateScope(stack);
      const findings = report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId).join(', ')}`);
      assert.deepEqual(findings, []);
      assert.equal(report.success, true);
    });

    test('no error or warning annotations from the CDK itself', () => {
      const annotations = Annotations.fromStack(stack);
      const messages = [...annotations.findError('*', Match.anyValue()), ...annotations.findWarning('*', Match.anyValue())].map((m) => `${m.id}: ${String(m.entry.data)}`);
      assert.deepEqual(messages, []);
    });

    test('every acknowledgement names a specific rule and carries a specific reason', () => {
      // The CDK records acknowledgements of its own template checks too; ours are the AwsSolutions ones.
      const acks = acknowledgements(stack).filter((a) => a.id.includes('AwsSolutions'));
      assert.ok(acks.length > 0);
      for (const a of acks) {
        assert.match(a.id, /AwsSolutions-[A-Z]+\d+/, `${a.path}: a rule id`);
        assert.ok(a.reason.length >= 60, `${a.path} ${a.id}: a reason a reviewer can check, not a shrug`);
      }
      const distinct = [...new Map(acks.map((a) => [`${a.id}|${a.reason}`, a])).values()];
      console.log(`${label}: ${acks.length} acknowledgements (${distinct.length} distinct)`);
      for (const a of distinct) console.log(`  ${a.id}: ${a.reason}`);
    });
  });
}
