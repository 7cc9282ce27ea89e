import { z } from 'zod';
import { parseWith, type Parsed } from '../domain/parse.ts';
import type { EndpointChange, EndpointTarget } from './driver.ts';

/** Which listener a client came in on. */
export type ProxyRole = 'writer' | 'reader';

const Target = z
  .object({
    name: z.string().min(1, 'give the node name'),
    host: z.string().min(1, 'give the host name or IP address'),
    port: z.number().int().min(1).max(65535),
  })
  .strict();

const Change = z
  .object({
    term: z.number().int().min(0, 'the term is a non-negative integer'),
    writer: Target.nullable(),
    readers: z.array(Target),
  })
  .strict();

export function parseEndpointChange(input: unknown): Parsed<EndpointChange> {
  return parseWith(Change, input, 'endpoint change');
}

/** Two targets are the same only if name, host and port all match: a node moved elsewhere is a new target. */
export function targetKey(t: EndpointTarget): string {
  return `${t.name}@${t.host}:${t.port}`;
}

/**
 * Where the proxy sends new connections, and which open ones may stay after a change.
 * Pure: the socket work lives in proxy.ts.
 */
export class ProxyRoutes {
  private term = -1;
  private writer: EndpointTarget | null = null;
  private readers: EndpointTarget[] = [];
  private next = 0;

  get currentTerm(): number {
    return this.term;
  }

  /** Applies a change unless its term is older than the last applied one. */
  apply(change: EndpointChange): boolean {
    if (change.term < this.term) return false;
    this.term = change.term;
    this.writer = change.writer;
    this.readers = [...change.readers];
    if (this.next >= this.readers.length) this.next = 0;
    return true;
  }

  /**
   * The targets to try, in order, for a new connection. Writer port: the writer only.
   * Reader port: readers round-robin, each once (so a refused one can be skipped);
   * the writer serves reads only when no reader is listed.
   */
  candidates(role: ProxyRole): EndpointTarget[] {
    if (role === 'writer' || this.readers.length === 0) return this.writer ? [this.writer] : [];
    const n = this.readers.length;
    const start = this.next % n;
    this.next = (start + 1) % n;
    const out: EndpointTarget[] = [];
    for (let i = 0; i < n; i++) out.push(this.readers[(start + i) % n] as EndpointTarget);
    return out;
  }

  /**
   * Whether an open connection may stay. A writer-port connection stays only on the current
   * writer (a fenced primary keeps no clients). A reader-port connection stays on a listed
   * reader, or on the current writer (the fallback).
   */
  keeps(role: ProxyRole, key: string): boolean {
    const onWriter = this.writer !== null && targetKey(this.writer) === key;
    if (role === 'writer') return onWriter;
    return onWriter || this.readers.some((r) => targetKey(r) === key);
  }
}
