// The Azure SDKs' errors as the runtime's fetch errors, each with its reason:
// the storage service's error code and first message line (not found, denied
// with which credentials were used, a blob changed mid-download), a network
// failure with the endpoint, or why no Microsoft Entra token could be had.

import { RuntimeError } from '../errors.js';
import { FetchError, statusError } from './download.js';
import type { AzureBlobLocation } from './azure-blob-location.js';
import { describeAuth } from './azure-blob-location.js';

/** The fields of @azure/core-rest-pipeline's RestError that matter here. */
interface RestErrorLike {
  name: 'RestError';
  message: string;
  code?: string;
  statusCode?: number;
  /** The parsed error body; a refused authentication says why in authenticationErrorDetail. */
  details?: { authenticationErrorDetail?: unknown };
}

function isRestError(err: unknown): err is RestErrorLike {
  return err instanceof Error && err.name === 'RestError';
}

/** Errors @azure/identity throws when no credential yields a token. */
const CREDENTIAL_ERRORS = new Set([
  'AggregateAuthenticationError',
  'CredentialUnavailableError',
  'AuthenticationError',
  'AuthenticationRequiredError',
]);

/**
 * Why the chain got no token: the credentials that were configured and failed
 * (the Entra ID error, AADSTS code first), or, when none was configured, why
 * each was unavailable; each reason once, cut short.
 */
function credentialReasons(err: Error): string {
  const inner = (err as { errors?: unknown }).errors;
  const errors = Array.isArray(inner) ? (inner as Error[]) : [err];
  const failed = errors.filter((e) => e.name !== 'CredentialUnavailableError');
  const reasons = (failed.length > 0 ? failed : errors).map((e) => {
    const message = String(e.message ?? e);
    const aadsts = /AADSTS\d+:[^.]*\./.exec(message)?.[0];
    const first = aadsts ?? message.split('\n')[0] ?? '';
    return first.length > 160 ? `${first.slice(0, 160)}...` : first;
  });
  return [...new Set(reasons)].join('; ');
}

/**
 * Why a SAS was refused when its own validity window says so (`st`, `se`):
 * the service's message does not always (Azurite's never does).
 */
export function sasWindow(token: string, now: Date = new Date()): string {
  const params = new URLSearchParams(token);
  const expiry = Date.parse(params.get('se') ?? '');
  if (expiry <= now.getTime()) return `; the SAS expired at ${params.get('se') ?? ''}`;
  const start = Date.parse(params.get('st') ?? '');
  if (start > now.getTime()) return `; the SAS is not valid before ${params.get('st') ?? ''}`;
  return '';
}

export function azureError(what: string, err: unknown, loc: AzureBlobLocation): unknown {
  if (err instanceof FetchError) return err;
  if (isRestError(err)) {
    const code = err.code ?? '';
    if (err.statusCode === undefined) {
      return new FetchError(
        'FETCH_FAILED',
        `${what}: request to ${new URL(loc.endpoint).origin} failed (${code || err.message})`,
        true,
      );
    }
    const message = err.message.split('\n')[0]?.trim() ?? '';
    const why = err.details?.authenticationErrorDetail;
    const detail =
      [code, message].filter((s) => s !== '').join(': ') +
      (typeof why === 'string' && why !== '' ? ` ${why.split('\n')[0] ?? ''}` : '');
    if (err.statusCode === 404 && code === 'ContainerNotFound') {
      return statusError(
        `container "${loc.container}" in storage account "${loc.account}"`,
        404,
        code,
      );
    }
    if (err.statusCode === 412) {
      return new FetchError(
        'FETCH_FAILED',
        `${what}: the blob changed during the download (HTTP 412 ${code})`,
        true,
      );
    }
    if (err.statusCode === 401 || err.statusCode === 403) {
      const window = loc.auth.kind === 'sas' ? sasWindow(loc.auth.token) : '';
      return statusError(
        what,
        err.statusCode,
        `${detail} (used ${describeAuth(loc.auth)}${window})`,
      );
    }
    return statusError(what, err.statusCode, detail);
  }
  if (err instanceof Error && CREDENTIAL_ERRORS.has(err.name)) {
    return new FetchError(
      'FETCH_UNAUTHORIZED',
      `${what}: no Microsoft Entra token for Azure Storage from DefaultAzureCredential: ${credentialReasons(err)}`,
      false,
    );
  }
  // Anything else mid-transfer (a reset connection, a broken stream) is worth another try.
  if (err instanceof Error && !(err instanceof RuntimeError) && err.name !== 'AbortError')
    return new FetchError('FETCH_FAILED', `${what}: ${err.message}`, true);
  return err;
}
