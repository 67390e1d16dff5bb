// Byte-level helpers that work the same in Node and in browsers: UTF-8
// length and conversion, and standard base64 (RFC 4648 §4).

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** The length of s in UTF-8 bytes (lone surrogates count as the 3 bytes of U+FFFD). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      n += 1;
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        n += 2; // 2 code units, 4 bytes
        i++;
      } else {
        n += 2;
      }
    } else {
      n += 2;
    }
  }
  return n;
}

/** Reports whether s is at most limit bytes in UTF-8, counting only when it must. */
export function fitsIn(s: string, limit: number): boolean {
  if (limit < 0 || s.length * 3 <= limit) return true;
  if (s.length > limit) return false;
  return utf8Length(s) <= limit;
}

/** s in UTF-8. */
export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Decodes UTF-8, throwing a TypeError on bytes that are not valid UTF-8. */
export function utf8DecodeStrict(bytes: Uint8Array): string {
  return strictDecoder.decode(bytes);
}

interface NodeBuffer {
  from(data: Uint8Array | ArrayBuffer | string, encodingOrOffset?: string | number, length?: number): Uint8Array & { toString(encoding: string): string };
}
const NodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

/** Standard base64, with padding, of bytes. */
export function base64Encode(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return btoa(binary);
}

/** The length of the base64 of n bytes. */
export function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4;
}

const base64Text = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes standard base64 with padding, or returns undefined when text is
 * not that (other characters, a length that is not a multiple of 4).
 */
export function base64Decode(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !base64Text.test(text)) return undefined;
  if (NodeBuffer) {
    const b = NodeBuffer.from(text, 'base64');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
