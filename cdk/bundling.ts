import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

/** The repository root: entries and the lock file are found from here, whatever the cwd. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The four Lambda handlers, by name; the lead owns their insides. */
export const handlerEntries = {
  probe: path.join(repoRoot, 'functions', 'probe.ts'),
  decide: path.join(repoRoot, 'functions', 'decide.ts'),
  act: path.join(repoRoot, 'functions', 'act.ts'),
  notify: path.join(repoRoot, 'functions', 'notify.ts'),
} as const;
export type HandlerName = keyof typeof handlerEntries;

/** ESM output still meets CommonJS dependencies (pg) that call require on Node built-ins. */
export const requireBanner =
  "import { createRequire as __pgvigilCreateRequire } from 'node:module'; const require = __pgvigilCreateRequire(import.meta.url);";

/**
 * Never bundled: pg's optional native binding (not installed, not wanted in Lambda), and
 * the AWS SDK v3, which the Node.js 22 runtime provides. Decided by size (2026-11): with
 * the SDK bundled the handlers weighed 914/941/936 KB (probe/decide/notify), within 6% of
 * the 1 MB budget, zod alone being 454 KB of each; without it, 571/508/477 KB. The price:
 * the runtime's SDK version, which AWS updates on its own schedule.
 */
export const externalModules = ['pg-native', '@aws-sdk/*'];

export const esbuildTarget = 'node22';

/** NodejsFunction bundling: local esbuild from node_modules, never Docker. */
export const lambdaBundling: BundlingOptions = {
  forceDockerBundling: false,
  format: OutputFormat.ESM,
  target: esbuildTarget,
  minify: true,
  sourceMap: false,
  banner: requireBanner,
  mainFields: ['module', 'main'],
  externalModules,
  bundleAwsSDK: false,
};

/** The same options for the esbuild API, so a test can bundle and weigh each handler. */
export function esbuildOptionsFor(entry: string) {
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node' as const,
    target: esbuildTarget,
    format: 'esm' as const,
    minify: true,
    sourcemap: false,
    banner: { js: requireBanner },
    mainFields: ['module', 'main'],
    external: externalModules,
    write: false,
  };
}

/**
 * The agent for a database host: one self-contained ESM file. A host has no node_modules and
 * no runtime-provided SDK (unlike Lambda), so everything is bundled, the AWS SDK included; only
 * pg's optional native binding stays out (pg requires it only when pg.native is asked for).
 */
/** The agent's entry point, as dbHosts bundles it. */
export const agentEntry = path.join(repoRoot, 'lib', 'agent', 'main.ts');

export const hostExternalModules = ['pg-native'];

export function agentEsbuildOptions(entry: string) {
  return { ...esbuildOptionsFor(entry), external: hostExternalModules };
}

