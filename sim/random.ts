/**
 * The simulator's seeded generators (same seed, same sequence; not for cryptography): pure-rand's xoroshiro128+.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/** A generator of floats in [0, 1) seeded by an integer (bits above 32 are dropped). */
export function seededRandom(seed: number): () => number {
  const rng = xoroshiro128plus(Math.trunc(seed) | 0);
  return () => uniformFloat64(rng);
}

/** A generator of unsigned 32-bit integers seeded by an integer (per-pixel noise). */
export function seededUint32(seed: number): () => number {
  const rng = xoroshiro128plus(Math.trunc(seed) | 0);
  return () => rng.next() >>> 0;
}
