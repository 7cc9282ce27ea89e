import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterConfText, standbyAutoConfText } from '../../lib/local/pgConf.ts';
import { confValue } from '../../lib/postgres/autoConf.ts';
import { primaryConninfo, slotName } from '../../lib/postgres/standbyConf.ts';

test('configuration values are quoted so a quote cannot end the setting', () => {
  assert.equal(confValue("a'b"), "'a''b'");
  assert.equal(confValue(10), '10');
  assert.equal(confValue(true), 'on');
  const text = clusterConfText({ synchronousStandbyNames: 'ANY 1 (pg2, pg3)', walReceiverTimeoutMs: 3000, extraConf: { work_mem: '8MB' } });
  assert.match(text, /^synchronous_standby_names = 'ANY 1 \(pg2, pg3\)'$/m);
  assert.match(text, /^wal_receiver_timeout = '3000ms'$/m);
  assert.match(text, /^work_mem = '8MB'$/m);
});

test('a standby identifies itself by its node name and uses its own slot', () => {
  assert.equal(primaryConninfo({ host: '127.0.0.1', port: 15400 }, 'pg2'), 'host=127.0.0.1 port=15400 user=replicator application_name=pg2');
  const auto = standbyAutoConfText({ host: '127.0.0.1', port: 15400 }, 'db-2');
  assert.match(auto, /application_name=db-2'$/m);
  assert.match(auto, /^primary_slot_name = 'db_2'$/m);
  assert.equal(slotName('db-2'), 'db_2');
});
