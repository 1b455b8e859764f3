// Loopback stand-ins for the endpoints Google's credentials get access tokens
// from, each doing the real check of its protocol, so that a test's token
// exchange is a real exchange:
//   - an OAuth 2.0 token endpoint for service-account keys (RFC 7523 JWT bearer:
//     it verifies the RS256 signature with the key's public half, aud and exp),
//     served behind google-apis-proxy.ts;
//   - the GCE/GKE metadata server (Metadata-Flavor: Google), where GKE Workload
//     Identity hands out the pod's token;
//   - the Security Token Service of workload identity federation (RFC 8693 token
//     exchange of the subject token an external_account file points at).

import type { KeyObject } from 'node:crypto';
import { generateKeyPairSync, verify } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';

export interface TokenServer {
  url: string;
  /** "<METHOD> <path>" of each request. */
  requests: string[];
  stop(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

function json(res: ServerResponse, status: number, body: object, headers = {}): void {
  res
    .writeHead(status, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify(body));
}

/** Answers one request whose body has been read. */
export type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** Runs `handle` on each request of `server`, after reading the body; logs "<METHOD> <path>". */
export function handleWith(server: Server, handle: Handler, requests: string[]): void {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    void readBody(req).then((body) => handle(req, body, res));
  });
}

async function serve(handle: Handler): Promise<TokenServer> {
  const requests: string[] = [];
  const server = createServer();
  handleWith(server, handle, requests);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A new service-account key: its key file's JSON for a token endpoint, and its public half. */
export function serviceAccountKey(): {
  file: (tokenUri: string) => Record<string, string>;
  publicKey: KeyObject;
} {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    file: (tokenUri) => ({
      type: 'service_account',
      project_id: 'tensorfleet-test',
      private_key_id: 'test-key-1',
      private_key: pem,
      client_email: 'model-reader@tensorfleet-test.iam.gserviceaccount.com',
      client_id: '1234567890',
      token_uri: tokenUri,
    }),
    publicKey,
  };
}

function oauthError(res: ServerResponse, error: string, description: string): void {
  json(res, 400, { error, error_description: description });
}

/**
 * An OAuth token endpoint for service-account keys, known to its callers as
 * `audience` (gtoken, the library that does this exchange for Google's Node.js
 * clients, posts to https://www.googleapis.com/oauth2/v4/token whatever the
 * key file's token_uri says): a JWT-bearer assertion signed by the private
 * half of `publicKey()`, for `audience` and not expired, gets `token`.
 */
export function jwtBearerEndpoint(opts: {
  audience: string;
  publicKey: () => KeyObject;
  token: string;
}): Handler {
  return (req, body, res) => {
    const form = new URLSearchParams(body);
    if (req.method !== 'POST' || req.url !== new URL(opts.audience).pathname)
      return json(res, 404, { error: 'not_found' });
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
      return oauthError(res, 'unsupported_grant_type', `grant_type ${form.get('grant_type')}`);
    const [header, claims, signature] = (form.get('assertion') ?? '').split('.');
    if (header === undefined || claims === undefined || signature === undefined)
      return oauthError(res, 'invalid_grant', 'Invalid JWT: not three parts.');
    const signed = verify(
      'RSA-SHA256',
      Buffer.from(`${header}.${claims}`),
      opts.publicKey(),
      Buffer.from(signature, 'base64url'),
    );
    if (!signed) return oauthError(res, 'invalid_grant', 'Invalid JWT Signature.');
    const claim = JSON.parse(Buffer.from(claims, 'base64url').toString()) as {
      aud?: string;
      exp?: number;
    };
    if (claim.aud !== opts.audience)
      return oauthError(res, 'invalid_grant', `Invalid JWT: aud ${claim.aud}`);
    if ((claim.exp ?? 0) < Date.now() / 1000)
      return oauthError(res, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token');
    json(res, 200, { access_token: opts.token, expires_in: 3599, token_type: 'Bearer' });
  };
}

/** The metadata server: the default service account's token is `token`. */
export async function startMetadataServer(opts: { token: string }): Promise<TokenServer> {
  return serve((req, _body, res) => {
    const flavor = { 'metadata-flavor': 'Google' };
    if (req.headers['metadata-flavor'] !== 'Google')
      return json(res, 403, { error: 'Missing Metadata-Flavor:Google header.' }, flavor);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/computeMetadata/v1/instance' || path === '/computeMetadata/v1/instance/') {
      res.writeHead(200, { ...flavor, 'content-type': 'application/text' }).end('attributes/\n');
      return;
    }
    if (path === '/computeMetadata/v1/instance/service-accounts/default/token')
      return json(
        res,
        200,
        { access_token: opts.token, expires_in: 3599, token_type: 'Bearer' },
        flavor,
      );
    res.writeHead(404, flavor).end('Not Found');
  });
}

/**
 * The Security Token Service at `<url>/v1/token`: an RFC 8693 token exchange of
 * `subjectToken` for `audience` gets `token`.
 */
export async function startSts(opts: {
  subjectToken: string;
  audience: string;
  token: string;
}): Promise<TokenServer> {
  return serve((req, body, res) => {
    const form = new URLSearchParams(body);
    if (req.method !== 'POST' || req.url !== '/v1/token')
      return json(res, 404, { error: 'not_found' });
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange')
      return oauthError(res, 'unsupported_grant_type', `grant_type ${form.get('grant_type')}`);
    if (form.get('audience') !== opts.audience)
      return oauthError(
        res,
        'invalid_target',
        `The target service indicated by the "audience" parameters is invalid.`,
      );
    if (form.get('subject_token') !== opts.subjectToken)
      return oauthError(res, 'invalid_grant', 'The provided subject token is invalid or expired.');
    json(res, 200, {
      access_token: opts.token,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: 3600,
    });
  });
}
