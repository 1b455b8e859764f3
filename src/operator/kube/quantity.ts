// Kubernetes quantities ("500m", "4Gi", "1e3") as numbers: one parser for
// the operator, with every suffix the API server accepts (resource.Quantity:
// binary SI, decimal SI, and a decimal exponent).

const QUANTITY =
  /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;
const SCALE: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The value of a quantity such as 500m, 4Gi or 1e3; undefined when it is not one. */
export function quantityValue(s: string): number | undefined {
  const m = QUANTITY.exec(s.trim());
  if (!m) return undefined;
  const [, number, exponent, suffix] = m;
  const scale = exponent !== undefined ? 10 ** Number(exponent) : suffix ? SCALE[suffix]! : 1;
  const n = Number(number) * scale;
  return Number.isFinite(n) ? n : undefined;
}
