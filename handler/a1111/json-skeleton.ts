/**
 * A cheap structural read of a large JSON answer (A1111's txt2img/img2img bodies are 1–30 MB, almost all
 * of it base64 image strings).
 *
 * {@link jsonSkeleton} walks the bytes with native `Buffer.indexOf` jumps from quote to quote, replaces every
 * string longer than `longString` bytes by `""`, and `JSON.parse`s what is left: a few kilobytes. So the worker
 * can check that an answer is JSON with an `images` list of strings — and then pass the original bytes through
 * untouched — without decoding and parsing 20 MB (ARCHITECTURE.md: heavy payloads are passed through).
 *
 * Trade-off: the content of a replaced long string is not checked for invalid escapes or raw control
 * characters (its boundaries are, escaped quotes included). Everything else is checked by `JSON.parse`.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Parses the structure of UTF-8 JSON `bytes`, with strings longer than `longString` bytes (default 256)
 * replaced by empty strings.
 * @returns the parsed skeleton
 * @throws SyntaxError when the bytes are not JSON (an unterminated string, or what `JSON.parse` refuses)
 */
export function jsonSkeleton(bytes: Buffer, longString = 256): unknown {
  if (bytes.length <= longString * 4) return JSON.parse(bytes.toString('utf8'));
  const parts: string[] = [];
  let pos = 0;
  for (;;) {
    const open = bytes.indexOf(QUOTE, pos);
    if (open < 0) {
      parts.push(bytes.toString('utf8', pos));
      break;
    }
    parts.push(bytes.toString('utf8', pos, open));
    // Find the closing quote: one preceded by an even number of backslashes.
    let search = open + 1;
    let close: number;
    for (;;) {
      close = bytes.indexOf(QUOTE, search);
      if (close < 0) throw new SyntaxError(`unterminated string starting at byte ${open}`);
      let k = close - 1;
      while (k > open && bytes[k] === BACKSLASH) k--;
      if ((close - 1 - k) % 2 === 0) break;
      search = close + 1;
    }
    parts.push(close - open - 1 > longString ? '""' : bytes.toString('utf8', open, close + 1));
    pos = close + 1;
  }
  return JSON.parse(parts.join(''));
}
