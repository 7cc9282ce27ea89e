import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { agentEntry, agentEsbuildOptions, hostExternalModules } from '../../cdk/bundling.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'pgvigil-agent-bundle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    // cwd and NODE_PATH point at nothing: only what the bundle carries can resolve.
    execFile(process.execPath, [path.join(dir, 'agent.mjs'), ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '', NODE_PATH: '' }, timeout: 60_000 }, (err, _out, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

/**
 * The agent as dbHosts ships it to a host, which has node and no node_modules: the bundle built
 * with the same options into an empty directory outside the repository, then run from there.
 */
test('the host agent bundle carries every dependency: it runs from an empty directory', async () => {
  const result = await build({ ...agentEsbuildOptions(agentEntry), write: true, outfile: path.join(dir, 'agent.mjs'), metafile: true, logLevel: 'silent' });
  assert.deepEqual(result.errors, []);
  const [output] = Object.values(result.metafile.outputs);
  assert.ok(output);
  // Every import left in the file is a Node built-in or the one optional binding pg asks for only on pg.native.
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  const external = output.imports.filter((i) => i.external && !builtins.has(i.path)).map((i) => i.path);
  assert.deepEqual([...new Set(external)], external.length ? hostExternalModules : []);
  console.log(`agent bundle bytes=${output.bytes}`);

  // A bad config is named by the config's zod schema: every static import resolved before main ran.
  writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ cluster: 'demo', node: 'pg-a', listen: { host: '0.0.0.0', port: 'eighty' } }));
  const bad = await run(['--config', path.join(dir, 'agent.json')]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.doesNotMatch(bad.stderr, /ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);
  assert.match(bad.stderr, /^pgvigil-agent: .*listen/m, bad.stderr);

  const usage = await run([]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage: pgvigil-agent --config/);
});
