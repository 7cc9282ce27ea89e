import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { receiverIsFrom } from '../../lib/agent/serverState.ts';

// Issue 12, path 5: on hosts every node listens on 5432, so "streaming from pg2" must name the host too.
describe('a WAL receiver streams from a peer only when host and port both match', () => {
  const pg2 = { host: '10.0.1.12', port: 5432 };
  test('given a receiver connected to pg3 on the same port, then it does not stream from pg2', () => {
    assert.equal(receiverIsFrom({ status: 'streaming', senderHost: '10.0.1.13', senderPort: 5432 }, pg2), false);
  });
  test('given a receiver connected to pg2, then it streams from pg2 (host names compare without case)', () => {
    assert.equal(receiverIsFrom({ status: 'streaming', senderHost: '10.0.1.12', senderPort: 5432 }, pg2), true);
    assert.equal(receiverIsFrom({ status: 'streaming', senderHost: 'PG2.internal', senderPort: 5432 }, { host: 'pg2.internal', port: 5432 }), true);
  });
  test('given no receiver, or one whose host is unknown, then it streams from no one', () => {
    assert.equal(receiverIsFrom(null, pg2), false);
    assert.equal(receiverIsFrom({ status: 'streaming', senderHost: null, senderPort: 5432 }, pg2), false);
  });
});
