/**
 * A real S3-compatible server for tests: s3rver on a free loopback port, data in a temp dir,
 * stopped afterwards. Tests talk to it through the real AWS SDK, configured by the standard AWS
 * environment variables, exactly as users configure pipe; nothing in the SDK is mocked.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface S3Service {
  readonly endpoint: string;
  readonly bucket: string;
  /** The AWS environment a client (or a pipe child process) needs to reach it. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startS3(bucket = 'pipe-test'): Promise<S3Service> {
  const directory = await mkdtemp(join(tmpdir(), 'pipe-s3-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] });
  const address = (await server.run()) as { address: string; port: number };
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    bucket,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      // s3rver (2021) predates the SDK's default CRC32 request checksums and aws-chunked uploads:
      // ask for checksums only where S3 requires them. Real S3 works with either setting.
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    },
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
