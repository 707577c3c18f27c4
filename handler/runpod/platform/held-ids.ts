/**
 * The held job ids shared between the main thread (writer) and the heartbeat thread (reader) through a
 * `SharedArrayBuffer`: the main thread updates it on every job-take and result post without a message to the
 * thread (a `postMessage` per change cost ~0.15 ms of the main thread per job, measured with `npm run bench -- --only
 * cost --cpu-prof`), and the thread reads the latest list when it pings, however busy the main thread is.
 *
 * Layout: `Int32Array[0]` a sequence number (odd while a write is under way), `Int32Array[1]` the byte length, then
 * the ids as UTF-8, comma-joined (the `job_id` value of the ping, docs/runpod-protocol.md, "Heartbeat / ping").
 */

const HEADER_BYTES = 8;
/** Room for the ids, bytes: about 1500 job ids of 40 characters. */
export const HELD_IDS_CAPACITY = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Creates the shared memory for {@link writeHeldIds} / {@link readHeldIds}. */
export function createHeldIds(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + HELD_IDS_CAPACITY);
}

/**
 * Writes the held ids (main thread only: one writer).
 * @returns false when they do not fit in {@link HELD_IDS_CAPACITY} (nothing written)
 */
export function writeHeldIds(shared: SharedArrayBuffer, ids: readonly string[]): boolean {
  const head = new Int32Array(shared, 0, 2);
  const bytes = new Uint8Array(shared, HEADER_BYTES);
  const text = ids.join(',');
  if (text.length * 3 > HELD_IDS_CAPACITY && encoder.encode(text).length > HELD_IDS_CAPACITY) return false;
  Atomics.add(head, 0, 1); // odd: a write is under way
  const { written } = encoder.encodeInto(text, bytes);
  Atomics.store(head, 1, written);
  Atomics.add(head, 0, 1); // even: done
  return true;
}

/** Reads the held ids (any thread); retries while a write is under way. */
export function readHeldIds(shared: SharedArrayBuffer): string[] {
  const head = new Int32Array(shared, 0, 2);
  const bytes = new Uint8Array(shared, HEADER_BYTES);
  for (;;) {
    const before = Atomics.load(head, 0);
    if (before % 2 === 1) continue;
    const length = Atomics.load(head, 1);
    // A copy: TextDecoder does not read shared memory directly.
    const text = decoder.decode(bytes.slice(0, length));
    if (Atomics.load(head, 0) === before) return text === '' ? [] : text.split(',');
  }
}
