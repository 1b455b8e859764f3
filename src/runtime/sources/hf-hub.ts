// Requests to the Hugging Face Hub's HTTP API: the token only ever goes to the
// Hub's own origin (redirects to the LFS/CDN host are followed without it), and
// the Hub's error headers (X-Error-Code, X-Error-Message) become precise
// FetchErrors: which of repository, revision or path is missing, whether a
// token was missing, rejected or lacks access, and how long a rate limit lasts.

import { FetchError, readText, request, statusError } from './download.js';

const MAX_REDIRECTS = 5;

/** What a request is about, for the messages of its errors. */
export interface HubContext {
  repo: string;
  revision: string;
  /** The path asked for, when the request is about one. */
  path?: string;
  /** Whether HF_TOKEN was set. */
  token: boolean;
}

/**
 * GET `url`, following redirects by hand: the Authorization header is sent
 * only while the URL is on `hubOrigin` (a signed CDN URL needs none, and must
 * not receive the user's token). Answers the final response, whatever its status.
 */
export async function hubGet(
  url: string,
  hubOrigin: string,
  token: string | undefined,
  what: string,
  signal: AbortSignal | undefined,
): Promise<Response> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> =
      token !== undefined && current.origin === hubOrigin
        ? { authorization: `Bearer ${token}` }
        : {};
    const res = await request(
      current.href,
      { headers, redirect: 'manual', ...(signal === undefined ? {} : { signal }) },
      what,
    );
    const location = res.headers.get('location');
    if (res.status < 300 || res.status > 399 || location === null) return res;
    await res.body?.cancel();
    if (hop >= MAX_REDIRECTS)
      throw new FetchError('FETCH_FAILED', `${what}: more than ${MAX_REDIRECTS} redirects`, false);
    current = new URL(location, current);
    if (current.protocol !== 'https:' && current.protocol !== 'http:') {
      throw new FetchError(
        'FETCH_FAILED',
        `${what}: redirected to a non-HTTP URL (${current.protocol})`,
        false,
      );
    }
  }
}

/** Seconds to wait from Retry-After (seconds or a date) or the Hub's `RateLimit: "api";r=0;t=55`. */
export function retryAfterSeconds(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null) {
    if (/^\s*\d+\s*$/.test(retryAfter)) return Number(retryAfter);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - now) / 1000));
  }
  const t = /;\s*t\s*=\s*(\d+)/.exec(headers.get('ratelimit') ?? '');
  return t?.[1] === undefined ? undefined : Number(t[1]);
}

function serverReason(res: Response, body: string): string {
  const header = res.headers.get('x-error-message');
  if (header !== null && header !== '') return header;
  try {
    const error = (JSON.parse(body) as { error?: unknown }).error;
    if (typeof error === 'string') return error;
  } catch {
    // Not JSON: the body itself, when short text.
  }
  return /html/i.test(res.headers.get('content-type') ?? '') ? '' : body.slice(0, 300);
}

/** The precise error for a failed Hub answer (status >= 400) about `ctx`. */
export async function hubError(res: Response, what: string, ctx: HubContext): Promise<FetchError> {
  const body = await readText(res);
  const code = res.headers.get('x-error-code');
  const reason = serverReason(res, body);
  const because = reason === '' ? '' : ` (the Hub says: ${reason})`;
  const repo = `Hugging Face repository ${ctx.repo}`;
  const unauthorized = (message: string): FetchError =>
    new FetchError('FETCH_UNAUTHORIZED', `${what}: ${message}${because}`, false);
  const notFound = (message: string): FetchError =>
    new FetchError('FETCH_NOT_FOUND', `${what}: ${message}${because}`, false);

  if (code === 'RevisionNotFound')
    return notFound(
      `revision "${ctx.revision}" not found in ${repo} (no such branch, tag or commit)`,
    );
  if (code === 'EntryNotFound') {
    return notFound(`path "${ctx.path ?? ''}" not found in ${repo} at revision "${ctx.revision}"`);
  }
  if (code === 'GatedRepo') {
    return unauthorized(
      ctx.token
        ? `${repo} is gated and the account of HF_TOKEN has not been granted access: request it on the model's page on the Hub`
        : `${repo} is gated: set HF_TOKEN (in the credentials Secret) to a token of an account that has been granted access`,
    );
  }
  if (reason === 'Access to this resource is disabled.')
    return unauthorized(`${repo} is disabled on the Hub`);
  if (res.status === 401 && ctx.token && code !== 'RepoNotFound')
    return unauthorized('the Hub rejected HF_TOKEN (invalid, revoked or expired token)');
  if (code === 'RepoNotFound' || res.status === 401) {
    // The Hub answers 401 for a missing repository and for a private one alike
    // when no token is sent, and 404 for both when the token cannot see it.
    return res.status === 401
      ? unauthorized(
          `${repo} not found, or private and no HF_TOKEN is set: check the name, or set HF_TOKEN for a private or gated repository`,
        )
      : notFound(
          `${repo} not found${ctx.token ? ', or private and not visible to the account of HF_TOKEN' : ''}`,
        );
  }
  if (res.status === 403) {
    return unauthorized(
      ctx.token
        ? `HF_TOKEN may not read ${repo} (a fine-grained token needs read access to it)`
        : `access to ${repo} denied`,
    );
  }
  if (res.status === 429) {
    const wait = retryAfterSeconds(res.headers);
    return new FetchError(
      'FETCH_FAILED',
      `${what}: rate limited by the Hub (HTTP 429)${wait === undefined ? '' : `; retry after ${wait} s`}${because}`,
      true,
      wait,
    );
  }
  return statusError(what, res.status, reason);
}
