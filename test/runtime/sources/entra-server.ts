// A loopback stand-in for Microsoft Entra ID over HTTPS, enough for
// @azure/identity: the OpenID metadata and token endpoint MSAL uses for
// workload identity (a client assertion read from AZURE_FEDERATED_TOKEN_FILE),
// and an App Service style managed identity endpoint (IDENTITY_ENDPOINT), so
// no credential ever looks for the instance metadata service. Tokens are JWTs
// Azurite's `--oauth basic` accepts (issuer, audience, lifetime; the signature
// is not checked).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Tls } from './azurite.js';

const IDENTITY_HEADER = 'identity-header-secret';

export type TokenMode = 'valid' | 'expired' | 'deny';

export interface EntraServer {
  /** For AZURE_AUTHORITY_HOST. */
  authorityHost: string;
  /** For IDENTITY_ENDPOINT (IDENTITY_HEADER must be `identityHeader`). */
  identityEndpoint: string;
  identityHeader: string;
  /** What the next tokens are: good, already expired, or refused (invalid_client). */
  mode: TokenMode;
  /** Form fields of each token request, and each managed identity request's URL. */
  tokenRequests: URLSearchParams[];
  identityRequests: string[];
  stop(): Promise<void>;
}

function accessToken(tenant: string, expired: boolean): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return [
    b64({ alg: 'RS256', typ: 'JWT' }),
    b64({
      aud: 'https://storage.azure.com',
      iss: `https://sts.windows.net/${tenant}/`,
      tid: tenant,
      oid: '00000000-0000-0000-0000-00000000cafe',
      iat: now - 7200,
      nbf: now - 7200,
      exp: expired ? now - 600 : now + 3600,
    }),
    Buffer.from('not checked').toString('base64url'),
  ].join('.');
}

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += (chunk as Buffer).toString();
  return text;
}

export async function startEntra(tls: Tls, tenant: string): Promise<EntraServer> {
  const state = {
    mode: 'valid' as TokenMode,
    tokenRequests: [] as URLSearchParams[],
    identityRequests: [] as string[],
  };
  let base = '';
  const json = (res: ServerResponse, status: number, value: object): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  const server = createServer({ cert: tls.pem, key: tls.keyPem }, (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', base);
      if (url.pathname === `/${tenant}/v2.0/.well-known/openid-configuration`) {
        json(res, 200, {
          issuer: `${base}/${tenant}/v2.0`,
          authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
          token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
          end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
          jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
        });
      } else if (url.pathname === `/${tenant}/oauth2/v2.0/token` && req.method === 'POST') {
        state.tokenRequests.push(new URLSearchParams(await body(req)));
        if (state.mode === 'deny') {
          json(res, 401, {
            error: 'invalid_client',
            error_description:
              'AADSTS700213: No matching federated identity record found for presented assertion subject.',
            error_codes: [700213],
          });
        } else {
          json(res, 200, {
            token_type: 'Bearer',
            expires_in: 3600,
            ext_expires_in: 3600,
            access_token: accessToken(tenant, state.mode === 'expired'),
          });
        }
      } else if (url.pathname === '/msi/token') {
        state.identityRequests.push(url.href);
        if (req.headers['x-identity-header'] !== IDENTITY_HEADER) {
          json(res, 401, { error: 'unauthorized', error_description: 'bad X-IDENTITY-HEADER' });
          return;
        }
        json(res, 200, {
          access_token: accessToken(tenant, state.mode === 'expired'),
          expires_on: String(Math.floor(Date.now() / 1000) + 3600),
          resource: url.searchParams.get('resource'),
          token_type: 'Bearer',
        });
      } else {
        json(res, 404, { error: 'not_found', error_description: url.pathname });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    authorityHost: base,
    identityEndpoint: `${base}/msi/token`,
    identityHeader: IDENTITY_HEADER,
    get mode() {
      return state.mode;
    },
    set mode(m: TokenMode) {
      state.mode = m;
    },
    tokenRequests: state.tokenRequests,
    identityRequests: state.identityRequests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
