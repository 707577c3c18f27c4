/**
 * A seeded generator of floats in [0, 1) for the simulator's random fault mode (same seed, same sequence).
 * Not for cryptography.
 */
export function seededRandom(seed: number): () => number {
  // A Weyl sequence (state += golden-ratio step) through murmur3's 32-bit finaliser: cheap, and unlike a bare
  // xorshift it has no runs of small outputs after a small state.
  let state = Math.imul(Math.trunc(seed) ^ 0x2545f491, 0x9e3779b1) >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 0x1_0000_0000;
  };
}
