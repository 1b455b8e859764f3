// Reading runtime figures: from a Prometheus query API, or from the runtime's
// own /metrics text. Shared by the builtin autoscaler and canary analysis.

export type Fetcher = (url: string, timeoutMs: number) => Promise<string>;

export const httpFetcher: Fetcher = async (url, timeoutMs) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
};

interface QueryResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: { value: [number, string] }[] };
}

/**
 * Evaluates an instant PromQL query and sums the vector it returns. An empty
 * vector (no series matched yet) is `undefined`, not 0; NaN samples (e.g. a
 * quantile over no requests) are skipped. Throws with Prometheus's reason.
 */
export async function queryVectorSum(
  baseUrl: string,
  expr: string,
  fetchText: Fetcher = httpFetcher,
): Promise<number | undefined> {
  const url = `${baseUrl.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(expr)}`;
  let body: QueryResponse;
  try {
    body = JSON.parse(await fetchText(url, 5000)) as QueryResponse;
  } catch (err) {
    throw new Error(`Prometheus query failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (body.status !== 'success') throw new Error(`Prometheus: ${body.error ?? body.status}`);
  const values = (body.data?.result ?? []).map((r) => Number(r.value[1])).filter(Number.isFinite);
  return values.length ? values.reduce((s, v) => s + v, 0) : undefined;
}
