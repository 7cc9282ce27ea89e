import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startCli, type CliResult } from '../support/cliRun.ts';
import { startTestPipeline, type TestPipeline } from '../support/pipelineKit.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** `pgvigil …` whose stdout reader is gone before the command writes a byte: its first write fails with EPIPE. */
async function withStdoutClosed(args: readonly string[]): Promise<CliResult> {
  const cli = startCli(args);
  cli.child.stdout!.destroy();
  return cli.done;
}

/** `pgvigil … | head -1` through bash, as a person types it: the exit code of pgvigil and what it wrote on stderr. */
function pipedToHead(args: readonly string[]): Promise<{ code: number; stderr: string; head: string }> {
  const cli = ['node', '--import', 'tsx', 'lib/cli/main.ts', ...args].map((a) => `'${a}'`).join(' ');
  const script = `${cli} 2>&3 | head -1; exit "\${PIPESTATUS[0]}"`;
  const child = spawn('bash', ['-c', script], { cwd: repo, stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
  let head = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (head += d.toString()));
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stderr, head })));
}

describe('pgvigil with its output closed under it ends quietly: exit 0, nothing on stderr', () => {
  let p: TestPipeline;
  let wd: string[];

  before(async () => {
    p = await startTestPipeline(16420);
    wd = ['--workdir', p.workDir];
  });
  after(async () => {
    await p?.dispose();
  });

  for (const args of [['history'], ['history', '--json'], ['status'], ['status', '--json']]) {
    test(`pgvigil ${args.join(' ')} with stdout closed before it writes`, async () => {
      const r = await withStdoutClosed([...args, ...wd]);
      assert.equal(r.stderr, '', 'no stack trace, no message');
      assert.equal(r.code, 0);
    });
  }

  test('pgvigil status --watch | head -1: the second redraw finds the pipe closed', async () => {
    const r = await pipedToHead(['status', '--watch', ...wd]);
    assert.match(r.head, /Cluster local/, 'head saw the first redraw');
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  });

  test('pgvigil history | head -1', async () => {
    const r = await pipedToHead(['history', ...wd]);
    assert.match(r.head, /TIME \(UTC\)/);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  });
});
