import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writerConnectStrings } from '../../lib/client/connectStrings.ts';

describe('writer connection strings (multi-host, no DNS)', () => {
  const spec = { nodes: [{ host: '10.42.0.10', port: 5432 }, { host: '10.42.1.10', port: 5433 }, { host: 'fd00::3', port: 5432 }] } as never;

  test('given three nodes, when the strings are built, then each lists every node in spec order and asks for the writable one', () => {
    const s = writerConnectStrings(spec);
    assert.equal(s.libpq, 'host=10.42.0.10,10.42.1.10,fd00::3 port=5432,5433,5432 dbname=postgres target_session_attrs=read-write');
    assert.equal(s.uri, 'postgresql://10.42.0.10:5432,10.42.1.10:5433,[fd00::3]:5432/postgres?target_session_attrs=read-write');
    assert.equal(s.jdbc, 'jdbc:postgresql://10.42.0.10:5432,10.42.1.10:5433,[fd00::3]:5432/postgres?targetServerType=primary');
  });

  test('given a database name, then it is the one named', () => {
    assert.match(writerConnectStrings(spec, 'orders').libpq, / dbname=orders /);
  });
});
