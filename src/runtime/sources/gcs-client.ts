// The Cloud Storage client of a gs:// source: @google-cloud/storage with
// Application Default Credentials, read from the environment the runtime was
// given. The SDK (it adds 47 packages, about 9 MB; half a second to import) is
// loaded with import() on first use, so a runtime that serves other schemes
// never loads it.
//
// Credentials, first found:
//   TENSORFLEET_GCS_TOKEN or GOOGLE_OAUTH_ACCESS_TOKEN  an OAuth access token, used as is
//   GOOGLE_APPLICATION_CREDENTIALS_JSON                credentials JSON itself (a key in the
//                                                      model's credentialsSecret)
//   GOOGLE_APPLICATION_CREDENTIALS                     a credentials file: service_account key,
//                                                      external_account (workload identity
//                                                      federation), authorized_user, ...
//   ADC's own search                                   gcloud's application_default_credentials.json,
//                                                      then the metadata server (GCE, GKE Workload
//                                                      Identity; GCE_METADATA_HOST moves it)
//   none found                                         anonymous requests (public buckets)
// Endpoint: TENSORFLEET_GCS_ENDPOINT (credentials are sent to it), else
// STORAGE_EMULATOR_HOST (an emulator: requests go without credentials).

import { readFile } from 'node:fs/promises';
import type { Bucket, StorageOptions } from '@google-cloud/storage';
import { RuntimeError } from '../errors.js';

const PUBLIC_ENDPOINT = 'https://storage.googleapis.com';
const READ_ONLY = 'https://www.googleapis.com/auth/devstorage.read_only';

export interface GcsEndpoint {
  /** Origin requests go to, without a trailing "/". */
  url: string;
  /** Whether requests carry credentials (not to an emulator). */
  authenticated: boolean;
}

/** Where requests go: a host[:port] without a scheme means plain HTTP (emulators). */
export function gcsEndpoint(env: NodeJS.ProcessEnv): GcsEndpoint {
  const custom = env['TENSORFLEET_GCS_ENDPOINT'];
  const emulator = env['STORAGE_EMULATOR_HOST'];
  const chosen = custom || emulator;
  if (!chosen) return { url: PUBLIC_ENDPOINT, authenticated: true };
  const withScheme = chosen.includes('://') ? chosen : `http://${chosen}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    const name = custom ? 'TENSORFLEET_GCS_ENDPOINT' : 'STORAGE_EMULATOR_HOST';
    throw new RuntimeError('CONFIG_INVALID', `${name}="${chosen}" is not a URL or host[:port]`);
  }
  // An emulator host given as http://host:port/storage/v1 (as some SDKs take it) names the same origin.
  return { url: url.origin, authenticated: Boolean(custom) };
}

/** Which credentials the environment names, for messages ("no credentials found" says what was looked at). */
export function gcsCredentialsSource(env: NodeJS.ProcessEnv): string {
  if (env['TENSORFLEET_GCS_TOKEN']) return 'the access token in TENSORFLEET_GCS_TOKEN';
  if (env['GOOGLE_OAUTH_ACCESS_TOKEN']) return 'the access token in GOOGLE_OAUTH_ACCESS_TOKEN';
  if (env['GOOGLE_APPLICATION_CREDENTIALS_JSON']) return 'GOOGLE_APPLICATION_CREDENTIALS_JSON';
  const file = env['GOOGLE_APPLICATION_CREDENTIALS'];
  if (file) return `GOOGLE_APPLICATION_CREDENTIALS ${file}`;
  return 'Application Default Credentials';
}

/** Credentials JSON (`where` names it in messages), or a precise reason it cannot be used. */
function parseCredentials(text: string, where: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RuntimeError('FETCH_UNAUTHORIZED', `${where} is not JSON: ${(err as Error).message}`);
  }
  if (
    typeof json !== 'object' ||
    json === null ||
    typeof (json as { type?: unknown }).type !== 'string'
  ) {
    throw new RuntimeError(
      'FETCH_UNAUTHORIZED',
      `${where} has no "type" (service_account, external_account, authorized_user, ...)`,
    );
  }
  return json as Record<string, unknown>;
}

/** The credentials the environment gives as JSON (inline, or in a file), if any. */
async function credentialsJson(
  env: NodeJS.ProcessEnv,
): Promise<Record<string, unknown> | undefined> {
  const inline = env['GOOGLE_APPLICATION_CREDENTIALS_JSON'];
  if (inline) return parseCredentials(inline, 'GOOGLE_APPLICATION_CREDENTIALS_JSON');
  const path = env['GOOGLE_APPLICATION_CREDENTIALS'];
  if (!path) return undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RuntimeError(
      'FETCH_UNAUTHORIZED',
      `GOOGLE_APPLICATION_CREDENTIALS ${path} cannot be read: ${(err as Error).message}`,
    );
  }
  return parseCredentials(text, `GOOGLE_APPLICATION_CREDENTIALS ${path}`);
}

/** A handle on `bucket` through the SDK, with the environment's credentials and endpoint. */
export async function openBucket(
  bucket: string,
  endpoint: GcsEndpoint,
  env: NodeJS.ProcessEnv,
): Promise<Bucket> {
  const [{ Storage }, { GoogleAuth, OAuth2Client }] = await Promise.all([
    import('@google-cloud/storage'),
    import('google-auth-library'),
  ]);
  const token = env['TENSORFLEET_GCS_TOKEN'] || env['GOOGLE_OAUTH_ACCESS_TOKEN'];
  let authClient: NonNullable<StorageOptions['authClient']>;
  if (token) {
    const client = new OAuth2Client();
    client.setCredentials({ access_token: token });
    authClient = client;
  } else {
    // Read here rather than left to the SDK: `env` is the runtime's (tests pass their
    // own), and a broken file gets a precise message instead of ADC's generic one.
    const credentials = await credentialsJson(env);
    authClient = new GoogleAuth({ ...(credentials && { credentials }), scopes: READ_ONLY });
  }
  const storage = new Storage({
    authClient,
    apiEndpoint: endpoint.url,
    useAuthWithCustomEndpoint: endpoint.authenticated,
    // fetch.ts retries (with its stall watchdog and progress); the SDK's own
    // retries would hide the first error and multiply the waits.
    retryOptions: { autoRetry: false },
  });
  // The SDK takes STORAGE_EMULATOR_HOST from process.env verbatim as its base URL
  // (without /storage/v1); the endpoint chosen above is the one to use.
  storage.baseUrl = `${endpoint.url}/storage/v1`;
  return storage.bucket(bucket);
}
