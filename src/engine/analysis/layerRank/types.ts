// Results and options of the per-layer rank analysis (docs/algorithm.md §4.1, §4.2, §7).

/** How the rank of U (hence the deficiency) was obtained. */
export type RankMethod = 'dense' | 'structured' | 'bound';

/** Where one reported rank comes from: computed numerically, a structural bound/estimate, or exact by structure. */
export type RankSource = 'numeric' | 'bound' | 'exact';

export interface LayerRankBounds {
  /** §4.2 effect 2: stride-lattice upper bound on rank K, C_in·Σ_{ρ,γ} min(C_out/g·n_a(ρ)n_b(γ), R_ρ Q_γ). */
  latticeRankK: number;
  /**
   * §4.2 effect 3: generic dim(row K ∩ row W_op), Σ_groups (C_out/g)² − (C_out/g − min(C_out/g, C_in/g·k_h k_w))·(C_out/g − min(C_out/g, H_o W_o))
   * with every row kept; with dropped rows only the identities among kept rows count (see crossDependency()).
   */
  crossDependency: number;
  /** Upper bound on rank W_op: Σ_groups min(kept rows, n_cov) of the group. */
  rankWUpper: number;
  /** Upper bound on rank U: Σ_groups min(n_cov/g, latticeRankK/g + rankWUpper/g). */
  rankUUpper: number;
  /** Empirical closed form (§4.2): Σ_groups min(n_cov, rK + rW − min(D, rK, rW)), using the reported rank K and rank W. */
  closedFormRankU: number;
  /** n_x − closedFormRankU. */
  closedFormDeficiency: number;
}

export interface LayerRankTolerance {
  /** max(m, n)·ε₆₄ for U (m = n_w + n_z, n = n_x): the relative factor of the rank test. */
  relative: number;
  /** σ_max estimate of K(δz) (0 when not computed). */
  sigmaK: number;
  /** σ_max estimate of W_op (0 when not computed). */
  sigmaW: number;
  /** σ_max estimate of Û = [K/σ_K; W_op/σ_W] (between 1 and √2). */
  sigmaU: number;
  /** Absolute thresholds on the scaled matrices: max(m,n)·ε·σ̂ for K̂, Ŵ and Û. */
  absK: number;
  absW: number;
  absU: number;
}

export interface LayerRankResult {
  /** Layer type. */
  kind: 'conv' | 'fullyConnected';
  /** n_x: unknowns (input entries). */
  nX: number;
  /** n_z: forward equations = kept forward rows (all output entries unless `activeOutputs` drops some). */
  nZ: number;
  /** Forward rows dropped by `activeOutputs` (inactive ReLU units, z unknown); nZ + nZDropped = output entries. */
  nZDropped: number;
  /** n_w: gradient equations (weight entries, bias excluded). */
  nW: number;
  /** Bias entries (C_out or m when the layer has a bias, else 0); they carry no information on x. */
  nBias: number;
  /** r_naive = n_x − n_w − n_z (§4.1): > 0 ⇒ certainly under-determined; ≤ 0 proves nothing. */
  naive: number;
  /**
   * Input entries no window touches (§4.2 effect 1), or only windows of dropped units: zero columns of K and the
   * kept W_op rows, unrecoverable from this layer.
   */
  uncoveredPixels: number;
  /** n_cov = n_x − uncoveredPixels. */
  nCovered: number;
  /** rank K(δz): independent gradient equations. */
  rankK: number;
  /** rank W_op: independent forward equations. */
  rankW: number;
  /** rank U = rank [K; W_op]: independent equations of the layer system. */
  rankU: number;
  /** d = n_x − rank U (0 ⇔ the layer's input is determined by its gradient and output). */
  deficiency: number;
  /** Source of each rank: numeric, structural bound/estimate, or exact by structure. */
  rankSource: { K: RankSource; W: RankSource; U: RankSource };
  /** Structural bounds and the closed-form estimate (always filled). */
  bounds: LayerRankBounds;
  /** How rank U was obtained: explicit dense QRCP of U, the structured decomposition, or bounds only. */
  method: RankMethod;
  /** Tolerances actually used. */
  tolerance: LayerRankTolerance;
  /**
   * True when some rank decision had no clear gap between kept and dropped pivots: the operator is numerically
   * ill-conditioned (e.g. single-channel/depthwise 2-D convolutions) and its numerical rank depends on the tolerance.
   */
  fragile: boolean;
  /** Approximate floating-point operations spent on norms and factorisations (QRCP charged ×3). */
  flops: number;
  /** Wall-clock seconds of the whole computation. */
  seconds: number;
  /** Budget fallbacks and other remarks, one line each. */
  notes: string[];
}

export interface LayerRankOptions {
  /** Kernel (OIHW for conv, [out, in] for fully connected), or a loader called only if a numerical path runs. Default: N(0,1) surrogate from `seed`. */
  weights?: Float64Array | (() => Float64Array | undefined);
  /** δz = ∂ℓ/∂z (output-shaped; must be 0 on units dropped by `activeOutputs`). Default: N(0,1) surrogate from `seed`, 0 on dropped units. */
  outputGradient?: Float64Array;
  /**
   * Output units whose forward row is kept (length n_z, NCHW; non-zero = kept). ReLU (R-CONV, §5.5): z is known
   * only where x_{i+1} > 0, and δz = 0 elsewhere. Default: every row kept.
   */
  activeOutputs?: Uint8Array;
  /** PRNG seed of the surrogates (default 1). */
  seed?: number;
  /** Whether the layer has a bias (only reported as nBias). Default false. */
  hasBias?: boolean;
  /** Flop budget for the whole layer (default 1.2e10 ≈ a few seconds in V8). */
  maxFlops?: number;
  /** Memory budget for any single dense/sparse work array (default 256 MiB). */
  maxDenseBytes?: number;
  /** 'auto' (default): dense QRCP of U for small layers, else structured; or force one path. */
  method?: 'auto' | RankMethod;
  /** In 'auto', use the dense path when its estimated cost is below this (default 2e8 flops). */
  denseThresholdFlops?: number;
}

export const DEFAULT_MAX_FLOPS = 1.2e10;
export const DEFAULT_MAX_DENSE_BYTES = 256 * 1024 * 1024;

/** Structural counts and bounds of a convolution layer (fields as in LayerRankResult). */
export type ConvRankBounds = Pick<LayerRankResult, 'nX' | 'nZ' | 'nZDropped' | 'nW' | 'naive' | 'uncoveredPixels' | 'nCovered' | 'bounds'>;
