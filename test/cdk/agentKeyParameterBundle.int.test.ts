import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { esbuildOptionsFor, requireBanner } from '../../cdk/bundling.ts';
import { agentKeyParameterEntry } from '../../cdk/agentKeyParameter.ts';

/** The agent key parameters' handler bundled as its NodejsFunction bundles it (the handlers' options: the runtime's SDK, client-ssm included), weighed in memory. */
test('the agent key parameter handler bundles with esbuild, exports handler, and stays under 1 MB', async () => {
  const result = await build({ ...esbuildOptionsFor(agentKeyParameterEntry), metafile: true, logLevel: 'silent' });
  assert.deepEqual(result.errors, []);
  const out = result.outputFiles?.[0];
  assert.ok(out);
  assert.ok(out.text.startsWith(requireBanner));
  assert.match(out.text, /export\s*\{[^}]*\bhandler\b[^}]*\}/);
  // The SDK is the runtime's: left out of the bundle, imported by name.
  const [output] = Object.values(result.metafile.outputs);
  assert.ok(output?.imports.some((i) => i.external && i.path === '@aws-sdk/client-ssm'));
  console.log(`bundle agentKeyParameter_bytes=${out.contents.length}`);
  assert.ok(out.contents.length < 1024 * 1024, `${out.contents.length} bytes`);
});
