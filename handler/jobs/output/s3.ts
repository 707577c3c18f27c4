/**
 * Outputs to S3-compatible storage, the front door of the three modules that do it:
 * - bucket.ts: which bucket (`BUCKET_*` or the job's `s3Config`), its endpoint, region and addressing;
 * - object-keys.ts: each image's object key and sniffed `Content-Type`;
 * - uploader.ts: the uploads (concurrency, retries) and the presigned GET URLs.
 */
export { BucketTarget, DEFAULT_REGION, parseJobS3Config, regionFromHost, resolveBucket, splitVirtualHost, type BucketSettings, type BucketSource } from './bucket.js';
export { jobKeyPrefix, objectKey, sniffImage, type ImageKind } from './object-keys.js';
export { DEFAULT_UPLOAD_CONCURRENCY, S3Uploader, type S3UploaderOptions, type UploadRequest } from './uploader.js';
