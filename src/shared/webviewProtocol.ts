// Messages between the extension host and the reconstruction webview. Type-only: both sides import it, neither
// bundles anything from the other. The webview gets display-ready data only (never the model, never file paths):
// images as webview resource URIs under the extension's storage folder.

export interface ViewLayer {
  name: string;
  kind: string;
  /** ‖U x̂ − V‖ / ‖V‖ of the layer's solve. */
  relativeResidual: number;
  /** ‖x̂ − x‖/‖x‖ against the true layer input, when known. */
  relativeError?: number;
}

/** How an image's reconstruction was made (the attack's methods, docs/gradient-graph.md). */
export type ViewMethod = 'closed-form' | 'gradient-matching' | 'hybrid';

/** Gradient matching on one image, as the view shows it. */
export interface ViewMatching {
  /** Adam steps over all runs, and how many runs. */
  iterations: number;
  runs: number;
  /** The objective of the reconstruction, and of the winning run every `curveStride` steps. */
  loss: number;
  curve: number[];
  curveStride: number;
  seconds: number;
  /** The time budget ended it early. */
  cutShort: boolean;
}

/** Gradient matching while it runs: where it is, its loss so far, and the current image. */
export interface ViewLive {
  image: string;
  /** 0-based run of `runs`; a run from the closed form's image is the hybrid's. */
  run: number;
  runs: number;
  start: 'noise' | 'closed-form';
  iteration: number;
  iterations: number;
  loss: number;
  /** [step, loss] of this run so far (one point per progress message). */
  points: [number, number][];
  /** The current iterate as a data: URI (a small PNG). */
  previewSrc?: string;
}

export interface ViewImage {
  name: string;
  label: number;
  recoveredLabel: number;
  labelRecovered: boolean;
  reachedInput: boolean;
  /** The method whose reconstruction is shown. */
  method?: ViewMethod;
  /** Where the closed form stopped (gradient matching may still have rebuilt the image). */
  stoppedReason?: string;
  matching?: ViewMatching;
  /** Wall-clock seconds of the whole attack on this image. */
  seconds: number;
  /** Of the clipped reconstruction (what is displayed); PSNR in dB, null for identical images. */
  psnr?: number | null;
  ssim?: number;
  originalSrc?: string;
  reconstructedSrc?: string;
  layers: ViewLayer[];
}

export type ViewPhase = 'idle' | 'running' | 'done' | 'failed' | 'cancelled' | 'restricted';

export interface ViewState {
  /** The model's URI (string) — also what the serializer needs to restore the panel. */
  model: string;
  modelName: string;
  /**
   * Set when the attack takes gradients a client shared (Reconstruct from Shared Gradients) instead of simulating a
   * step: the .safetensors file and the image to measure against, as URIs (what the serializer needs), and their names.
   */
  shared?: { gradients: string; gradientsName: string; image?: string; imageName?: string };
  phase: ViewPhase;
  /** The method asked for (the setting leaklint.attack.method). */
  method?: string;
  progress?: { done: number; total: number; label: string };
  /** Gradient matching in progress (phase running). */
  live?: ViewLive;
  verdict?: string;
  images?: ViewImage[];
  warnings?: string[];
  /** One line shown for phases failed, cancelled and restricted. */
  message?: string;
}

/** One analysed layer in the ONNX custom editor's table (display strings, computed by the host). */
export interface TableRow {
  index: number;
  name: string;
  description: string;
  shapes: string;
  risk: number;
  severity: 'high' | 'medium' | 'low';
  status: string;
  ruleId: string;
  reason: string;
  unknowns: number;
  equations: string;
  ranks: string;
  deficiency: string;
  /** Rank of the gradients' Jacobian restricted to this layer's parameters ("27", "at least 128"), when measured. */
  jacobianRank?: string;
  fixes: string[];
}

export interface TableState {
  model: string;
  modelName: string;
  phase: 'analysing' | 'done' | 'failed';
  message?: string;
  /** The analysis the worker is running on this model (also while an older result is shown). */
  progress?: { done: number; total: number; label: string };
  summary?: {
    /** The verdict as every surface writes it ("HIGH risk (0.92)"), and its one-sentence headline. */
    verdict: string;
    severity: 'high' | 'medium' | 'low';
    headline: string;
    /** "n/a" where the closed-form chain does not reach the image. */
    copa: string;
    raIndex: string;
    format: string;
    weights: string;
    inputShape: string;
    coverage: string;
    /** "rank 251 of 3072 (exact, …)": the gradient-matching identifiability, when measured. */
    identifiability?: string;
    warnings: string[];
  };
  rows?: TableRow[];
  /** Index of the row to select; `reveal` changes each time the host asks to scroll it into view and focus it. */
  selected?: number;
  reveal?: number;
  /** Restricted Mode: no "Run attack", but why, and a link to manage trust. */
  trusted: boolean;
  restrictedReason?: string;
}

/** Which view a webview shows: the HTML shell names it in data-view, and the one bundle renders it. */
export type ViewKind = 'reconstructions' | 'layers';

export type HostToView = { type: 'state'; state: ViewState } | { type: 'table'; state: TableState };
export type ViewToHost =
  | { type: 'ready' }
  | { type: 'run' }
  | { type: 'cancel' }
  | { type: 'runAttack' }
  | { type: 'openLayerDocument' }
  | { type: 'manageTrust' }
  /** The layer table selected (and revealed) this row, by the user or at the host's request. */
  | { type: 'selected'; index: number }
  | { type: 'error'; message: string };
