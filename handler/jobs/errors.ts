/**
 * Errors of the A1111 job handler that come from the caller's input (never from A1111).
 */

/**
 * The job input is refused before anything reaches A1111: an unknown or forbidden route, a method
 * mismatch, or a payload that fails its JSON Schema. `message` is one line that names every
 * offending field, its value and what is allowed.
 */
export class JobInputError extends Error {
  override name = 'JobInputError';
}
