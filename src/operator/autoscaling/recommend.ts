// The HorizontalPodAutoscaler algorithm, for the builtin engine. Pure: the
// caller passes the signal, the current replicas, the history of
// recommendations and the clock.
//   raw      = ceil(total signal / target per replica), or current when within tolerance
//   up       = the lowest raw over the scale-up window (a spike must last to count)
//   down     = the highest raw over the scale-down window (a dip must last to count)
//   limited  = at most max(2x, +4) replicas per step up (HPA's default policy)
//   result   = clamped to [minReplicas, maxReplicas]

export interface Recommendation {
  at: number;
  replicas: number;
}

export interface RecommendInput {
  /** Sum of the signal over all pods (e.g. in-flight requests). */
  total: number;
  /** Target per replica. */
  target: number;
  current: number;
  minReplicas: number;
  maxReplicas: number;
  scaleUpWindowMs: number;
  scaleDownWindowMs: number;
  /** Earlier raw recommendations, oldest first; the result adds this one. */
  history: Recommendation[];
  now: number;
  tolerance?: number;
}

export interface RecommendOutput {
  replicas: number;
  raw: number;
  history: Recommendation[];
  reason: string;
}

export const DEFAULT_TOLERANCE = 0.1;

export function recommend(input: RecommendInput): RecommendOutput {
  const tolerance = input.tolerance ?? DEFAULT_TOLERANCE;
  const current = Math.max(input.current, 0);
  const perReplica = current > 0 ? input.total / current : input.total;
  const ratio = perReplica / input.target;
  const withinTolerance = current > 0 && Math.abs(ratio - 1) <= tolerance;
  const needed = withinTolerance ? current : Math.ceil(input.total / input.target - 1e-9);
  const raw = clamp(needed, input.minReplicas, input.maxReplicas);

  const keepMs = Math.max(input.scaleUpWindowMs, input.scaleDownWindowMs);
  // With no history (a new model or a restarted operator) the current count
  // opens the window, so a restart never causes an immediate scale-down.
  const past = input.history.length ? input.history : [{ at: input.now - 1, replicas: current }];
  const history = [
    ...past.filter((r) => input.now - r.at <= keepMs),
    { at: input.now, replicas: raw },
  ];
  const within = (ms: number) =>
    history.filter((r) => input.now - r.at <= ms).map((r) => r.replicas);

  let replicas = current;
  let reason: string;
  if (raw > current) {
    replicas = Math.min(...within(input.scaleUpWindowMs));
    const limit = Math.max(current * 2, current + 4);
    if (replicas > limit) replicas = limit;
    reason =
      replicas > current
        ? `scale up: ${fmt(input.total)} over target ${fmt(input.target)} per replica needs ${raw}`
        : `holding ${current}: scale-up window not yet passed`;
  } else if (raw < current) {
    replicas = Math.max(...within(input.scaleDownWindowMs));
    reason =
      replicas < current
        ? `scale down: ${fmt(input.total)} over target ${fmt(input.target)} per replica needs ${raw}`
        : `holding ${current}: scale-down window not yet passed`;
  } else if (withinTolerance) {
    reason = `steady at ${current}: ${fmt(perReplica)} per replica is within ${tolerance * 100}% of target ${fmt(input.target)}`;
  } else {
    reason = `steady at ${current}: ${fmt(input.total)} over target ${fmt(input.target)} per replica needs ${needed}, bounded by minReplicas ${input.minReplicas} and maxReplicas ${input.maxReplicas}`;
  }
  replicas = clamp(replicas, input.minReplicas, input.maxReplicas);
  return { replicas, raw, history, reason };
}

export function clamp(n: number, min: number, max: number): number {
  return Math.min(Math.max(n, min), Math.max(min, max));
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}
