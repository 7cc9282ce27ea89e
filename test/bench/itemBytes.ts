/**
 * An item's size as DynamoDB bills it ("Item sizes and formats", DynamoDB developer guide):
 * attribute names in UTF-8 bytes plus values: strings in UTF-8 bytes, numbers about one byte
 * per two significant digits plus one, booleans and null one byte, and three bytes of overhead
 * per map or list plus one byte per element.
 */
export function dynamoItemBytes(item: Record<string, unknown>): number {
  return Object.entries(item).reduce((n, [name, value]) => (value === undefined ? n : n + Buffer.byteLength(name) + valueBytes(value)), 0);
}

function valueBytes(v: unknown): number {
  if (v === null || typeof v === 'boolean') return 1;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number' || typeof v === 'bigint') {
    const digits = String(v).replace(/[-.]/g, '').replace(/^0+/, '').replace(/0+$/, '').length;
    return Math.ceil(Math.max(digits, 1) / 2) + 1;
  }
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return v.byteLength;
  if (Array.isArray(v)) return 3 + v.reduce<number>((n, x) => n + 1 + valueBytes(x), 0);
  if (v instanceof Set) return [...v].reduce<number>((n, x) => n + valueBytes(x), 0);
  if (typeof v === 'object') {
    return 3 + Object.entries(v as Record<string, unknown>).reduce((n, [k, x]) => (x === undefined ? n : n + 1 + Buffer.byteLength(k) + valueBytes(x)), 0);
  }
  return 0;
}

/** A standard write: one unit per started KB. */
export const writeUnits = (bytes: number): number => Math.max(1, Math.ceil(bytes / 1024));
