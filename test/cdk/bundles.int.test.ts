import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { esbuildOptionsFor, handlerEntries, requireBanner, type HandlerName } from '../../cdk/bundling.ts';

const ONE_MB = 1024 * 1024;

/** Each handler bundled exactly as NodejsFunction bundles it (same options), weighed in memory. */
test('each Lambda bundle builds with esbuild and stays under 1 MB', async () => {
  const sizes: Record<string, number> = {};
  for (const name of Object.keys(handlerEntries) as HandlerName[]) {
    const result = await build({ ...esbuildOptionsFor(handlerEntries[name]), metafile: true, logLevel: 'silent' });
    assert.deepEqual(result.errors, []);
    const out = result.outputFiles?.[0];
    assert.ok(out, `${name}: one output file`);
    const code = out.text;
    assert.ok(code.startsWith(requireBanner), `${name}: ESM with the require banner`);
    assert.match(code, /export\s*\{[^}]*\bhandler\b[^}]*\}/, `${name}: exports handler`);
    sizes[name] = out.contents.length;
  }
  console.log(`bundle ${Object.entries(sizes).map(([n, b]) => `${n}_bytes=${b}`).join(' ')}`);
  for (const [name, bytes] of Object.entries(sizes)) assert.ok(bytes < ONE_MB, `${name} is ${bytes} bytes`);
});
