import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const AGENT_MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../agent/main.ts');

/**
 * Bundles the agent into one ESM file, as it ships to a database host: it starts in a
 * fraction of the time the TypeScript loader needs, which matters when a test restarts it.
 */
export async function bundleAgent(outDir: string): Promise<string> {
  const outfile = join(outDir, 'pgvigil-agent.mjs');
  await build({
    entryPoints: [AGENT_MAIN],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    // Some dependencies still call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __pgvigilRequire } from 'node:module'; const require = __pgvigilRequire(import.meta.url);" },
  });
  return outfile;
}
