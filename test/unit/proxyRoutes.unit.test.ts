import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyRoutes, parseEndpointChange, targetKey } from '../../lib/endpoints/proxyRoutes.ts';

const pg1 = { name: 'pg1', host: '127.0.0.1', port: 5432 };
const pg2 = { name: 'pg2', host: '127.0.0.1', port: 5433 };
const pg3 = { name: 'pg3', host: '127.0.0.1', port: 5434 };

test('before any change, no port has a target', () => {
  const routes = new ProxyRoutes();
  assert.deepEqual(routes.candidates('writer'), []);
  assert.deepEqual(routes.candidates('reader'), []);
});

test('the reader port goes round-robin over the readers, each tried once per connection', () => {
  const routes = new ProxyRoutes();
  routes.apply({ term: 1, writer: pg1, readers: [pg2, pg3] });
  assert.deepEqual(routes.candidates('reader').map((t) => t.name), ['pg2', 'pg3']);
  assert.deepEqual(routes.candidates('reader').map((t) => t.name), ['pg3', 'pg2']);
  assert.deepEqual(routes.candidates('reader').map((t) => t.name), ['pg2', 'pg3']);
  assert.deepEqual(routes.candidates('writer').map((t) => t.name), ['pg1']);
});

test('with no reader listed, the writer serves reads', () => {
  const routes = new ProxyRoutes();
  routes.apply({ term: 1, writer: pg1, readers: [] });
  assert.deepEqual(routes.candidates('reader').map((t) => t.name), ['pg1']);
  assert.equal(routes.keeps('reader', targetKey(pg1)), true);
});

test('a change with an older term is ignored; the same term applies', () => {
  const routes = new ProxyRoutes();
  assert.equal(routes.apply({ term: 2, writer: pg2, readers: [pg3] }), true);
  assert.equal(routes.apply({ term: 1, writer: pg1, readers: [] }), false);
  assert.deepEqual(routes.candidates('writer').map((t) => t.name), ['pg2']);
  assert.equal(routes.apply({ term: 2, writer: pg2, readers: [] }), true);
  assert.deepEqual(routes.candidates('reader').map((t) => t.name), ['pg2']);
});

test('a new writer keeps no writer-port connection on the old one; a dropped reader keeps none', () => {
  const routes = new ProxyRoutes();
  routes.apply({ term: 1, writer: pg1, readers: [pg2, pg3] });
  routes.apply({ term: 2, writer: pg2, readers: [pg3] });
  assert.equal(routes.keeps('writer', targetKey(pg1)), false);
  assert.equal(routes.keeps('writer', targetKey(pg2)), true);
  assert.equal(routes.keeps('reader', targetKey(pg1)), false);
  assert.equal(routes.keeps('reader', targetKey(pg3)), true);
  routes.apply({ term: 3, writer: null, readers: [pg3] });
  assert.equal(routes.keeps('writer', targetKey(pg2)), false);
  assert.deepEqual(routes.candidates('writer'), []);
});

test('a node moved to another port is a different target', () => {
  const routes = new ProxyRoutes();
  routes.apply({ term: 1, writer: pg1, readers: [] });
  routes.apply({ term: 1, writer: { ...pg1, port: 6000 }, readers: [] });
  assert.equal(routes.keeps('writer', targetKey(pg1)), false);
});

test('a malformed change is refused with the field named', () => {
  const r = parseEndpointChange({ term: 1, writer: { name: 'pg1', host: '127.0.0.1', port: 'x' }, readers: [] });
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.reason, /writer\.port/);
});
