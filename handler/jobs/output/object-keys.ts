/**
 * Where an uploaded image lands and how it is typed: the object key `[<objectPath>/]<job id>/<index>.<ext>` and the
 * `Content-Type` sniffed from the image bytes (A1111's `samples_format` decides whether it sends PNG, JPEG or WebP).
 */
import { typeHandlers } from 'image-size/types/index';

/** An image's file extension and MIME type, from its first bytes. */
export interface ImageKind {
  /** `png`, `jpg`, `webp`, or `bin` when the bytes are none of these. */
  ext: 'png' | 'jpg' | 'webp' | 'bin';
  /** `image/png`, `image/jpeg`, `image/webp` or `application/octet-stream`. */
  contentType: string;
}

/** The kinds sniffed, each with the `image-size` type whose signature check recognises it. */
const KINDS: ReadonlyArray<{ type: 'png' | 'jpg' | 'webp'; kind: ImageKind }> = [
  { type: 'png', kind: { ext: 'png', contentType: 'image/png' } },
  { type: 'jpg', kind: { ext: 'jpg', contentType: 'image/jpeg' } },
  { type: 'webp', kind: { ext: 'webp', contentType: 'image/webp' } },
];

const UNKNOWN: ImageKind = { ext: 'bin', contentType: 'application/octet-stream' };

/**
 * Sniffs PNG / JPEG / WebP by their signature, with the `image-size` package's checks (the head only; the image is
 * not decoded). Anything else is `bin` / `application/octet-stream`.
 */
export function sniffImage(bytes: Uint8Array): ImageKind {
  // image-size's checks read through a DataView over the whole ArrayBuffer: give them a view of exactly the head.
  const head = new Uint8Array(bytes.subarray(0, 32));
  for (const { type, kind } of KINDS) {
    try {
      if (typeHandlers.get(type)?.validate(head)) return { ...kind };
    } catch {
      // A signature followed by a broken header (image-size throws, e.g. a PNG without IHDR): not this kind.
    }
  }
  return { ...UNKNOWN };
}

/**
 * The object key prefix of a job: its id with every character outside `[A-Za-z0-9._-]` replaced by `_`
 * (`.`/`..`/empty become `_`), so a key never has path tricks whatever the id. RunPod ids pass unchanged.
 */
export function jobKeyPrefix(jobId: string): string {
  const safe = jobId.replace(/[^A-Za-z0-9._-]/g, '_');
  return safe === '' || safe === '.' || safe === '..' ? '_' : safe;
}

/** The object key of image `index` of a job: `[<keyPrefix = s3Config.objectPath>/]<job id>/<index>.<ext>`. */
export function objectKey(jobId: string, index: number, ext: ImageKind['ext'], keyPrefix?: string): string {
  return `${keyPrefix ? `${keyPrefix}/` : ''}${jobKeyPrefix(jobId)}/${index}.${ext}`;
}
