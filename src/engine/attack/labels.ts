// Label recovery from the last layer's shared gradients (iDLG; docs/algorithm.md §5.2) and the logits' δz.
// With softmax cross-entropy δz_L = p − e_y: the true class is the only negative entry.

export type LabelRule = 'bias' | 'row-sum' | 'row-sign';

export interface RecoveredLabel {
  label: number;
  rule: LabelRule;
}

/**
 * - bias rule: y = argmin g_L (g_L = δz_L);
 * - row-sum rule (inputs of the last layer known to be ≥ 0, e.g. after ReLU/Sigmoid): y = argmin_j Σ_k G_L[j,k];
 * - row-sign rule otherwise: all rows of G_L are multiples δz_j·x of one vector; the true class is the row whose
 *   multiple has the sign opposite to the others.
 */
export function recoverLabel(kernelGrad: Float64Array, classes: number, biasGrad: Float64Array | undefined, inputsNonNegative: boolean): RecoveredLabel {
  if (biasGrad && biasGrad.some((v) => v !== 0)) return { label: argmin(biasGrad), rule: 'bias' };
  const n = kernelGrad.length / classes;
  if (inputsNonNegative) {
    const sums = new Float64Array(classes);
    for (let j = 0; j < classes; j++) for (let k = 0; k < n; k++) sums[j] += kernelGrad[j * n + k];
    return { label: argmin(sums), rule: 'row-sum' };
  }
  const coefficients = rowCoefficients(kernelGrad, classes);
  const positives = coefficients.filter((c) => c > 0).length;
  // The majority sign belongs to the wrong classes; flip so that the true class is the minimum.
  const sign = positives >= classes - positives ? 1 : -1;
  return { label: argmin(coefficients.map((c) => sign * c)), rule: 'row-sign' };
}

/** Coefficient of each row along the direction of the largest row: G_j = c_j · r̂ (rank one). */
export function rowCoefficients(kernelGrad: Float64Array, classes: number): Float64Array {
  const n = kernelGrad.length / classes;
  let best = 0;
  let bestNorm = -1;
  for (let j = 0; j < classes; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += kernelGrad[j * n + k] ** 2;
    if (s > bestNorm) {
      bestNorm = s;
      best = j;
    }
  }
  const scale = bestNorm > 0 ? 1 / Math.sqrt(bestNorm) : 0;
  const c = new Float64Array(classes);
  for (let j = 0; j < classes; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += kernelGrad[j * n + k] * kernelGrad[best * n + k];
    c[j] = s * scale;
  }
  return c;
}

/**
 * δz_L of a last layer without bias (docs/algorithm.md §3.1, our derivation): the layer input is x = t·r̂ with r̂ the
 * unit row direction oriented so that the true-class row is a negative multiple of x, and the scale t > 0 solves
 * softmax(t·W r̂ + b) − e_y = G r̂ / t (b: the layer's bias values when it has one but its gradient was not
 * shared). Found by a log-spaced scan and golden-section refinement.
 */
export function logitsDeltaWithoutBias(kernelGrad: Float64Array, W: Float64Array, classes: number, label: number, bias?: Float64Array): Float64Array {
  const n = kernelGrad.length / classes;
  const rowY = kernelGrad.subarray(label * n, (label + 1) * n);
  let norm = 0;
  for (let k = 0; k < n; k++) norm += rowY[k] * rowY[k];
  norm = Math.sqrt(norm);
  if (norm === 0) return new Float64Array(classes);
  const rHat = new Float64Array(n);
  for (let k = 0; k < n; k++) rHat[k] = -rowY[k] / norm;
  const Wr = new Float64Array(classes);
  const Gr = new Float64Array(classes);
  for (let j = 0; j < classes; j++) {
    let a = 0;
    let b = 0;
    for (let k = 0; k < n; k++) {
      a += W[j * n + k] * rHat[k];
      b += kernelGrad[j * n + k] * rHat[k];
    }
    Wr[j] = a;
    Gr[j] = b;
  }
  const mismatch = (logT: number): number => {
    const t = Math.exp(logT);
    const p = softmax(Wr.map((v, j) => v * t + (bias ? bias[j] : 0)));
    // Relative mismatch: for t → ∞ both sides vanish when the label is the predicted class, a spurious root.
    let s = 0;
    let scale = 0;
    for (let j = 0; j < classes; j++) {
      const fromSoftmax = p[j] - (j === label ? 1 : 0);
      const fromGradient = Gr[j] / t;
      s += (fromSoftmax - fromGradient) ** 2;
      scale += fromSoftmax * fromSoftmax + fromGradient * fromGradient;
    }
    return scale > 0 ? s / scale : 1;
  };
  let bestLog = 0;
  let bestValue = Infinity;
  for (let logT = -20; logT <= 20; logT += 0.05) {
    const v = mismatch(logT);
    if (v < bestValue) {
      bestValue = v;
      bestLog = logT;
    }
  }
  let lo = bestLog - 0.05;
  let hi = bestLog + 0.05;
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 200 && hi - lo > 1e-15; it++) {
    const a = hi - phi * (hi - lo);
    const b = lo + phi * (hi - lo);
    if (mismatch(a) < mismatch(b)) hi = b;
    else lo = a;
  }
  const t = Math.exp((lo + hi) / 2);
  return Gr.map((v) => v / t);
}

export function softmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]);
  const p = new Float64Array(z.length);
  let s = 0;
  for (let i = 0; i < z.length; i++) {
    p[i] = Math.exp(z[i] - max);
    s += p[i];
  }
  for (let i = 0; i < z.length; i++) p[i] /= s;
  return p;
}

function argmin(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] < values[best]) best = i;
  return best;
}
