/**
 * Decodes padded base64. Buffer.from never throws (it skips or stops at foreign characters), so the
 * decoded length is compared with the length the text implies: any foreign character or misplaced
 * padding makes it shorter. Returns undefined when invalid, null for an absent or null field.
 */
export function base64(text: unknown): Buffer | null | undefined {
  if (text === undefined || text === null) return null;
  if (typeof text !== 'string' || text.length % 4 !== 0) return undefined;
  const length = text.length;
  const padding = length === 0 ? 0 : text.charCodeAt(length - 1) !== 61 /* = */ ? 0 : text.charCodeAt(length - 2) === 61 ? 2 : 1;
  const buf = Buffer.from(text, 'base64');
  return buf.length === (length / 4) * 3 - padding ? buf : undefined;
}
