/**
 * A cheap structural read of a large JSON answer (A1111's txt2img/img2img bodies are 1–30 MB, almost all
 * of it base64 image strings).
 *
 * {@link jsonSkeleton} walks the bytes with native `Buffer.indexOf` jumps from quote to quote, replaces every
 * string longer than `longString` bytes by `""`, and `JSON.parse`s what is left: a few kilobytes. So the worker
 * can check that an answer is JSON with an `images` list of strings — and then pass the original bytes through
 * untouched — without decoding and parsing 20 MB (ARCHITECTURE.md: heavy payloads are passed through). The bytes may
 * come as the parts they arrived in (a socket's reads): a string, an escape or a UTF-8 character may span two parts.
 *
 * Trade-off: the content of a replaced long string is not checked for invalid escapes or raw control
 * characters (its boundaries are, escaped quotes included). Everything else is checked by `JSON.parse`.
 */
import { joinParts, partsLength } from '../parts.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Number of backslashes that end `b[from, to)`. */
function trailingBackslashes(b: Buffer, from: number, to: number): number {
  let k = to - 1;
  while (k >= from && b[k] === BACKSLASH) k--;
  return to - 1 - k;
}

/** The scan's state between two parts. */
class Skeleton {
  /** Structure text and short strings (with their quotes), in order. */
  private readonly out: string[] = [];
  private inString = false;
  /** The open string's quote in the current part, or -1 when the string began in an earlier part. */
  private openPos = -1;
  /** A string that spans parts: its bytes so far (dropped once it is longer than `longString`). */
  private readonly pieces: Buffer[] = [];
  private long = false;
  private strBytes = 0;
  /** Backslashes that end the string's bytes so far (an odd count escapes the next quote). */
  private backslashes = 0;
  /** Byte offset of the current part, and of the open string's quote. */
  private offset = 0;
  private openedAt = 0;

  constructor(private readonly longString: number) {}

  push(b: Buffer): void {
    let pos = 0;
    while (pos < b.length) {
      if (!this.inString) {
        const open = b.indexOf(QUOTE, pos);
        // Outside strings valid JSON is ASCII: a part boundary never splits a character here.
        if (open < 0) {
          this.out.push(b.toString('utf8', pos));
          break;
        }
        if (open > pos) this.out.push(b.toString('utf8', pos, open));
        this.inString = true;
        this.openPos = open;
        this.openedAt = this.offset + open;
        this.backslashes = 0;
        pos = open + 1;
        continue;
      }
      // The closing quote: one preceded by an even number of backslashes (counted across parts).
      let search = pos;
      let close = -1;
      for (;;) {
        const q = b.indexOf(QUOTE, search);
        if (q < 0) break;
        let run = trailingBackslashes(b, pos, q);
        if (run === q - pos) run += this.backslashes;
        if (run % 2 === 0) {
          close = q;
          break;
        }
        search = q + 1;
      }
      if (close >= 0 && this.openPos >= 0) {
        // Opened and closed in this part (the common case): read straight from it.
        this.out.push(close - this.openPos - 1 > this.longString ? '""' : b.toString('utf8', this.openPos, close + 1));
        this.inString = false;
        pos = close + 1;
        continue;
      }
      if (this.openPos >= 0) {
        // The string goes on into the next part: from here on its bytes are collected.
        this.pieces.length = 0;
        this.long = false;
        this.strBytes = 0;
      }
      const end = close < 0 ? b.length : close;
      this.addToString(b, pos, end);
      if (close < 0) {
        const run = trailingBackslashes(b, pos, end);
        this.backslashes = run === end - pos ? this.backslashes + run : run;
        break;
      }
      this.out.push(this.long ? '""' : `"${joinParts(this.pieces).toString('utf8')}"`);
      this.inString = false;
      pos = close + 1;
    }
    if (this.inString) this.openPos = -1;
    this.offset += b.length;
  }

  private addToString(b: Buffer, from: number, to: number): void {
    this.strBytes += to - from;
    if (this.long) return;
    if (this.strBytes > this.longString) {
      this.long = true;
      this.pieces.length = 0;
    } else if (to > from) this.pieces.push(b.subarray(from, to));
  }

  end(): unknown {
    if (this.inString) throw new SyntaxError(`unterminated string starting at byte ${this.openedAt}`);
    return JSON.parse(this.out.join(''));
  }
}

/**
 * Parses the structure of UTF-8 JSON, given as one buffer or as the parts it arrived in, with strings longer than
 * `longString` bytes (default 256) replaced by empty strings.
 * @returns the parsed skeleton
 * @throws SyntaxError when the bytes are not JSON (an unterminated string, or what `JSON.parse` refuses)
 */
export function jsonSkeleton(bytes: Buffer | readonly Buffer[], longString = 256): unknown {
  const parts = Buffer.isBuffer(bytes) ? [bytes] : bytes;
  const length = partsLength(parts);
  if (length <= longString * 4) return JSON.parse(joinParts(parts, length).toString('utf8'));
  const s = new Skeleton(longString);
  for (const p of parts) s.push(p);
  return s.end();
}
