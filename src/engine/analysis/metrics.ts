// Model-level indices: R-GAP's rank-analysis index (docs/algorithm.md §4.3), the COPA index (§4.4) and the risk score (§4.6).

/** Python's round(): halves go to the even neighbour (COPA parity with the reference definition, §7.2). */
export function roundHalfToEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (Math.abs(diff - 0.5) > 1e-9) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

export interface RaInput {
  nX: number;
  /** All trainable parameters of the layer (weights and biases); 0 for pooling. */
  nParams: number;
  nZ: number;
  /** rank U when known (numerical variant). */
  rankU: number | null;
}

export interface RaResult {
  perLayer: { virtualIn: number; raCount: number; raNumerical: number | null }[];
  indexCount: number;
  indexNumerical: number | null;
}

/**
 * R-GAP rank-analysis recursion over layers in forward order: RA_i = n_x − n_w − n_z − n_v, with virtual constraints
 * n_v accumulated from layers that expand dimension, less their own deficiency. The numerical variant replaces
 * n_w + n_z by rank U and keeps the same recursion.
 */
export function rankAnalysisIndex(layers: RaInput[]): RaResult {
  let virtualCount = 0;
  let virtualNumerical = 0;
  let numericalComplete = true;
  const perLayer: RaResult['perLayer'] = [];
  for (const layer of layers) {
    const naive = layer.nX - layer.nParams - layer.nZ;
    const raCount = naive - virtualCount;
    let raNumerical: number | null = null;
    if (layer.rankU === null) numericalComplete = false;
    else raNumerical = layer.nX - layer.rankU - virtualNumerical;
    perLayer.push({ virtualIn: virtualCount, raCount, raNumerical });
    virtualCount += Math.max(Math.max(layer.nZ - layer.nX, 0) - Math.max(naive, 0), 0);
    if (layer.rankU !== null) {
      const deficiency = layer.nX - layer.rankU;
      virtualNumerical += Math.max(Math.max(layer.nZ - layer.nX, 0) - Math.max(deficiency, 0), 0);
    }
  }
  const indexCount = perLayer.length ? Math.max(...perLayer.map((l) => l.raCount)) : 0;
  const indexNumerical = numericalComplete && perLayer.length ? Math.max(...perLayer.map((l) => l.raNumerical as number)) : null;
  return { perLayer, indexCount, indexNumerical };
}

export interface CopaResult {
  weights: number[];
  terms: number[];
  index: number;
  unrounded: number;
}

/**
 * COPA index over the L parametric layers in forward order (the last one, the output layer, is always solvable
 * and carries no term): Σ_{i<L−1} round(−d_i (L−1−i)/(L−1)), rounded half-to-even per term, plus the unrounded sum.
 */
export function copaIndex(deficiencies: number[]): CopaResult {
  const L = deficiencies.length;
  const weights: number[] = [];
  const terms: number[] = [];
  let unrounded = 0;
  for (let i = 0; i < L; i++) {
    const weight = i < L - 1 ? (L - 1 - i) / (L - 1) : 0;
    const exact = -deficiencies[i] * weight;
    weights.push(weight);
    terms.push(roundHalfToEven(exact) + 0); // + 0 turns −0 into 0
    unrounded += exact;
  }
  return { weights, terms, index: terms.reduce((a, b) => a + b, 0), unrounded };
}

/**
 * Risk model (docs/algorithm.md §4.6, README "Risk score"): a layer's own recoverable fraction is rank U / n_x. The recursion reaches a layer
 * only through the layers after it, and a deficiency there corrupts δz and z of every layer below (docs/algorithm.md §4.5:
 * CNN6-d's 8 % deficiency in layer 2 takes the image to −4 dB), so each layer passes on its fraction to the power
 * DEFICIENCY_SPREAD. A chain-broken layer passes on CHAIN_BROKEN_PASS: only gradient matching continues past it,
 * which still leaks, so it is never counted as a wall.
 */
export const DEFICIENCY_SPREAD = 20;
export const CHAIN_BROKEN_PASS = 0.5;

export function passOn(recoverableFraction: number): number {
  return Math.pow(Math.min(Math.max(recoverableFraction, 0), 1), DEFICIENCY_SPREAD);
}

export const DEFAULT_THRESHOLDS = { high: 0.7, medium: 0.3 } as const;

export function severityOf(risk: number, thresholds: { high: number; medium: number } = DEFAULT_THRESHOLDS) {
  return risk >= thresholds.high ? 'high' : risk >= thresholds.medium ? 'medium' : 'low';
}
