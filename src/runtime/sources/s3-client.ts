// The S3 client of an s3:// source, built on first use: the AWS SDK is imported
// here, dynamically, so a runtime serving another scheme never loads it.
//
// Credentials come from the SDK's default Node chain (environment keys, SSO,
// shared config/credentials files and AWS_PROFILE, credential_process, the web
// identity token file of IRSA, the container endpoint of EKS Pod Identity and
// ECS, IMDSv2 on EC2). When the chain finds nothing, requests go unsigned, for
// public buckets; when a configured source fails, that failure is the error.

import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { CredentialsError } from './s3-errors.js';

export interface S3ClientSettings {
  /** AWS_REGION / AWS_DEFAULT_REGION of the source's environment, if set. */
  region: string | undefined;
  /** A custom endpoint (MinIO, Ceph, R2, moto), if set. */
  endpoint: string | undefined;
  forcePathStyle: boolean;
  /** Keys given in the source's environment: they take the chain's first place (as its fromEnv would). */
  keys: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

/** The credential sources the environment names, for the message when they fail. */
export function configuredSources(env: NodeJS.ProcessEnv): string[] {
  const configured: string[] = [];
  if (env['AWS_PROFILE']) configured.push(`profile "${env['AWS_PROFILE']}"`);
  if (env['AWS_ACCESS_KEY_ID']) configured.push('environment keys');
  if (env['AWS_WEB_IDENTITY_TOKEN_FILE']) {
    configured.push(
      `web identity (role ${env['AWS_ROLE_ARN'] ?? '<no AWS_ROLE_ARN>'}, token file ${env['AWS_WEB_IDENTITY_TOKEN_FILE']})`,
    );
  }
  const container =
    env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] || env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'];
  if (container) configured.push(`container credentials endpoint ${container}`);
  return configured;
}

/** The chain's own answer when no source is configured (not a failing source). */
function isNoCredentials(err: unknown): boolean {
  const e = err as { name?: string; message?: string };
  return (
    e.name === 'CredentialsProviderError' &&
    e.message === 'Could not load credentials from any providers'
  );
}

type HttpAuthSchemes = NonNullable<S3ClientConfig['httpAuthSchemes']>;

/** Auth schemes that send requests as they are: anonymous access to a public bucket. */
const UNSIGNED: HttpAuthSchemes = ['aws.auth#sigv4', 'aws.auth#sigv4a'].map((schemeId) => ({
  schemeId,
  identityProvider: () => () => Promise.resolve({}),
  signer: { sign: (request) => Promise.resolve(request) },
}));

export interface ResolvedS3Client {
  client: S3Client;
  region: string;
  anonymous: boolean;
}

export async function createS3Client(settings: S3ClientSettings): Promise<ResolvedS3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  // The SDK's region (AWS_REGION, the profile's region), else us-east-1; a
  // bucket elsewhere answers 301 with its region, which the client follows.
  const region =
    (settings.region ?? (await new S3Client({}).config.region().catch(() => undefined))) ||
    'us-east-1';
  const base: S3ClientConfig = {
    region,
    forcePathStyle: settings.forcePathStyle,
    followRegionRedirects: true,
    // fetch.ts retries transient failures itself, with backoff and a log line.
    maxAttempts: 1,
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
  };
  if (settings.keys !== undefined) {
    return {
      client: new S3Client({ ...base, credentials: settings.keys }),
      region,
      anonymous: false,
    };
  }
  const chain = new S3Client(base).config.credentials;
  const configured = configuredSources(process.env);
  const source = `the AWS SDK's default credential chain${configured.length === 0 ? '' : ` (configured: ${configured.join('; ')})`}`;
  try {
    await chain();
  } catch (err) {
    // Anonymous only when nothing is configured: a configured source that
    // failed (a refused Pod Identity token) must not turn into access denied.
    if (!isNoCredentials(err) || configured.length > 0) throw new CredentialsError(source, err);
    return {
      client: new S3Client({ ...base, httpAuthSchemes: UNSIGNED }),
      region,
      anonymous: true,
    };
  }
  // Later refreshes (IRSA and Pod Identity sessions expire) fail as credential errors too.
  const credentials: typeof chain = async (props) => {
    try {
      return await chain(props);
    } catch (err) {
      throw new CredentialsError(source, err);
    }
  };
  return { client: new S3Client({ ...base, credentials }), region, anonymous: false };
}
