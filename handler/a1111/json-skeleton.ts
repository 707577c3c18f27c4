/**
 * A cheap structural read of a large JSON answer (A1111's txt2img/img2img bodies are 1–30 MB, almost all
 * of it base64 image strings).
 *
 * {@link jsonSkeleton} walks the bytes with native `Buffer.indexOf` jumps from quote to quote, keeps every byte but
 * the content of the strings longer than `longString` bytes (which become `""`), and `JSON.parse`s what is left: a few
 * kilobytes, decoded once (not a string per short string). So the worker
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

/**
 * The closing quote of a string whose bytes in `b` start at `from`: the first quote preceded by an even number of
 * backslashes, `carried` of them ending the string's bytes in earlier parts. -1 when `b` ends first.
 */
function closingQuote(b: Buffer, from: number, carried: number): number {
  for (let search = from; ; ) {
    const q = b.indexOf(QUOTE, search);
    if (q < 0) return -1;
    let run = trailingBackslashes(b, from, q);
    if (run === q - from) run += carried;
    if (run % 2 === 0) return q;
    search = q + 1;
  }
}

/**
 * The scan's state between two parts. What is kept is byte ranges (views, nothing copied) of the parts: everything
 * but the content of the long strings, whose quotes are kept (`""`). The kept bytes are decoded once at the end, so
 * a UTF-8 character split between two parts is whole again.
 */
class Skeleton {
  /** The kept byte ranges, in order. */
  private readonly kept: Buffer[] = [];
  /** A string is open at the end of the last part. */
  private inString = false;
  /** That string's bytes so far (dropped once it is longer than `longString`). */
  private pieces: Buffer[] = [];
  private long = false;
  private strBytes = 0;
  /** Backslashes that end the open string's bytes so far (an odd count escapes the next quote). */
  private backslashes = 0;
  /** Byte offset of the current part, and of the open string's quote. */
  private offset = 0;
  private openedAt = 0;

  constructor(private readonly longString: number) {}

  push(b: Buffer): void {
    /** Start of the range of `b` kept next. */
    let seg = 0;
    let pos = 0;
    if (this.inString) {
      const close = closingQuote(b, 0, this.backslashes);
      this.addToString(b, 0, close < 0 ? b.length : close);
      if (close < 0) {
        const run = trailingBackslashes(b, 0, b.length);
        this.backslashes = run === b.length ? this.backslashes + run : run;
        this.offset += b.length;
        return;
      }
      if (!this.long) this.kept.push(...this.pieces);
      this.pieces = [];
      this.inString = false;
      seg = close;
      pos = close + 1;
    }
    for (;;) {
      const open = b.indexOf(QUOTE, pos);
      if (open < 0) break;
      const close = closingQuote(b, open + 1, 0);
      if (close < 0) {
        // The string goes on into the next part: its bytes are collected until it closes or turns out long.
        this.kept.push(b.subarray(seg, open + 1));
        this.inString = true;
        this.openedAt = this.offset + open;
        this.pieces = [];
        this.long = false;
        this.strBytes = 0;
        this.addToString(b, open + 1, b.length);
        this.backslashes = trailingBackslashes(b, open + 1, b.length);
        this.offset += b.length;
        return;
      }
      if (close - open - 1 > this.longString) {
        this.kept.push(b.subarray(seg, open + 1));
        seg = close;
      }
      pos = close + 1;
    }
    if (seg < b.length) this.kept.push(b.subarray(seg));
    this.offset += b.length;
  }

  private addToString(b: Buffer, from: number, to: number): void {
    this.strBytes += to - from;
    if (this.long) return;
    if (this.strBytes > this.longString) {
      this.long = true;
      this.pieces = [];
    } else if (to > from) this.pieces.push(b.subarray(from, to));
  }

  end(): unknown {
    if (this.inString) throw new SyntaxError(`unterminated string starting at byte ${this.openedAt}`);
    return JSON.parse(joinParts(this.kept).toString('utf8'));
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
