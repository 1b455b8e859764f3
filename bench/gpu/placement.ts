// Where TensorFlow ran each op, from its own log: with TF_CPP_VMODULE=execute=1
// (and TF_CPP_MIN_LOG_LEVEL=0) its eager executor logs
//   ... execute.cc:1756] Executing op Conv2D in device /job:localhost/replica:0/task:0/device:GPU:0
// for every op tfjs-node runs. On CPUs where TensorFlow's oneDNN pass is on
// (by default on x86 Linux with AVX-512 and newer) CPU ops are logged under
// its names, _MklNativeConv2D, _MklBatchMatMulV2, _MklFusedConv2D: they are
// read as the op they stand for.

/** The environment that makes TensorFlow log each op's device. */
export const PLACEMENT_LOG_ENV = { TF_CPP_MIN_LOG_LEVEL: '0', TF_CPP_VMODULE: 'execute=1' };

/** The ops that do a model's arithmetic: they must be on the device asked for. */
export const COMPUTE_OPS = /Conv2D|MatMul/;

/** Op name to the devices it executed on, in the order first seen. */
export function placements(log: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of log.matchAll(/Executing op (\S+) in device (\S+)/g)) {
    const [, logged, device] = m as unknown as [string, string, string];
    const op = logged.replace(/^_Mkl(Native)?/, '');
    const devices = out.get(op) ?? [];
    if (!devices.includes(device)) devices.push(device);
    out.set(op, devices);
  }
  return out;
}

/**
 * Why the compute ops were not all on `device` (e.g. "/device:GPU:0"), or
 * undefined when they were. No compute op at all is a failure too: the log
 * was not what this reads.
 */
export function misplaced(found: Map<string, string[]>, device: string): string | undefined {
  const compute = [...found].filter(([op]) => COMPUTE_OPS.test(op));
  if (compute.length === 0) {
    return `TensorFlow logged no ${String(COMPUTE_OPS)} op (ops logged: ${[...found.keys()].join(', ') || 'none'})`;
  }
  const wrong = compute.filter(([, devices]) => devices.some((d) => !d.endsWith(device)));
  if (wrong.length === 0) return undefined;
  return wrong.map(([op, devices]) => `${op} ran on ${devices.join(', ')}`).join('; ');
}
