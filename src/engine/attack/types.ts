// Types shared by the reconstruction attack (docs/algorithm.md §5): the executable network, the shared gradients,
// and the report of one attack. The engine fills them; the CLI, the worker and the webview only read them.
import type { Shape } from '../ir';

/** Gradients one client shares after one training step, per unit of the analysis graph (BN folded into the unit). */
export interface UnitGradients {
  /** ∂ℓ/∂W of the unit's effective kernel (conv OIHW, dense [out, in]). */
  kernel: Float64Array;
  /** ∂ℓ/∂b of the unit's effective bias; absent when the unit has no bias. */
  bias?: Float64Array;
}

export type SharedGradients = Map<string /* unit id */, UnitGradients>;

/** One forward pass in float64: every unit's pre-activation and output, in the engine's NCHW flat layout. */
export interface ForwardTrace {
  input: Float64Array;
  /** Per unit id: the affine output z (before the unit's activation; equal to `output` when there is none). */
  preActivation: Map<string, Float64Array>;
  /** Per unit id: the unit's output (after its activation). */
  output: Map<string, Float64Array>;
  logits: Float64Array;
}

/** Result of the simulated training step (softmax cross-entropy with a one-hot label). */
export interface TrainingStep {
  loss: number;
  probabilities: Float64Array;
  gradients: SharedGradients;
  /** δz per unit id (∂ℓ/∂ pre-activation), for tests and for the per-layer report. */
  preActivationGrad: Map<string, Float64Array>;
}

/** How an image in [0,1] becomes the model input: x_model = (x − mean[c]) / std[c]. */
export interface InputNormalization {
  mean: number[];
  std: number[];
}

export type LayerSolveMethod =
  | 'fc-closed-form' // x = Gᵀ δz / ‖δz‖² (docs/algorithm.md §3.1)
  | 'gradient-blocks' // the gradient rows alone, one pivoted QR per stride residue class (K has no null space)
  | 'dense-lstsq' // minimum-norm least squares with a pivoted QR of the stacked system
  | 'banded-forward' // LSQR preconditioned by a band Cholesky factor of W_opᵀ W_op (forward rows of full column rank)
  | 'null-space-lsqr' // the gradient rows exactly, LSQR for the forward rows over null(K)
  | 'lsqr' // matrix-free LSQR on the row-equilibrated [K(δz); W_op]
  | 'lsqr-forward' // matrix-free LSQR on the forward rows alone, accepted when it also satisfies the gradient rows
  | 'avg-pool-lstsq'; // forward rows only (a parameter-free linear map)

export interface AttackLayerResult {
  unitId: string;
  name: string;
  kind: 'conv' | 'dense' | 'avgPool';
  method: LayerSolveMethod;
  unknowns: number;
  /** Rows of the stacked system actually used (gradient rows + forward rows kept). */
  equations: number;
  /** Numerical rank of the stacked system (dense path only). */
  rank?: number;
  /** ‖U x̂ − V‖ / ‖V‖. */
  relativeResidual: number;
  /** LSQR: iterations and its condition estimate. */
  iterations?: number;
  conditionEstimate?: number;
  /** ‖x̂ − x‖/‖x‖ against the true layer input (only when the attacker's test harness knows it). */
  relativeError?: number;
  /** Gradient-matching correction of this layer, when it ran. */
  refinement?: {
    iterations: number;
    seconds: number;
    relativeErrorBefore?: number;
    relativeErrorAfter?: number;
    objectiveBefore: number;
    objectiveAfter: number;
  };
  seconds: number;
}

export interface ImageQuality {
  mse: number;
  /** 10·log10(1/MSE) on [0,1] images; Infinity when identical. */
  psnr: number;
  /** The "255 on [0,1]" value some papers print (psnr + 48.13 dB); compatibility only. */
  psnr255: number;
  ssim: number;
  /** The same three after clipping the reconstruction to [0,1] (what is displayed). */
  clipped: { mse: number; psnr: number; ssim: number };
}

/**
 * How the attack rebuilds an image (docs/gradient-graph.md): the closed-form recursion (R-GAP/COPA), gradient matching
 * (Inverting Gradients) from noise, or the hybrid (the closed form down to where it stops or falls short, then
 * gradient matching from its image). `auto`: the closed form where it determines the image, else the hybrid and
 * gradient matching from noise, the lower gradient-matching objective winning.
 */
export type AttackMethod = 'auto' | 'closed-form' | 'gradient-matching' | 'hybrid';
export const ATTACK_METHODS: readonly AttackMethod[] = ['auto', 'closed-form', 'gradient-matching', 'hybrid'];

/** The method that produced an image's reconstruction. */
export type ReconstructionMethod = Exclude<AttackMethod, 'auto'>;

/** Gradient matching on one image (Inverting Gradients on the native runtime). */
export interface GradientMatchingRun {
  /** Adam steps, over all runs. */
  iterations: number;
  /** Runs begun: restarts from noise, plus the run from the closed form's image (hybrid). */
  runs: number;
  /** 'time': the attack's time budget ended it before the iterations (the best iterate is kept). */
  stoppedBy: 'iterations' | 'time';
  /** The objective 1 − cos(∇θℓ(x), G) + w_tv·TV(x) of the reconstruction reported (the score of `auto`). */
  loss: number;
  /** The objective of the closed form's image, when it was one of the starts. */
  closedFormLoss?: number;
  /** Where the winning run started. */
  start: 'noise' | 'closed-form';
  seconds: number;
  /** The objective of the winning run, every `curveStride` steps (the loss curve). */
  curve: number[];
  curveStride: number;
}

/** What the optimiser reports while it runs (progress messages carry it to the webview and the CLI). */
export interface MatchingProgress {
  image: string;
  /** The run (0-based) and how many there are; the run that starts from the closed form's image is `hybrid`. */
  run: number;
  runs: number;
  start: 'noise' | 'closed-form';
  iteration: number;
  iterations: number;
  loss: number;
  /** The current iterate as a small PNG (at most 64×64), when the caller asked for previews. */
  preview?: { width: number; height: number; png: Uint8Array };
}

export interface AttackImageResult {
  image: string;
  /** Label used for the simulated training step (given or chosen). */
  label: number;
  recoveredLabel: number;
  labelRule: 'bias' | 'row-sum' | 'row-sign';
  labelRecovered: boolean;
  loss: number;
  /** Units solved, from the output back to the input. */
  layers: AttackLayerResult[];
  /** Whether a reconstruction of the image exists: the closed form reached it, or gradient matching rebuilt it. */
  reachedInput: boolean;
  /** The method whose reconstruction is reported (absent when none reached the image). */
  method?: ReconstructionMethod;
  /** Where the closed-form recursion stopped, and why (also when gradient matching then rebuilt the image). */
  stoppedAt?: { unitId: string; reason: string };
  /** Gradient matching on this image, when it ran. */
  gradientMatching?: GradientMatchingRun;
  /** Image quality on [0,1] after undoing the input normalisation (absent when the input was not reached). */
  quality?: ImageQuality;
  /** ‖x̂ − x‖/‖x‖ in the model's input space. */
  relativeError?: number;
  /** `matching`: gradient matching (absent in reports written before it existed). */
  seconds: { forward: number; gradients: number; labels: number; solve: number; refine: number; matching?: number; total: number };
  /** PNG files written for this image, relative to the report folder. */
  files?: { original: string; reconstructed: string; sideBySide: string };
}

export interface AttackReport {
  file: string;
  /** [C, H, W] of the model input. */
  inputShape: Shape;
  normalization: InputNormalization;
  gradientsFrom: 'simulated' | 'safetensors';
  /** The method asked for (absent in reports written before there was a choice: the closed form). */
  method?: AttackMethod;
  refine: boolean;
  /**
   * The gradient-matching settings, when the method uses it; `unavailable` says why it could not run (no native
   * runtime, e.g. in an untrusted workspace), and then no image was rebuilt by it.
   */
  gradientMatching?: { iterations: number; restarts: number; tvWeight: number; learningRate: number; unavailable?: string };
  images: AttackImageResult[];
  /** One sentence: did the attack give the images back? */
  verdict: string;
  /** Cross-check of the engine's float64 forward pass against onnxruntime-node (ONNX models, trusted runs). */
  runtimeCheck?: { runtime: string; maxAbsDifference: number; tensorsCompared: number };
  warnings: string[];
}
