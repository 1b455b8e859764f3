// A reader of the Prometheus text exposition format, enough for the runtime's
// own /metrics: `name{label="value",...} number` lines, comments skipped.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    if (space < 0) continue;
    const value = Number(line.slice(space + 1));
    let name: string;
    const labels: Record<string, string> = {};
    if (brace >= 0 && brace < space) {
      name = line.slice(0, brace);
      const close = line.lastIndexOf('}');
      for (const m of line.slice(brace + 1, close).matchAll(LABEL)) {
        labels[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
      }
    } else {
      name = line.slice(0, line.indexOf(' '));
    }
    out.push({ name, labels, value });
  }
  return out;
}

/** Sum of the samples of `name` whose labels include every pair of `where`, or undefined when none. */
export function sumSamples(
  samples: Sample[],
  name: string,
  where: Record<string, string | RegExp> = {},
): number | undefined {
  let sum: number | undefined;
  for (const s of samples) {
    if (s.name !== name || !Number.isFinite(s.value)) continue;
    const match = Object.entries(where).every(([k, v]) =>
      typeof v === 'string' ? s.labels[k] === v : v.test(s.labels[k] ?? ''),
    );
    if (match) sum = (sum ?? 0) + s.value;
  }
  return sum;
}
