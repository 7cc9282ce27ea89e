/**
 * The property sweep of decider.property.unit.test.ts on the recorded seeds: each seed that once
 * found a gap (ARCHITECTURE.md, open problems and the ones closed), and random ones that passed
 * when the world last grew, so a change that reopens a gap or breaks a passing world turns CI red.
 * A failure names the seed; replay it with PROPERTY_SEED=<seed> on the property file to shrink it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { historyArb, replay, type RunOptions } from './history.ts';
import { RULES } from './world.ts';

const RUNS = 1000;
const FULL: RunOptions = { chaos: true, heal: true, checking: RULES.filter((r) => r !== 'blindIntents') };

/** Seed → what it found. */
const RECORDED: Record<number, string> = {
  2046612155: 'a candidate that fenced itself after a lost promotion answer',
  105584341: 'the same, another path',
  869318557: 'the same, another path',
  228590507: 'the same, another path',
  818209826: 'the same, another path',
  1281459736: 'a switchover to a node still being rewound',
  266585734: 'an operator failover (async) away from a primary that was writing',
  1: 'an operator failover (sync) away from a primary that was writing',
  475027393: 'a second failover before the synchronous standby caught up with the first',
  1044873770: 'a synchronous failover with no standby that may be synchronous (decide threw)',
  906055355: 'every node stopped and the control plane counting itself blind',
  1070664584: 'the same, a new primary stopped itself while switching',
  474098216: 'the same, async',
  1042649006: 'ANY 2 of 4: a member on an older timeline promoted at a higher LSN',
  1081479011: 'commits acknowledged by a removed member alone, its successor setting matching the spec',
  876859617: 'passed when partial partitions, k = 2 and 5 nodes came in',
  360213356: 'passed',
  267189041: 'passed',
  840815093: 'passed',
  324332115: 'passed',
};

describe(`the decider over ${RUNS} random histories on each of ${Object.keys(RECORDED).length} recorded seeds`, () => {
  for (const [seed, found] of Object.entries(RECORDED)) {
    test(`seed ${seed} (${found})`, () => {
      const violations: string[] = [];
      fc.check(
        fc.property(historyArb, (h) => {
          if (violations.length === 0) violations.push(...replay(h, FULL).violations);
          return true;
        }),
        { numRuns: RUNS, seed: Number(seed) },
      );
      assert.deepEqual(violations, [], `PROPERTY_SEED=${seed} npx tsx --test test/unit/domain/decider.property.unit.test.ts shrinks it`);
    });
  }
});
