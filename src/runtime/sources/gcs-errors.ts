// What went wrong in a Cloud Storage call, as a FetchError whose message names
// the step that failed: the storage request (its HTTP status and Cloud
// Storage's own message), getting an access token (the token endpoint, its
// status and OAuth error), no credentials at all, or the network.

import { FetchError, statusError } from './download.js';
import { gcsCredentialsSource } from './gcs-client.js';

/** The fields of the SDK's and google-auth-library's errors that say what failed. */
interface ErrorShape {
  message?: unknown;
  code?: unknown;
  config?: { url?: unknown };
  response?: { status?: unknown; data?: unknown; config?: { url?: unknown } };
  cause?: unknown;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** A thrown value without a message, as text (some objects have no toString). */
function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** An OAuth error body ({"error": "...", "error_description": "..."}) as one line. */
function oauthDetail(data: unknown): string {
  if (typeof data === 'string') return data.slice(0, 300);
  if (typeof data !== 'object' || data === null) return '';
  const { error, error_description: description } = data as Record<string, unknown>;
  if (typeof error === 'string') return description ? `${error}: ${text(description)}` : error;
  if (typeof error === 'object' && error !== null) return text((error as ErrorShape).message);
  return '';
}

/** The error as a FetchError for `what` ("listing gs://b/p/", "gs://b/p/model.json"). */
export function gcsError(what: string, err: unknown, env: NodeJS.ProcessEnv): FetchError {
  const e = (
    typeof err === 'object' && err !== null ? err : { message: String(err) }
  ) as ErrorShape;
  const message = text(e.message).trim();
  const code = e.code;

  // Network: the storage endpoint or a token endpoint did not answer.
  const netCode =
    typeof code === 'string' && NETWORK_CODES.has(code)
      ? code
      : text((e.cause as ErrorShape | undefined)?.code);
  if (NETWORK_CODES.has(netCode)) {
    // gaxios (token calls) keeps the URL in its config; node-fetch (storage calls) in its message.
    const url =
      text(e.config?.url) ||
      text(e.response?.config?.url) ||
      (/request to (\S+) failed/.exec(message)?.[1] ?? '');
    const target = url === '' ? '' : ` to ${originOf(url)}`;
    return new FetchError('FETCH_FAILED', `${what}: request${target} failed (${netCode})`, true);
  }

  // No credentials found anywhere, and the bucket is not public.
  if (message.includes('Could not load the default credentials')) {
    return new FetchError(
      'FETCH_UNAUTHORIZED',
      `${what}: access denied (HTTP 401); no credentials found (no GOOGLE_APPLICATION_CREDENTIALS, no gcloud application_default_credentials.json, no metadata server), so the request went without any and the bucket is not public`,
      false,
    );
  }

  // A token endpoint (OAuth, STS, metadata server) refused: the credentials are bad.
  const tokenStatus = e.response?.status;
  const tokenUrl = text(e.response?.config?.url) || text(e.config?.url);
  if (typeof tokenStatus === 'number' && tokenUrl !== '' && !tokenUrl.includes('/storage/v1/')) {
    const detail = oauthDetail(e.response?.data) || message;
    const refused = tokenStatus >= 400 && tokenStatus < 500;
    return new FetchError(
      refused ? 'FETCH_UNAUTHORIZED' : 'FETCH_FAILED',
      `${what}: getting an access token from ${tokenUrl} (${gcsCredentialsSource(env)}) failed: HTTP ${tokenStatus}${detail === '' ? '' : `: ${detail}`}`,
      !refused,
    );
  }

  // Cloud Storage answered with an error status (the SDK's ApiError).
  if (typeof code === 'number' && code >= 300 && code < 600) {
    const denied = code === 401 || code === 403;
    const suffix = denied ? ` (credentials: ${gcsCredentialsSource(env)})` : '';
    return statusError(what, code, `${message}${suffix}`);
  }

  // The SDK compares the body with the object's CRC32C (or MD5) from x-goog-hash.
  if (code === 'CONTENT_DOWNLOAD_MISMATCH') {
    return new FetchError(
      'FETCH_SIZE_MISMATCH',
      `${what}: the downloaded bytes do not match the object's checksum (a corrupt transfer)`,
      true,
    );
  }

  // Anything else (a key the auth library cannot sign with, an unknown
  // credentials type): its own message is the reason, and retrying will not help.
  return new FetchError('FETCH_FAILED', `${what}: ${message || describe(err)}`, false);
}
