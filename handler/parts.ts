/**
 * Bytes held as parts (the socket reads an answer arrived in, a result's envelope around A1111's bytes): their
 * length, and one buffer of them when one is needed. A leaf: the A1111 client, the job output, the runtime's results
 * and the platform client share it.
 */

/** Total length of `parts`, bytes. */
export function partsLength(parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/**
 * `parts` as one buffer: the only part itself (no copy), else one copy (`Buffer.concat` copies even a single part).
 * @param length their total length when known, bytes
 */
export function joinParts(parts: readonly Buffer[], length = partsLength(parts)): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts as Buffer[], length);
}
