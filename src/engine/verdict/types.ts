// The verdict: one engine object per model about the training image, computed once and shown on every surface
// (docs/verdict.md). Its severity is the highest any kind of evidence gives; a model is low only when every kind of
// evidence LeakLint has says so.
/** How serious a finding is; the verdict's severity is the model's. */
export type Severity = 'high' | 'medium' | 'low';

/** Where the closed-form recursion stops or falls short on the image's path, and why. */
export interface ClosedFormStop {
  nodeId: string;
  name: string;
  kind: 'max-pooling' | 'global-pooling' | 'residual' | 'concatenation' | 'chain-broken' | 'not-analysed' | 'under-determined';
  /** Input dimensions the layer leaves undetermined (under-determined layers). */
  deficiency?: number;
  unknowns: number;
}

export type Evidence =
  /** The rank analysis (R-GAP/COPA): does the layer-by-layer closed form reach the image? */
  | {
      kind: 'closed-form';
      severity: Severity;
      /** The closed-form risk score (docs/algorithm.md §4.6). */
      risk: number;
      reachesImage: boolean;
      /** Where it stops or falls short on the image's path, closest to the output first. */
      stops: ClosedFormStop[];
    }
  /**
   * Gradient matching (DLG, Inverting Gradients): not blocked by the layers that stop the closed form. `static`: the
   * architecture rule (those layers are no defence); `jacobian-rank`: the rank of d(∇θ loss)/d(image) at a sample.
   */
  | {
      kind: 'gradient-matching';
      basis: 'static' | 'jacobian-rank';
      severity: Severity;
      risk: number;
      /** not-blocked: nothing stops it (static rule); full/partial: the Jacobian's rank. */
      identifiable: 'not-blocked' | 'full' | 'partial';
      /** The layer the closed form stops at, that gradient matching goes through. */
      layer?: { nodeId: string; name: string };
      rank?: JacobianRankEvidence;
    }
  /** A reconstruction attack LeakLint ran on this model (audit --attack, Show Reconstructions, attack). */
  | {
      kind: 'attack';
      method: string;
      outcome: 'rebuilt' | 'resisted' | 'stopped' | 'not-run';
      /** Only a rebuilt image sets a severity (high); a resisted attack never lowers one. */
      severity?: Severity;
      images: number;
      rebuilt: number;
      /** Best PSNR (dB; null for an exact reconstruction) and SSIM over the images, when measured. */
      bestPsnr?: number | null;
      bestSsim?: number;
      /** What the attack was given: "2000 iterations x 2 restarts", "closed form". */
      budget?: string;
      reason?: string;
    };

/** The rank of J = ∂(∇θ loss)/∂image at a sample image (src/engine/identifiability), as the reports show it. */
export interface JacobianRankEvidence {
  rank: number;
  unknowns: number;
  /** exact; lower-bound (a cap or the time budget came first: the rank is at least this). */
  method: 'exact' | 'lower-bound';
  /** Set when the rank is a centre patch's (a large image: the other pixels held known), not the whole image's. */
  patch?: { top: number; left: number; height: number; width: number };
  /** Jᵀu products used. */
  columns: number;
  /** The sample image and the simulated step's label it was taken at. */
  image: string;
  label: number;
  /** Which layers' gradients carry the image: the rank of J restricted to each layer's parameter block. */
  layers: { nodeId: string; name: string; parameters: number; rank: number; unknowns: number; method: 'exact' | 'lower-bound' }[];
}

export interface ModelVerdict {
  severity: Severity;
  /** In [0, 1]: the highest risk any kind of evidence gives. */
  risk: number;
  /** One sentence: what LeakLint concludes about the training image, and on what evidence. */
  headline: string;
  /** An attack LeakLint ran rebuilt a recognisable image. */
  proven: boolean;
  evidence: Evidence[];
}

/**
 * When a reconstruction counts as recognisable (docs/verdict.md): PSNR ≥ 18 dB or SSIM ≥ 0.5 on a sample image in
 * [0,1]. Measured on 32x32 classifiers, reconstructions above either line show the photo's content.
 */
export const RECOGNISABLE = { psnrDb: 18, ssim: 0.5 } as const;
