// What the leakage analysis reports, per layer and per model. These types are the JSON report's schema
// (README "JSON report"); the CLI, the extension and the SARIF/Markdown writers all read them.
import type { ModelFormat, SourceLocation, Shape } from '../ir';
import type { ModelVerdict, Severity } from '../verdict/types';

/**
 * How much of a layer's input an attacker holding the gradients can solve for (docs/algorithm.md §4.6).
 * - determined: rank U = n_x and there are more equations than unknowns.
 * - exactly-determined: rank U = n_x with as many equations as unknowns.
 * - under-determined: rank U < n_x (deficiency > 0).
 * - chain-broken: the closed-form recursion cannot pass this layer (max pooling, training-mode normalisation,
 *   a non-invertible activation without an R-CONV route, an unsupported op); only gradient matching continues.
 * - not-analysed: the layer could not be analysed (unknown shapes, over every budget); never read as safe.
 */
export type LayerStatus = 'determined' | 'exactly-determined' | 'under-determined' | 'chain-broken' | 'not-analysed';

/** How the ranks were obtained: a dense/structured numerical factorisation, or only the structural bounds. */
export type RankMethod = 'numerical' | 'bound' | 'exact-count' | 'none';

export type { Severity } from '../verdict/types';

export interface LayerMetrics {
  /** Unknowns: entries of the layer input. */
  nX: number;
  /** Gradient equations: weight entries (bias excluded). */
  nW: number;
  /** Forward equations: entries of the pre-activation output (active units only for ReLU, see note). */
  nZ: number;
  /** Bias entries (their gradient carries no information on the input). */
  nBias: number;
  /** r_naive = nX − nW − nZ (docs/algorithm.md §4.1). */
  naive: number;
  /** Input entries that no window covers: unrecoverable from this layer. */
  uncovered: number;
  rankK: number | null;
  rankW: number | null;
  rankU: number | null;
  /** nX − rank U. */
  deficiency: number | null;
  rankMethod: RankMethod;
  /** Upper bounds used when no numerical rank was computed, or to cross-check it. */
  bounds?: { rankK?: number; rankU?: number; crossDependencies?: number };
  /** Virtual constraints entering this layer (R-GAP, docs/algorithm.md §3.5, §4.3). */
  virtualConstraints: number;
  /** Count-based RA_i (with virtual constraints). */
  raCount: number;
  /** Numerical RA_i: nX − rank U − n_v. */
  raNumerical: number | null;
  /** COPA weight (L−1−i)/(L−1) and term round(−d·weight) for parametric layers; null for others. */
  copaWeight: number | null;
  copaTerm: number | null;
}

export interface Fix {
  /** One line: what to change. */
  title: string;
  /** The changed layer parameter, e.g. { outChannels: 20 } or { strides: [2, 2] } or { addAvgPool: 2 }. */
  change: Record<string, unknown>;
  /** Metrics of the modified model, re-analysed by the engine. */
  after: { layerDeficiency: number | null; layerRisk: number; modelRisk: number; copa: number };
  before: { layerDeficiency: number | null; layerRisk: number; modelRisk: number; copa: number };
}

export interface LayerFinding {
  /** IR node id of the layer (for ReLU-/BN-folded layers, the conv/dense node). */
  nodeId: string;
  name: string;
  /** Op in plain words: "Conv 3x3/2, 36 filters", "Dense 3200→10", "MaxPool 2x2", ... */
  description: string;
  op: string;
  /** Position among analysed layers, from the input (0) to the output. */
  index: number;
  inputShape: Shape;
  outputShape: Shape;
  /** The activation that follows (as used for inversion), if any. */
  activation?: string;
  /** Nodes folded into this layer (BatchNormalization, bias Add, ...). */
  folded: string[];
  status: LayerStatus;
  metrics: LayerMetrics;
  /** Risk in [0, 1] that this layer's input is recovered (README "Risk score"). */
  risk: number;
  severity: Severity;
  /** Stable rule id (docs/rules.md), e.g. LL001. */
  ruleId: string;
  /** One plain sentence saying why. */
  reason: string;
  fixes: Fix[];
  location: SourceLocation;
  /** Files other than the model file that hold the layer's weights (TF.js shards, ONNX external data). */
  weightFiles?: string[];
}

export interface ModelMetrics {
  /**
   * R-GAP count-based RA-i: max over layers of RA_i (docs/algorithm.md §4.3). > 0: some layer under-determined. Null
   * when the closed-form chain does not reach the image (`notApplicable` says where it breaks; `partial` keeps values).
   */
  raIndexCount: number | null;
  /** Same recursion with rank U instead of the counts (null if some rank is missing, or not applicable). */
  raIndexNumerical: number | null;
  /** COPA index: Σ banker's-round(−d_i (L−1−i)/(L−1)), ≤ 0; 0 = every layer invertible. Null when not applicable. */
  copaIndex: number | null;
  copaUnrounded: number | null;
  /** Why COPA and RA-i are null: "not applicable: the closed-form chain is broken at <layer>". */
  notApplicable?: string;
  /** COPA and RA-i computed over the layers anyway, when they do not apply to the model. */
  partial?: { copaIndex: number; copaUnrounded: number; raIndexCount: number; raIndexNumerical: number | null };
  /** Node id of the first (closest to the output) deficient layer, or null. */
  firstDeficientLayer: string | null;
  /** The verdict's risk in [0, 1] that the training image is recovered from the gradients (`verdict` says why). */
  risk: number;
  /** The verdict's severity. */
  severity: Severity;
  /** The verdict about the training image, with its evidence and headline (docs/verdict.md). */
  verdict: ModelVerdict;
  /** How many layers were analysed numerically / by bounds / not at all. */
  coverage: { numerical: number; bound: number; notAnalysed: number; chainBroken: number };
}

export interface ModelReport {
  file: string;
  format: ModelFormat;
  inputShape: Shape;
  layers: LayerFinding[];
  model: ModelMetrics;
  /** Whose weights were analysed: the file's own values or Gaussian surrogates. */
  weights: 'file' | 'surrogate';
  /** The risk thresholds the severities were given with. */
  thresholds: { high: number; medium: number };
  warnings: string[];
  seconds: number;
}
