/**
 * The one-line refusal of a payload: every offending field with every reason found for it, in order
 * (`steps: "x" is not allowed (must be an integer); stpes: unknown field (did you mean "steps"?)`).
 */
import { isObject, plural, showValue as show } from '../format.js';

/** At most this many offending fields are listed in one message; the rest are counted. */
export const MAX_LISTED_ISSUES = 50;

/** A payload described for "got …" messages: `an object with keys a, b`, `a string "x"`, `null`. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${plural(value.length, 'item')}`;
  if (isObject(value)) {
    const keys = Object.keys(value);
    const listed = keys.slice(0, 10).map((k) => (/^[\w$.-]{1,40}$/.test(k) ? k : show(k)));
    const more = keys.length > 10 ? ` and ${keys.length - 10} more` : '';
    return `an object with ${keys.length === 1 ? 'key' : 'keys'} ${listed.join(', ')}${more}`;
  }
  return `a ${typeof value} ${show(value)}`;
}

/** One offending field with every reason found for it (in order, without repeats). */
interface Issue {
  path: string;
  value: unknown;
  /** False for unknown and missing fields, whose value is not shown. */
  showValue: boolean;
  reasons: string[];
}

/** The offending fields of one payload, rendered as one line by {@link IssueList.render}. */
export class IssueList {
  private readonly byPath = new Map<string, Issue>();

  /** Adds a reason for `path` (after any earlier ones). `showValue: false` for unknown or missing fields. */
  add(path: string, value: unknown, reason: string, showValue = true): void {
    let issue = this.byPath.get(path);
    if (!issue) {
      issue = { path, value, showValue, reasons: [] };
      this.byPath.set(path, issue);
    }
    if (!issue.reasons.includes(reason)) issue.reasons.push(reason);
  }

  /** Sets `path`'s issue to this one reason (keeping its place), e.g. a configured cap over a model bound. */
  replace(path: string, value: unknown, reason: string, showValue = true): void {
    const issue = this.byPath.get(path);
    if (issue) {
      issue.value = value;
      issue.showValue = showValue;
      issue.reasons = [reason];
    } else {
      this.add(path, value, reason, showValue);
    }
  }

  has(path: string): boolean {
    return this.byPath.has(path);
  }

  get size(): number {
    return this.byPath.size;
  }

  /** `a: 1 is not allowed (must be …); b: unknown field …; and 3 more fields`. */
  render(): string {
    const issues = [...this.byPath.values()];
    const parts = issues.slice(0, MAX_LISTED_ISSUES).map((i) => {
      const name = i.path || 'payload';
      if (!i.showValue) return `${name}: ${i.reasons.join('; ')}`;
      return `${name}: ${show(i.value)} is not allowed (${i.reasons.join(' and ')})`;
    });
    if (issues.length > MAX_LISTED_ISSUES) parts.push(`and ${issues.length - MAX_LISTED_ISSUES} more fields`);
    return parts.join('; ');
  }
}
