import { Agent, request } from 'node:https';

export interface TlsIdentity {
  /** PEM CA to verify the server with; undefined skips verification (self-signed component ports). */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/** A minimal HTTPS client for health probes and a few API calls of the harness. */
export class HttpsClient {
  readonly #agent: Agent;

  constructor(identity: TlsIdentity) {
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: 8,
      ca: identity.ca,
      cert: identity.cert,
      key: identity.key,
      rejectUnauthorized: identity.ca !== undefined,
    });
  }

  send(
    url: string,
    options: { method?: string; body?: string; contentType?: string; timeoutMs?: number } = {},
  ): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (options.body !== undefined) {
        headers['content-type'] = options.contentType ?? 'application/json';
        headers['content-length'] = String(Buffer.byteLength(options.body));
      }
      const req = request(
        url,
        { method: options.method ?? 'GET', agent: this.#agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      req.setTimeout(options.timeoutMs ?? 10_000, () =>
        req.destroy(new Error(`timed out: ${url}`)),
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Polls `probe` every `intervalMs` until it returns true, `abort` throws, or `timeoutMs` passes. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; abort?: () => void },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = '';
  for (;;) {
    options.abort?.();
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${options.timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
