// What a Dockerfile's final stage says about the image: its LABEL and ENV
// instructions (continued lines joined), as the built image's config holds them.

/** key="value" pairs of the last stage's instructions of one kind. */
function finalStagePairs(dockerfile: string, instruction: 'LABEL' | 'ENV'): Record<string, string> {
  const joined = dockerfile.replace(/\\\n\s*/g, ' ');
  const stages = joined.split(/^FROM\s/m);
  const last = stages[stages.length - 1] ?? '';
  const out: Record<string, string> = {};
  for (const line of last.split('\n')) {
    if (!line.startsWith(`${instruction} `)) continue;
    for (const m of line.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
      const [, key, raw] = m as unknown as [string, string, string];
      out[key] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    }
  }
  return out;
}

export const dockerfileLabels = (dockerfile: string): Record<string, string> =>
  finalStagePairs(dockerfile, 'LABEL');

export const dockerfileEnv = (dockerfile: string): Record<string, string> =>
  finalStagePairs(dockerfile, 'ENV');
