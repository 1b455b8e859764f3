// Whether a namespace is being deleted. Its models then get no writes at
// all: no applies (the API server refuses creates there, and the namespace
// controller removes the rest) and no status (pods terminating before their
// Deployment would change it on every model, each write wasted). Read with a
// GET of the Namespace, remembered for a second (a deletion, longer: it
// only ends with the namespace gone), and learnt at once from a create the
// API server refused for it.
import type { KubeClient } from '../kube/client.js';
import { ApiError, isNotFound } from '../kube/client.js';
import type { KubeObject } from '../kube/types.js';
import { RESOURCES } from '../kube/types.js';

/** How long a namespace read as live is trusted. */
const LIVE_TTL_MS = 1_000;
/** How long a namespace read as being deleted is (it may be re-created after). */
const TERMINATING_TTL_MS = 30_000;
/** Without RBAC to read namespaces (an older chart), ask again after this. */
const FORBIDDEN_RETRY_MS = 10 * 60_000;

type Namespace = KubeObject & { status?: { phase?: string } };

export class NamespaceDeletion {
  private readonly known = new Map<string, { terminating: boolean; at: number }>();
  private forbiddenAt: number | undefined;

  constructor(
    private readonly client: Pick<KubeClient, 'get'>,
    private readonly now: () => number = Date.now,
  ) {}

  async terminating(namespace: string): Promise<boolean> {
    const now = this.now();
    const seen = this.known.get(namespace);
    const ttl = seen?.terminating ? TERMINATING_TTL_MS : LIVE_TTL_MS;
    if (seen !== undefined && now - seen.at < ttl) return seen.terminating;
    if (this.forbiddenAt !== undefined && now - this.forbiddenAt < FORBIDDEN_RETRY_MS) return false;
    let terminating: boolean;
    try {
      const ns = await this.client.get<Namespace>(RESOURCES.namespace, namespace);
      terminating =
        ns.status?.phase === 'Terminating' || ns.metadata.deletionTimestamp !== undefined;
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) {
        this.forbiddenAt = now;
        return false;
      }
      // Gone is as good as going; any other failure: assume live and ask again later.
      terminating = isNotFound(err);
      if (!terminating) return false;
    }
    this.known.set(namespace, { terminating, at: now });
    return terminating;
  }

  /** The API server refused a create because the namespace is being deleted. */
  markTerminating(namespace: string): void {
    this.known.set(namespace, { terminating: true, at: this.now() });
  }
}
