// The hybrid method's correction step (docs/algorithm.md §5.6): starting from the closed-form estimate x⁰ of a unit's
// input, minimise
//   J(x) = w_cos Σ_θ (1 − cos(∂ℓ/∂θ|_x, G_θ)) + w_tv TV(x) + w_ls r(x) + w_n xᵀx
// over x with Adam, where ∂ℓ/∂θ|_x comes from the sub-network from that unit to the logits and θ runs over the
// kernel and bias tensors of every conv/dense unit in it. ∂J/∂x needs the gradient of a gradient: the sub-network's
// hand-written second-order sweep (network/subNetwork.ts) gives ∂/∂x Σ ⟨c_θ, ∂ℓ/∂θ⟩ for the cosine cotangents c_θ.
import type { AttackNetwork } from './network/attackNetwork';
import { AttackSetupError } from './network/setupError';
import type { SubNetwork, SubNetworkWorkspace } from './network/subNetwork';
import type { SharedGradients } from './types';

export interface RefineSettings {
  iterations: number;
  learningRate: number;
  wCos: number;
  wTv: number;
  wLs: number;
  wNorm: number;
}

/** §5.6 table, by conv index counted from the input (0 = first conv). Adam lr 1e-3 as in the hybrid code. */
export function defaultRefineSettings(convIndexFromInput: number): RefineSettings {
  if (convIndexFromInput <= 0) return { iterations: 10000, learningRate: 1e-3, wCos: 1, wTv: 1, wLs: 0.05, wNorm: 0 };
  if (convIndexFromInput === 1) return { iterations: 8000, learningRate: 1e-3, wCos: 1, wTv: 1, wLs: 0.1, wNorm: 0 };
  return { iterations: 1000, learningRate: 1e-3, wCos: 10, wTv: 0.1, wLs: 1, wNorm: 0 };
}

/** A caller-owned term r(x) (typically the layer's stacked system ‖U x − V‖²) and its gradient. */
export interface LinearResidual {
  value(x: Float64Array): number;
  /** Writes ∂r/∂x into `out` (overwrites it). */
  gradient(x: Float64Array, out: Float64Array): void;
}

export interface RefineOptions {
  linear?: LinearResidual;
  /** Stop when Date.now() passes this time (ms). */
  deadline?: number;
  signal?: AbortSignal;
  onIteration?: (iteration: number, objective: number) => void;
}

export interface RefineResult {
  /** The best iterate seen (lowest J). */
  x: Float64Array;
  /** Adam steps taken. */
  iterations: number;
  objectiveBefore: number;
  objectiveAfter: number;
  stoppedBy: 'iterations' | 'time' | 'cancelled';
}

/** The terms of J at one point, for reports and tests. */
export interface ObjectiveTerms {
  total: number;
  /** Σ_θ (1 − cos), unweighted. */
  cosine: number;
  tv: number;
  linear: number;
  norm: number;
}

const COSINE_EPS = 1e-10;

/** J(x) of one unit, with its gradient; buffers are reused across calls. */
export class GradientMatchingObjective {
  readonly sub: SubNetwork;
  readonly size: number;
  private readonly ws: SubNetworkWorkspace;
  private readonly targets: { unitId: string; kernel: Float64Array; bias?: Float64Array }[];
  private readonly cotangents: SharedGradients = new Map();
  private readonly scratch: Float64Array;

  constructor(
    net: AttackNetwork,
    readonly unitId: string,
    shared: SharedGradients,
    readonly label: number,
    readonly weights: Pick<RefineSettings, 'wCos' | 'wTv' | 'wLs' | 'wNorm'>,
    readonly linear?: LinearResidual,
  ) {
    this.sub = net.subNetwork(unitId);
    this.size = this.sub.inputSize;
    this.ws = this.sub.createWorkspace();
    this.scratch = new Float64Array(this.size);
    this.targets = this.sub.parameterUnits.map((id) => {
      const g = shared.get(id);
      if (!g) throw new AttackSetupError(`gradient matching from ${unitId}: no shared gradient for ${id}`, id);
      const own = this.ws.gradients.get(id)!;
      if (g.kernel.length !== own.kernel.length)
        throw new AttackSetupError(`shared kernel gradient of ${id} has ${g.kernel.length} entries, expected ${own.kernel.length}`, id);
      // A bias the client did not share simply does not enter the sum.
      const bias = g.bias && own.bias && g.bias.length === own.bias.length ? g.bias : undefined;
      this.cotangents.set(id, { kernel: new Float64Array(own.kernel.length), bias: bias ? new Float64Array(bias.length) : undefined });
      return { unitId: id, kernel: g.kernel, bias };
    });
  }

  value(x: Float64Array): number {
    return this.terms(x).total;
  }

  terms(x: Float64Array): ObjectiveTerms {
    this.sub.lossAndGradients(x, this.label, this.ws);
    let cosine = 0;
    for (const t of this.targets) {
      const own = this.ws.gradients.get(t.unitId)!;
      cosine += 1 - cosineSimilarity(own.kernel, t.kernel);
      if (t.bias) cosine += 1 - cosineSimilarity(own.bias!, t.bias);
    }
    const tv = this.weights.wTv !== 0 ? totalVariation(x, this.sub.inputImageShape, undefined) : 0;
    const linear = this.linear && this.weights.wLs !== 0 ? this.linear.value(x) : 0;
    const norm = this.weights.wNorm !== 0 ? dot(x, x) : 0;
    const w = this.weights;
    return { total: w.wCos * cosine + w.wTv * tv + w.wLs * linear + w.wNorm * norm, cosine, tv, linear, norm };
  }

  /** J(x), with ∂J/∂x written into `grad`. */
  valueAndGradient(x: Float64Array, grad: Float64Array): number {
    const w = this.weights;
    this.sub.lossAndGradients(x, this.label, this.ws);
    let cosine = 0;
    for (const t of this.targets) {
      const own = this.ws.gradients.get(t.unitId)!;
      const c = this.cotangents.get(t.unitId)!;
      // c_θ = ∂J/∂g_θ = −w_cos ∂cos/∂g_θ
      cosine += 1 - cosineWithGradient(own.kernel, t.kernel, -w.wCos, c.kernel);
      if (t.bias) cosine += 1 - cosineWithGradient(own.bias!, t.bias, -w.wCos, c.bias!);
    }
    grad.fill(0);
    if (w.wCos !== 0) this.sub.gradientOfParameterGradients(this.ws, this.cotangents, grad);
    let total = w.wCos * cosine;
    if (w.wTv !== 0) total += w.wTv * totalVariation(x, this.sub.inputImageShape, { weight: w.wTv, grad });
    if (this.linear && w.wLs !== 0) {
      total += w.wLs * this.linear.value(x);
      this.linear.gradient(x, this.scratch);
      for (let k = 0; k < grad.length; k++) grad[k] += w.wLs * this.scratch[k];
    }
    if (w.wNorm !== 0) {
      total += w.wNorm * dot(x, x);
      for (let k = 0; k < grad.length; k++) grad[k] += 2 * w.wNorm * x[k];
    }
    return total;
  }
}

/**
 * The correction step: Adam on x from x0 (PyTorch defaults β = (0.9, 0.999), ε = 1e-8), returning the iterate with
 * the lowest J. Deterministic; stops after `settings.iterations` steps, at the deadline, or when the signal aborts.
 */
export function refineLayerInput(
  net: AttackNetwork,
  unitId: string,
  x0: Float64Array,
  shared: SharedGradients,
  label: number,
  settings: RefineSettings,
  options: RefineOptions = {},
): RefineResult {
  const objective = new GradientMatchingObjective(net, unitId, shared, label, settings, options.linear);
  const n = objective.size;
  if (x0.length !== n) throw new RangeError(`refineLayerInput(${unitId}): x0 has ${x0.length} entries, expected ${n}`);
  const x = x0.slice();
  const grad = new Float64Array(n);
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  const lr = settings.learningRate;

  const objectiveBefore = objective.valueAndGradient(x, grad);
  let best = objectiveBefore;
  const bestX = x.slice();
  let stoppedBy: RefineResult['stoppedBy'] = 'iterations';
  let iterations = 0;
  let beta1Power = 1;
  let beta2Power = 1;
  while (iterations < settings.iterations) {
    if (options.signal?.aborted) {
      stoppedBy = 'cancelled';
      break;
    }
    if (options.deadline !== undefined && Date.now() >= options.deadline) {
      stoppedBy = 'time';
      break;
    }
    iterations++;
    beta1Power *= beta1;
    beta2Power *= beta2;
    const stepSize = lr / (1 - beta1Power);
    const biasCorrection2 = Math.sqrt(1 - beta2Power);
    for (let k = 0; k < n; k++) {
      const g = grad[k];
      m[k] = beta1 * m[k] + (1 - beta1) * g;
      v[k] = beta2 * v[k] + (1 - beta2) * g * g;
      x[k] -= (stepSize * m[k]) / (Math.sqrt(v[k]) / biasCorrection2 + eps);
    }
    const value = objective.valueAndGradient(x, grad);
    if (!Number.isFinite(value)) break; // keep the best finite iterate
    if (value < best) {
      best = value;
      bestX.set(x);
    }
    options.onIteration?.(iterations, value);
  }
  return { x: bestX, iterations, objectiveBefore, objectiveAfter: best, stoppedBy };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k] * b[k];
  return s;
}

/** cos(g, t) = ⟨g, t⟩ / max(‖g‖‖t‖, eps). */
export function cosineSimilarity(g: Float64Array, t: Float64Array): number {
  const { gt, gg, tt } = products(g, t);
  return gt / Math.max(Math.sqrt(gg * tt), COSINE_EPS);
}

function products(g: Float64Array, t: Float64Array): { gt: number; gg: number; tt: number } {
  let gt = 0;
  let gg = 0;
  let tt = 0;
  for (let k = 0; k < g.length; k++) {
    gt += g[k] * t[k];
    gg += g[k] * g[k];
    tt += t[k] * t[k];
  }
  return { gt, gg, tt };
}

/** cos(g, t), writing scale · ∂cos/∂g into `out`. */
function cosineWithGradient(g: Float64Array, t: Float64Array, scale: number, out: Float64Array): number {
  const { gt, gg, tt } = products(g, t);
  const normProduct = Math.sqrt(gg * tt);
  if (normProduct <= COSINE_EPS) {
    const s = scale / COSINE_EPS;
    for (let k = 0; k < g.length; k++) out[k] = s * t[k];
    return gt / COSINE_EPS;
  }
  const cos = gt / normProduct;
  const a = scale / normProduct;
  const b = (scale * cos) / gg;
  for (let k = 0; k < g.length; k++) out[k] = a * t[k] - b * g[k];
  return cos;
}

/**
 * Anisotropic mean-absolute total variation on x as [C, H, W] (§5.6):
 * mean|x[:, :, 1:] − x[:, :, :−1]| + mean|x[:, 1:, :] − x[:, :−1, :]|; 0 for a flat input. Adds weight · ∂TV/∂x
 * (sign subgradient, 0 at ties) into `acc.grad` when given.
 */
export function totalVariation(x: Float64Array, shape: [number, number, number] | undefined, acc: { weight: number; grad: Float64Array } | undefined): number {
  if (!shape) return 0;
  const [C, H, W] = shape;
  let tv = 0;
  if (W > 1) {
    const count = C * H * (W - 1);
    const g = acc ? acc.weight / count : 0;
    let sum = 0;
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < H; i++) {
        const row = (c * H + i) * W;
        for (let j = 0; j < W - 1; j++) {
          const d = x[row + j + 1] - x[row + j];
          sum += Math.abs(d);
          if (acc && d !== 0) {
            const s = d > 0 ? g : -g;
            acc.grad[row + j + 1] += s;
            acc.grad[row + j] -= s;
          }
        }
      }
    }
    tv += sum / count;
  }
  if (H > 1) {
    const count = C * (H - 1) * W;
    const g = acc ? acc.weight / count : 0;
    let sum = 0;
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < H - 1; i++) {
        const row = (c * H + i) * W;
        for (let j = 0; j < W; j++) {
          const d = x[row + W + j] - x[row + j];
          sum += Math.abs(d);
          if (acc && d !== 0) {
            const s = d > 0 ? g : -g;
            acc.grad[row + W + j] += s;
            acc.grad[row + j] -= s;
          }
        }
      }
    }
    tv += sum / count;
  }
  return tv;
}
