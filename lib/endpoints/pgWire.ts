/**
 * The few PostgreSQL wire-protocol messages the proxy reads or writes itself. It never
 * parses a client's queries: it only builds a refusal, and follows the server's
 * ReadyForQuery messages to know when a session sits between transactions.
 */

/**
 * A FATAL ErrorResponse, as a server sends when it refuses a new connection. 57P03
 * (cannot_connect_now) is what PostgreSQL itself answers while starting up: clients and
 * pools treat it as "try again", not as a bad login.
 */
export function fatalErrorResponse(message: string, sqlstate = '57P03'): Buffer {
  const fields = Buffer.concat([
    field('S', 'FATAL'),
    field('V', 'FATAL'),
    field('C', sqlstate),
    field('M', message),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write('E', 0, 'latin1');
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}

function field(code: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(code, 'latin1'), Buffer.from(value, 'utf8'), Buffer.from([0])]);
}

/** SQLSTATEs of a server going away or not taking connections: admin_shutdown, crash_shutdown, cannot_connect_now. */
const GOING_AWAY = new Set(['57P01', '57P02', '57P03']);

/**
 * When a server's first reply to a startup is one whole ErrorResponse saying it is going away
 * (a backend forked just before its postmaster died answers 57P01 "terminating connection due
 * to unexpected postmaster exit"), its SQLSTATE; else null. Only such a first reply is read.
 */
export function goingAwayAtStartup(first: Uint8Array): string | null {
  if (first.length < 5 || first[0] !== 0x45) return null;
  const b = Buffer.from(first.buffer, first.byteOffset, first.length);
  const end = 1 + b.readInt32BE(1);
  if (end > b.length) return null;
  for (let at = 5; at < end && b[at] !== 0; ) {
    const code = b[at]!;
    const close = b.indexOf(0, at + 1);
    if (close < 0 || close >= end) return null;
    if (code === 0x43) {
      const sqlstate = b.toString('latin1', at + 1, close);
      return GOING_AWAY.has(sqlstate) ? sqlstate : null;
    }
    at = close + 1;
  }
  return null;
}

/** The transaction status a ReadyForQuery carries: idle, in a transaction block, in a failed one. */
export type TxStatus = 'I' | 'T' | 'E';

/**
 * Follows the message framing of one server-to-client stream (type byte, int32 length
 * including itself) across chunk boundaries, and reports each ReadyForQuery's status.
 * Only the 5-byte headers and ReadyForQuery's one status byte are read; bodies are skipped.
 */
export class ServerMessageTracker {
  private header = Buffer.alloc(5);
  private have = 0;
  /** Bytes of the current body still to skip. */
  private skip = 0;
  private inReady = false;
  /** The server's one-byte answer to an SSLRequest or GSSENCRequest comes unframed. */
  private negotiating = false;
  /** False once the stream is encrypted: nothing in it can be read. */
  tracking = true;

  constructor(private readonly onReady: (status: TxStatus) => void) {}

  /** The client's first packet asked for encryption: the next server byte is 'S'/'G' (yes) or 'N' (no). */
  expectNegotiation(): void {
    this.negotiating = true;
  }

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && this.tracking) {
      if (this.negotiating) {
        this.negotiating = false;
        if (chunk[i++] !== 0x4e) this.tracking = false;
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        if (this.inReady && n > 0) {
          this.onReady(String.fromCharCode(chunk[i] as number) as TxStatus);
          this.inReady = false;
        }
        this.skip -= n;
        i += n;
        continue;
      }
      this.header[this.have++] = chunk[i++] as number;
      if (this.have < 5) continue;
      this.have = 0;
      const type = String.fromCharCode(this.header[0] as number);
      this.skip = this.header.readInt32BE(1) - 4;
      this.inReady = type === 'Z' && this.skip === 1;
    }
  }
}

const CANCEL_REQUEST = 80877102;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** Whether a client's first packet asks for SSL or GSS encryption (then the server answers one unframed byte). */
export function asksEncryption(first: Uint8Array): boolean {
  if (first.length < 8) return false;
  const b = Buffer.from(first.buffer, first.byteOffset, 8);
  if (b.readInt32BE(0) !== 8) return false;
  const code = b.readInt32BE(4);
  return code === SSL_REQUEST || code === GSSENC_REQUEST;
}

/** A CancelRequest: the server answers it by closing, so such a connection is never replayed elsewhere. */
export function isCancelRequest(first: Uint8Array): boolean {
  if (first.length < 8) return false;
  const b = Buffer.from(first.buffer, first.byteOffset, 8);
  return b.readInt32BE(0) === 16 && b.readInt32BE(4) === CANCEL_REQUEST;
}
