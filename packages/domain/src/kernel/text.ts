/**
 * How long a text is, in characters: its Unicode code points, so `"😀"` is 1 (JavaScript's
 * `.length` counts UTF-16 code units and makes it 2). Every text limit in the domain counts
 * this way, as the API's schemas (zod's `max`, JSON Schema's `maxLength` in the published
 * OpenAPI) and PostgreSQL's `char_length` do, so a limit gives one answer whatever the
 * characters. A lone surrogate counts as one.
 */
export function textLength(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** Whether `text` has from `min` to `max` characters (code points, as {@link textLength}). */
export function textLengthWithin(text: string, min: number, max: number): boolean {
  const length = textLength(text);
  return length >= min && length <= max;
}

/**
 * The first `max` characters of `text` (code points, as {@link textLength}): a cut never
 * splits a character made of two UTF-16 units, which `.slice` can.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  let clipped = "";
  let count = 0;
  for (const char of text) {
    if (count === max) break;
    clipped += char;
    count += 1;
  }
  return clipped;
}
