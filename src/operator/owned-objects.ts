// Writes the objects a ModelDeployment owns: applies one when the cluster
// lacks what we want (kube/compare.ts decides, so an idle cluster sees no
// writes) and deletes ours when it is no longer wanted. A write made moments
// ago is not repeated while the cache still shows the object as it was.
import type { KubeClient } from './kube/client.js';
import { isNotFound } from './kube/client.js';
import { blockingFieldsPatch } from './kube/blocking-fields.js';
import type { ObjectCache } from './kube/cache.js';
import { OWN_WRITE_TRUST_MS } from './kube/cache.js';
import { APPLIED_HASH, needsApply, withAppliedHash } from './kube/compare.js';
import type { KubeObject, ModelDeploymentObject, ResourceRef } from './kube/types.js';
import { objectKey } from './kube/types.js';
import type { Logger } from './logger.js';
import type { Problem } from './status/compute.js';
import { REASON } from './status/reasons.js';

/** One apply of ours: the content's hash, when, and the object's resourceVersion before and after it. */
interface AppliedWrite {
  hash: string;
  at: number;
  before: string | undefined;
  after: string | undefined;
}

export interface OwnedObjectsDeps {
  client: Pick<KubeClient, 'get' | 'apply' | 'delete' | 'jsonPatch'>;
  logger: Logger;
  now: () => Date;
  /** Called when an optional kind's CRD turns out to be gone (404 on apply). */
  optionalKindGone?: (ref: ResourceRef) => Promise<void>;
}

export class OwnedObjects {
  /**
   * Our last apply per owner (namespace/name), then per object. Only the
   * two versions it records may be skipped; any other is a change someone
   * made since.
   */
  private readonly applied = new Map<string, Map<string, AppliedWrite>>();

  constructor(private readonly deps: OwnedObjectsDeps) {}

  /** Applies `desired` unless the cluster already has it; returns the object as it now is. */
  async ensure(
    owner: ModelDeploymentObject,
    ref: ResourceRef,
    cache: ObjectCache<KubeObject>,
    desired: KubeObject,
    problems: Problem[],
  ): Promise<KubeObject | undefined> {
    const { client, logger } = this.deps;
    const { namespace, name } = desired.metadata;
    const stamped = withAppliedHash(
      desired as KubeObject & { metadata: { annotations?: Record<string, string> } },
    );
    // The cache holds only objects with our managed-by label; before creating,
    // make sure no one else's object of that name would be taken over.
    const observed = cache.get(namespace ?? '', name) ?? (await this.getLive(ref, namespace, name));
    if (observed && !ownedBy(observed, owner)) {
      problems.push({
        reason: REASON.NameConflict,
        message: `${ref.kind} ${namespace}/${name} already exists and is not owned by this ModelDeployment`,
      });
      return undefined;
    }
    const hash = stamped.metadata.annotations![APPLIED_HASH]!;
    // Being deleted (its namespace going, or by hand): writing to it now is
    // wasted; once it is gone the delete event brings us back to create it.
    if (observed?.metadata.deletionTimestamp) return observed;
    if (!needsApply(stamped, observed)) return observed;
    const memoKey = `${ref.plural}/${namespace}/${name}`;
    const writes = this.applied.get(objectKey(owner)) ?? new Map<string, AppliedWrite>();
    const memo = writes.get(memoKey);
    const version = observed?.metadata.resourceVersion;
    if (
      observed &&
      memo?.hash === hash &&
      this.deps.now().getTime() - memo.at < OWN_WRITE_TRUST_MS &&
      (version === memo.before || version === memo.after)
    ) {
      // We applied exactly this moments ago, and the cache shows the object as
      // it was just before our write (not caught up yet) or as our write left
      // it (the server keeps a form we cannot compare: writing again would not help).
      return observed;
    }
    const blocking = observed && blockingFieldsPatch(stamped, observed);
    if (blocking) {
      // A field another manager set makes our apply invalid: replace it first.
      // If the object changed meanwhile the patch's test fails; the apply
      // below then reports why, and the retry sees the object as it now is.
      await client
        .jsonPatch(ref, namespace, name, blocking)
        .then(() =>
          logger.info('replaced fields that blocked our apply', {
            kind: ref.kind,
            name,
            removed: blocking.filter((o) => o.op === 'remove').map((o) => o.path),
          }),
        )
        .catch((err: unknown) =>
          logger.info('could not replace fields that block our apply', {
            kind: ref.kind,
            name,
            error: (err as Error).message,
          }),
        );
    }
    const result = await client.apply<KubeObject>(ref, stamped);
    writes.set(memoKey, {
      hash,
      at: this.deps.now().getTime(),
      before: version,
      after: result.metadata.resourceVersion,
    });
    this.applied.set(objectKey(owner), writes);
    logger.info('applied', { kind: ref.kind, name, namespace });
    return result;
  }

  /** Applies the object when wanted; deletes our copy when it is not. */
  async ensureOptional(
    owner: ModelDeploymentObject,
    ref: ResourceRef,
    cache: ObjectCache<KubeObject>,
    desired: KubeObject | undefined,
    problems: Problem[],
  ): Promise<void> {
    if (!desired) return this.delete(owner, ref, cache, owner.metadata.name);
    try {
      await this.ensure(owner, ref, cache, desired, problems);
    } catch (err) {
      // An apply creates a missing object: 404 means the kind itself is gone.
      if (!isNotFound(err) || this.deps.optionalKindGone === undefined) throw err;
      await this.deps.optionalKindGone(ref);
      throw new Error(`${ref.kind} is no longer served (its CRD was removed); reconciling again`);
    }
  }

  /** Deletes our object of that name, if there is one. */
  async delete(
    owner: ModelDeploymentObject,
    ref: ResourceRef,
    cache: ObjectCache<KubeObject>,
    name: string,
  ): Promise<void> {
    const observed = cache.get(owner.metadata.namespace!, name);
    if (!observed || !ownedBy(observed, owner)) return;
    const { namespace, uid } = observed.metadata;
    try {
      await this.deps.client.delete(ref, namespace, name, uid);
      this.deps.logger.info('deleted', { kind: ref.kind, name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Drops what we remember of the owner's objects (it is gone). */
  forget(ownerKey: string): void {
    this.applied.delete(ownerKey);
  }

  private async getLive(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    try {
      return await this.deps.client.get<KubeObject>(ref, name, namespace);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}

/** True when `md` is the controller owner of `obj`. */
export function ownedBy(obj: KubeObject, md: ModelDeploymentObject): boolean {
  return (obj.metadata.ownerReferences ?? []).some(
    (o) => o.controller && o.uid === md.metadata.uid,
  );
}
