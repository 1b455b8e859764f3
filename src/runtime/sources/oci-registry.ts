// The few calls of the OCI distribution API a pull needs (GET a manifest, GET
// a blob), with the registry's auth: anonymous first, then on a 401 the
// challenge it answers with: Bearer (a token from its realm, asked with the
// Basic credentials when there are some) or Basic.

import type { Credentials } from './oci-auth.js';
import { basicHeader, credentialsFor, parseChallenge } from './oci-auth.js';
import type { OciReference } from './oci-reference.js';
import { registryBaseUrl } from './oci-reference.js';
import { FetchError, readText, request, statusError } from './download.js';

export class OciRegistryClient {
  readonly base: string;
  private readonly creds: Credentials | undefined;
  private authorization: string | undefined;

  constructor(
    private readonly ref: OciReference,
    env: NodeJS.ProcessEnv,
  ) {
    this.base = registryBaseUrl(ref.registry, env);
    this.creds = credentialsFor(ref.registry, env);
  }

  private sent(): string {
    return this.creds === undefined
      ? 'no credentials were sent: give a docker config.json in TENSORFLEET_OCI_AUTH_FILE or DOCKER_CONFIG'
      : `the credentials of ${this.creds.from} for ${this.ref.registry} were sent`;
  }

  private unauthorized(what: string, status: number, detail: string): FetchError {
    return new FetchError(
      'FETCH_UNAUTHORIZED',
      `${what}: access denied (HTTP ${status}); ${this.sent()}${detail === '' ? '' : `: ${detail.slice(0, 300)}`}`,
      false,
    );
  }

  private async fetchOnce(
    url: string,
    accept: string | undefined,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (accept !== undefined) headers['accept'] = accept;
    if (this.authorization !== undefined) headers['authorization'] = this.authorization;
    return request(url, { headers, ...(signal === undefined ? {} : { signal }) }, what);
  }

  /** Answers a 401's challenge: sets the Authorization later requests send. */
  private async authenticate(res: Response, what: string, signal?: AbortSignal): Promise<void> {
    const challenge = parseChallenge(res.headers.get('www-authenticate'));
    const detail = await readText(res);
    if (challenge?.scheme === 'basic') {
      if (this.creds === undefined || this.authorization !== undefined) {
        throw this.unauthorized(what, 401, detail);
      }
      this.authorization = basicHeader(this.creds);
      return;
    }
    const realm = challenge?.scheme === 'bearer' ? challenge.params['realm'] : undefined;
    if (realm === undefined || !URL.canParse(realm) || this.authorization?.startsWith('Bearer ')) {
      throw this.unauthorized(what, 401, detail);
    }
    const tokenUrl = new URL(realm);
    for (const key of ['service', 'scope']) {
      const value = challenge?.params[key];
      if (value !== undefined) tokenUrl.searchParams.set(key, value);
    }
    // A challenge without a scope (some registries) gets the pull scope of this repository.
    if (!tokenUrl.searchParams.has('scope')) {
      tokenUrl.searchParams.set('scope', `repository:${this.ref.repository}:pull`);
    }
    const tokenWhat = `getting a registry token from ${tokenUrl.origin}${tokenUrl.pathname}`;
    const headers: Record<string, string> = {};
    if (this.creds !== undefined) headers['authorization'] = basicHeader(this.creds);
    const tokenRes = await request(
      tokenUrl.href,
      { headers, ...(signal === undefined ? {} : { signal }) },
      tokenWhat,
    );
    const body = await readText(tokenRes);
    if (tokenRes.status === 401 || tokenRes.status === 403) {
      throw this.unauthorized(tokenWhat, tokenRes.status, body);
    }
    if (!tokenRes.ok) throw statusError(tokenWhat, tokenRes.status, body);
    let token: unknown;
    try {
      const json = JSON.parse(body) as { token?: unknown; access_token?: unknown };
      token = json.token ?? json.access_token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token === '') {
      throw new FetchError('FETCH_FAILED', `${tokenWhat}: the answer holds no token`, false);
    }
    this.authorization = `Bearer ${token}`;
  }

  /** GET `/v2/<repository>/<path>`, authenticating once when challenged; `res.ok` or 404 come back. */
  async get(path: string, what: string, accept?: string, signal?: AbortSignal): Promise<Response> {
    const url = `${this.base}/v2/${this.ref.repository}/${path}`;
    let res = await this.fetchOnce(url, accept, what, signal);
    if (res.status === 401) {
      await this.authenticate(res, what, signal);
      res = await this.fetchOnce(url, accept, what, signal);
    }
    if (res.ok || res.status === 404) return res;
    const detail = await readText(res);
    if (res.status === 401 || res.status === 403) throw this.unauthorized(what, res.status, detail);
    throw statusError(what, res.status, detail);
  }

  /** A 404's error code from the registry's JSON body (NAME_UNKNOWN, MANIFEST_UNKNOWN, …). */
  static async errorCode(res: Response): Promise<string | undefined> {
    try {
      const json = JSON.parse(await readText(res)) as { errors?: { code?: unknown }[] };
      const code = json.errors?.[0]?.code;
      return typeof code === 'string' ? code : undefined;
    } catch {
      return undefined;
    }
  }
}
