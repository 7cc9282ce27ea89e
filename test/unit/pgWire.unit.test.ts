import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fatalErrorResponse, goingAwayAtStartup } from '../../lib/endpoints/pgWire.ts';

describe('a server going away at the startup', () => {
  test('a whole FATAL 57P01, 57P02 or 57P03 as the first reply names its SQLSTATE', () => {
    assert.equal(goingAwayAtStartup(fatalErrorResponse('terminating connection due to unexpected postmaster exit', '57P01')), '57P01');
    assert.equal(goingAwayAtStartup(fatalErrorResponse('crash', '57P02')), '57P02');
    assert.equal(goingAwayAtStartup(fatalErrorResponse('the database system is starting up')), '57P03');
  });

  test('anything else is not: a bad login, an AuthenticationOk, an SSL answer, a reply cut short', () => {
    assert.equal(goingAwayAtStartup(fatalErrorResponse('password authentication failed for user "x"', '28P01')), null);
    assert.equal(goingAwayAtStartup(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0])), null);
    assert.equal(goingAwayAtStartup(Buffer.from('N')), null);
    const whole = fatalErrorResponse('terminating connection due to unexpected postmaster exit', '57P01');
    assert.equal(goingAwayAtStartup(whole.subarray(0, 9)), null);
  });
});
