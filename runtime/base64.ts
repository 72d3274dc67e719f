/**
 * Padded base64, checked the way Buffer decodes it. Buffer.from never throws (it skips or stops at foreign
 * characters), so the decoded length is compared with the length the text implies: any foreign character or
 * misplaced padding makes it shorter.
 */

/**
 * Scratch space that validation and text decoding write into instead of allocating a Buffer per call. Every
 * use is synchronous and reads back only what it has just written, so one module-wide buffer is enough.
 */
const SCRATCH = Buffer.allocUnsafeSlow(48 * 1024);
/** The longest base64 text whose bytes fit SCRATCH (4 characters per 3 bytes). */
const SCRATCH_TEXT = (SCRATCH.length / 3) * 4;

/** The byte length a base64 text of a multiple of 4 characters stands for, given its padding. */
function impliedLength(text: string): number {
  const length = text.length;
  const padding = length === 0 ? 0 : text.charCodeAt(length - 1) !== 61 /* = */ ? 0 : text.charCodeAt(length - 2) === 61 ? 2 : 1;
  return (length / 4) * 3 - padding;
}

/**
 * Decodes padded base64. Returns undefined when invalid, null for an absent or null field.
 */
export function base64(text: unknown): Buffer | null | undefined {
  if (text === undefined || text === null) return null;
  if (typeof text !== 'string' || text.length % 4 !== 0) return undefined;
  const buf = Buffer.from(text, 'base64');
  return buf.length === impliedLength(text) ? buf : undefined;
}

/**
 * Whether base64() would decode this text (a string of valid padded base64), without keeping the bytes:
 * texts of up to 65,536 characters are decoded into scratch space, so no Buffer is allocated.
 */
export function isBase64(text: unknown): text is string {
  if (typeof text !== 'string' || text.length % 4 !== 0) return false;
  const decoded = text.length <= SCRATCH_TEXT ? SCRATCH.write(text, 0, 'base64') : Buffer.from(text, 'base64').length;
  return decoded === impliedLength(text);
}

/** The bytes of a base64 text that isBase64 accepted, as UTF-8 text; through scratch space when it fits. */
export function base64ToUtf8(text: string): string {
  if (text.length <= SCRATCH_TEXT) return SCRATCH.toString('utf8', 0, SCRATCH.write(text, 0, 'base64'));
  return Buffer.from(text, 'base64').toString('utf8');
}

/** Scratch space for readBase64, apart from SCRATCH so that a reader may still validate or decode other texts. */
const READ_SCRATCH = Buffer.allocUnsafeSlow(SCRATCH.length);
let readScratchInUse = false;

/**
 * Calls `read` with the bytes of a base64 text that isBase64 accepted: in scratch space when they fit and it is
 * free, valid only until `read` returns; else in a Buffer of their own.
 */
export function readBase64<T>(text: string, read: (bytes: Buffer) => T): T {
  if (text.length > SCRATCH_TEXT || readScratchInUse) return read(Buffer.from(text, 'base64'));
  readScratchInUse = true;
  try {
    return read(READ_SCRATCH.subarray(0, READ_SCRATCH.write(text, 0, 'base64')));
  } finally {
    readScratchInUse = false;
  }
}
