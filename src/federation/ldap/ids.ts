/**
 * The entry's stable id as a subject string. Most directories give text (entryUUID); Active
 * Directory's objectGUID is 16 bytes, written the way AD tools show it (the first three groups
 * little-endian) so the subject matches what an administrator sees.
 */
const BINARY = new Set(['objectguid']);

export const isBinaryId = (attribute: string): boolean => BINARY.has(attribute.toLowerCase());

const GUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/;
const swap = (hex: string) => hex.match(/../g)!.reverse().join('');

export function decodeId(attribute: string, value: string | Buffer): string {
  if (!isBinaryId(attribute)) return Buffer.isBuffer(value) ? value.toString('utf8') : value;
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'binary');
  if (bytes.length !== 16) return bytes.toString('hex');
  const hex = bytes.toString('hex');
  return [swap(hex.slice(0, 8)), swap(hex.slice(8, 12)), swap(hex.slice(12, 16)), hex.slice(16, 20), hex.slice(20)].join('-');
}

/** The bytes a binary id is searched by; the inverse of decodeId. */
export function encodeId(attribute: string, subject: string): Buffer | string {
  if (!isBinaryId(attribute)) return subject;
  const m = GUID.exec(subject.toLowerCase());
  if (!m) return Buffer.from(subject, 'hex');
  return Buffer.from(swap(m[1]!) + swap(m[2]!) + swap(m[3]!) + m[4]! + m[5]!, 'hex');
}
