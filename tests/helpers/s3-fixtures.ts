/**
 * A real S3-compatible server on loopback for the output tests: `s3rver` (dev dependency) in this process, on
 * an ephemeral port, with its data in a temporary directory that is removed on close.
 *
 * s3rver knows one account, `S3RVER`; {@link startS3Server} adds more key pairs so tests can use distinctive
 * credentials and search logs and messages for them. An unknown access key id is refused with
 * `InvalidAccessKeyId` (403). s3rver does not check SigV4 signatures, so a wrong secret alone is not refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The part of s3rver's API used here (the package has no types). */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (opts: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  resetOnClose: boolean;
  configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;
interface AwsAccountModule {
  DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
}

const require = createRequire(import.meta.url);

/** Credentials s3rver accepts out of the box. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** A running s3rver. */
export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Stops the server and removes its data. */
  close(): Promise<void>;
}

/**
 * Starts s3rver on 127.0.0.1, port 0.
 * @param buckets buckets created at start.
 * @param keyPairs extra `[accessKeyId, secretAccessKey]` pairs accepted (added to s3rver's one account, process-wide).
 */
export async function startS3Server(buckets: readonly string[], keyPairs: ReadonlyArray<readonly [string, string]> = []): Promise<S3Server> {
  const S3rver = require('s3rver') as S3rverCtor;
  const account = require('s3rver/lib/models/account') as AwsAccountModule;
  for (const [id, secret] of keyPairs) account.DUMMY_ACCOUNT.createKeyPair(id, secret);
  const directory = mkdtempSync(path.join(os.tmpdir(), 's3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, resetOnClose: true, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = await server.run();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
