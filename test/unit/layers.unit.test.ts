import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The layering ARCHITECTURE.md promises, read from the imports themselves.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const lib = join(root, 'lib');

type Edge = { from: string; to: string; typeOnly: boolean };

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

function edges(): Edge[] {
  const out: Edge[] = [];
  // Static imports and re-exports; `await import()` is a runtime edge too.
  const re = /^(import|export)\s+(type\s+)?[^'"]*?from\s+'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/gm;
  for (const file of tsFiles(lib)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(re)) {
      const spec = m[3] ?? m[4]!;
      // `import type { A }`, or `import { type A, type B }` with no value beside them.
      const clause = m[0].slice(0, m[0].indexOf('from'));
      const braces = /^(?:import|export)\s*\{([^}]*)\}\s*$/.exec(clause.trim())?.[1];
      const typedNames = braces !== undefined && braces.split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '));
      const typeOnly = m[4] === undefined && (m[2] !== undefined || typedNames);
      out.push({ from: relative(root, file), to: relative(root, resolve(dirname(file), spec)), typeOnly });
    }
  }
  return out;
}

/** `lib/agent/actions/x.ts` → `lib/agent`; `lib/log.ts` → `lib/log.ts`. */
const layer = (path: string) => {
  const parts = path.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : path;
};

describe('layers: imports point down (ARCHITECTURE.md §Layers)', () => {
  const all = edges();

  test('the scan sees the tree (guards the test itself)', () => {
    assert.ok(all.length > 300, `only ${all.length} imports found under lib/`);
    assert.ok(all.some((e) => e.from === 'lib/agent/startAgent.ts' && e.to === 'lib/postgres/pgServer.ts'));
  });

  test('lib/domain imports nothing but zod and itself', () => {
    for (const file of tsFiles(join(lib, 'domain'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/from\s+'([^']+)'/g)) {
        const spec = m[1]!;
        assert.ok(spec === 'zod' || spec.startsWith('./'), `${relative(root, file)} imports ${spec}`);
      }
    }
  });

  test('no host-side or store layer imports local mode, the CLI or the control plane', () => {
    const below = ['lib/agent', 'lib/host', 'lib/backup', 'lib/store', 'lib/probe', 'lib/endpoints', 'lib/postgres'];
    const above = ['lib/local', 'lib/cli', 'lib/control'];
    const bad = all.filter((e) => below.includes(layer(e.from)) && above.includes(layer(e.to)));
    assert.deepEqual(bad.map((e) => `${e.from} → ${e.to}`), []);
  });

  test('lib/postgres depends on no pgvigil layer but the log', () => {
    const bad = all.filter((e) => layer(e.from) === 'lib/postgres' && layer(e.to) !== 'lib/postgres' && e.to !== 'lib/log.ts');
    assert.deepEqual(bad.map((e) => `${e.from} → ${e.to}`), []);
  });

  test('no import circle between files, type-only imports aside', () => {
    const next = new Map<string, string[]>();
    for (const e of all) if (!e.typeOnly) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    const state = new Map<string, 'open' | 'done'>();
    const circles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        circles.push([...path.slice(path.indexOf(f)), f].join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const t of next.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of next.keys()) visit(f, []);
    assert.deepEqual(circles, []);
  });
});
