// Run by s3-sdk-load.test.ts in a fresh process: serves nothing, only loads
// the runtime's server and sources, fetches a file:// model, then tries an
// s3:// one, and prints whether the AWS SDK was loaded after each (CommonJS
// modules, which the SDK's are, land in require's cache even when imported).

import { createRequire } from 'node:module';
import { join } from 'node:path';
import '../../src/runtime/server.js';
import { fetchModel } from '../../src/runtime/sources/fetch.js';

const [fileUri, work] = process.argv.slice(2) as [string, string];
const sdkLoaded = (): boolean =>
  Object.keys(createRequire(import.meta.url).cache).some((m) => m.includes('/@aws-sdk/'));

await fetchModel(fileUri, join(work, 'from-file'));
const afterFile = sdkLoaded();
// Nothing listens on the discard port: the SDK loads, the request is refused.
const s3Error = await fetchModel('s3://models/m/1', join(work, 'from-s3'), {
  retries: 0,
  env: {
    TENSORFLEET_S3_ENDPOINT: 'http://127.0.0.1:9',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
  },
}).then(
  () => 'no error',
  (err: Error) => err.message,
);
process.stdout.write(`${JSON.stringify({ afterFile, afterS3: sdkLoaded(), s3Error })}\n`);
