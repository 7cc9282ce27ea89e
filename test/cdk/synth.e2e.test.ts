import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../../cdk/bundling.ts';

const out = mkdtempSync(path.join(tmpdir(), 'pgvigil-synth-'));
after(() => rmSync(out, { recursive: true, force: true }));

/**
 * `npx cdk synth` as a user runs it from a clean clone: the app from cdk.json, default
 * context (demo VPC), real local esbuild bundling, cdk-nag as a validation plugin.
 * Offline: any attempt to reach the internet goes to a closed local port and fails.
 */
test('npx cdk synth succeeds offline with the default context', async () => {
  const started = Date.now();
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(
      'npx',
      ['cdk', 'synth', '-q', '--no-notices', '--no-version-reporting', '-o', out, '-c', 'alertEmail=oncall@example.com'],
      {
        cwd: repoRoot,
        timeout: 300_000,
        env: { ...process.env, HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1', CDK_DISABLE_CLI_TELEMETRY: 'true' },
      },
      (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
  assert.equal(code, 0, stderr);
  console.log(`synth seconds=${((Date.now() - started) / 1000).toFixed(1)}`);

  const template = JSON.parse(readFileSync(path.join(out, 'PgVigil.template.json'), 'utf8'));
  type Fn = { Type: string; Metadata?: Record<string, string>; Properties?: { Handler?: string; Environment?: { Variables?: Record<string, unknown> } } };
  const all = Object.values<Fn>(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
  // probe, decide, act, notify
  assert.equal(all.filter((r) => r.Properties?.Environment?.Variables?.['POWERTOOLS_SERVICE_NAME'] !== undefined).length, 4);
  // pgvigil's own code: the four handlers and the SSM parameters' custom resource handler (its
  // Provider's framework function is CDK's, Handler framework.onEvent, not bundled by us).
  const fns = all.filter((r) => r.Properties?.Handler === 'index.handler');
  assert.equal(fns.length, 5);
  // Each function's code is a local esbuild bundle in the assembly, as CloudFormation will upload it.
  for (const fn of fns) {
    const bundle = path.join(out, fn.Metadata?.['aws:asset:path'] ?? 'missing', 'index.mjs');
    assert.ok(statSync(bundle).size < 1024 * 1024, `${bundle} under 1 MB`);
  }
});
