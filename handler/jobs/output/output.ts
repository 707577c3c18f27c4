/**
 * The output stage of a job, its front door: {@link OutputStage} (stage.ts) is the entry point the handler uses.
 * - plan.ts: where a job's images go (`"output"` flag, the job's `s3Config`, `BUCKET_*`), before A1111 is called;
 * - shape.ts: A1111's answer into the output (bytes passed through, or images uploaded and replaced by URLs);
 * - size-guard.ts: the result limit, the input image echoes dropped over it, the refusal message;
 * - s3.ts (bucket.ts, object-keys.ts, uploader.ts): the bucket and the uploads; files.ts: `KEEP_OUTPUTS`.
 */
export { OutputStage, type A1111Answer, type OutputJob, type OutputStageOptions } from './stage.js';
export { parseObjectPath, type EnvBucket, type OutputPlan } from './plan.js';
export { resultLimitFor } from './size-guard.js';
export type { S3UploaderOptions } from './uploader.js';
