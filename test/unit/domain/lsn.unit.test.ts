import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lsn } from './kit.ts';

describe('lsn helpers', () => {
  test('lsn builder round-trips through the domain representation', () => {
    assert.equal(lsn(0x1_0000_0010), '1/10');
  });
});
