// The closed-form backward recursion (docs/algorithm.md §5.1): from the logits back to the image, each unit's input is
// rebuilt from its shared gradients and from what the unit after it gave back, then handed down as the output of
// the unit before. Chains of conv/dense units with invertible or ReLU-like activations, average pooling and
// flatten are solved; anything else stops the recursion with the reason.
import type { LayerGraph } from '../ir';
import { ConvOperator, FullyConnectedOperator } from '../numerics/convOperators';
import { convGeometry, type ConvGeometry } from '../numerics/convGeometry';
import type { Unit } from '../analysis/units';
import { activationMath, type ActivationMath } from './activationMath';
import { logitsDeltaWithoutBias, recoverLabel, type RecoveredLabel } from './labels';
import { solveAvgPool, solveConvLayer, solveDenseLayer, type LayerSolution } from './layerSolve';
import type { AttackNetwork } from './network/attackNetwork';
import { defaultRefineSettings, refineLayerInput, type RefineSettings } from './gradientMatching';
import type { AttackLayerResult, ForwardTrace, SharedGradients } from './types';

export interface ReconstructOptions {
  /** Known label (skips recovery when given; recovery still runs and is reported). */
  label?: number;
  /** Run the gradient-matching correction on conv layers (docs/algorithm.md §5.6). */
  refine?: boolean;
  /** Overrides of the §5.6 defaults (e.g. fewer iterations). */
  refineSettings?: (convIndexFromInput: number) => RefineSettings;
  /** Wall-clock budget of the whole refinement (ms). */
  refineBudgetMs?: number;
  /** The true forward pass, when the caller simulated the client (per-layer relative errors). */
  truth?: ForwardTrace;
  deadline?: number;
  signal?: AbortSignal;
  onLayer?: (done: number, total: number, label: string) => void;
}

export interface Reconstruction {
  recovered: RecoveredLabel;
  /** Label the recursion used (given or recovered). */
  label: number;
  layers: AttackLayerResult[];
  /** Estimate of the model input (present when the recursion reached it). */
  input?: Float64Array;
  stoppedAt?: { unitId: string; reason: string };
  seconds: { labels: number; solve: number; refine: number };
}

/** Folded IR ops that change nothing on the flat NCHW vector. */
const NEUTRAL_FOLDED_OPS = new Set(['flatten', 'reshape', 'dropout', 'identity', 'batchNorm', 'softmax', 'logSoftmax']);
/** Activations known to produce non-negative outputs (for the row-sum label rule). */
const NON_NEGATIVE_ACTIVATIONS = new Set(['relu', 'relu6', 'sigmoid', 'softplus', 'hardSigmoid']);

/** Wall-clock budget of the correction step per image when the caller gives none (ms). */
export const DEFAULT_REFINE_BUDGET_MS = 30_000;

/**
 * The first conv layer gets half of the correction budget: its input is the image, where the total-variation prior
 * means something; every minimum-norm layer solution already matches the gradients above it, so the hidden layers
 * gain less from the correction. The others share the other half.
 */
function refineDeadline(convIndex: number, convCount: number, budgetMs: number, hardDeadline: number | undefined): number {
  const share = convCount <= 1 ? 1 : convIndex === 0 ? 0.5 : 0.5 / (convCount - 1);
  const deadline = Date.now() + budgetMs * share;
  return hardDeadline !== undefined ? Math.min(deadline, hardDeadline) : deadline;
}

class ChainStop extends Error {
  constructor(
    readonly unitId: string,
    reason: string,
  ) {
    super(reason);
  }
}

// eslint-disable-next-line max-lines-per-function -- the closed-form recursion, one layer per turn of its loop; it is split when the hybrid attack (issue 10) reshapes it
export function reconstruct(net: AttackNetwork, shared: SharedGradients, options: ReconstructOptions = {}): Reconstruction {
  const graph = net.graph;
  const units = new Map(net.order.map((u) => [u.id, u]));
  const seconds = { labels: 0, solve: 0, refine: 0 };
  const layers: AttackLayerResult[] = [];
  const logits = net.logitsUnit;
  const convUnitsFromInput = net.order.filter((u) => u.kind === 'conv').map((u) => u.id);
  const chainLength = countChain(net, units);

  // 1. Label and δz of the logits (§5.2, §3.1).
  const t0 = performance.now();
  const recovered = recoverTrainingLabel(net, shared);
  const label = options.label ?? recovered.label;
  const lastGrad = shared.get(logits.id)!;
  const logitsDelta = lastGrad.bias ?? logitsDeltaWithoutBias(lastGrad.kernel, net.kernel(logits.id), net.classes, label);
  seconds.labels = (performance.now() - t0) / 1000;

  let unit: Unit = logits;
  let outputEstimate: Float64Array | undefined;
  let outputGrad: Float64Array = logitsDelta;
  let input: Float64Array | undefined;
  let stoppedAt: Reconstruction['stoppedAt'];
  let done = 0;
  try {
    for (;;) {
      checkFolded(graph, unit);
      const started = performance.now();
      const isLogits = unit === logits;
      let solution: LayerSolution;
      let inputGrad: Float64Array;
      let refineInfo: AttackLayerResult['refinement'] | undefined;
      const truthInput = options.truth ? net.unitInput(options.truth, unit.id) : undefined;
      options.onLayer?.(done, chainLength, `solving ${unit.name}`);
      if (unit.kind === 'dense' || unit.kind === 'conv') {
        const grads = shared.get(unit.id);
        if (!grads) throw new ChainStop(unit.id, `no shared gradient for ${unit.name}`);
        const W = net.kernel(unit.id);
        const b = net.bias(unit.id);
        let dz: Float64Array;
        let target: Float64Array | undefined;
        if (isLogits) {
          dz = outputGrad;
        } else {
          const math = activationOf(graph, unit);
          const channelSize = channelSizeOf(unit);
          dz = new Float64Array(outputGrad.length);
          target = new Float64Array(outputGrad.length);
          const activeFloor = reluActivityFloor(outputEstimate!);
          for (let k = 0; k < dz.length; k++) {
            const y = outputEstimate![k];
            const c = Math.floor(k / channelSize);
            const inactive = unit.activation?.route === 'rconv' && y <= activeFloor;
            const z = inactive ? NaN : math.inverse(y, c);
            dz[k] = inactive ? 0 : outputGrad[k] * math.derivativeFromOutput(y, c);
            target[k] = z - (b ? b[Math.floor(k / channelSize) % b.length] : 0);
          }
        }
        if (unit.kind === 'dense') {
          const op = new FullyConnectedOperator(unit.dense!.inFeatures, unit.dense!.outFeatures);
          solution = solveDenseLayer(op, grads.kernel, dz);
          inputGrad = op.forwardTranspose(W, dz);
        } else {
          if (!target) throw new ChainStop(unit.id, `${unit.name} produces the logits: the conv closed form needs its pre-activation`);
          const op = new ConvOperator(geometryOf(unit));
          solution = solveConvLayer(op, W, dz, grads.kernel, target, { deadline: options.deadline, signal: options.signal });
          inputGrad = op.forwardTranspose(W, dz);
          if (options.refine) {
            const r0 = performance.now();
            const index = convUnitsFromInput.indexOf(unit.id);
            const settings = (options.refineSettings ?? defaultRefineSettings)(index);
            const errBefore = truthInput ? relativeError(solution.x, truthInput) : undefined;
            const refined = refineLayerInput(net, unit.id, solution.x, shared, label, settings, {
              linear: convResidualTerm(op, W, dz, grads.kernel, target),
              deadline: refineDeadline(index, convUnitsFromInput.length, options.refineBudgetMs ?? DEFAULT_REFINE_BUDGET_MS, options.deadline),
              signal: options.signal,
            });
            const refineSeconds = (performance.now() - r0) / 1000;
            seconds.refine += refineSeconds;
            refineInfo = {
              iterations: refined.iterations,
              seconds: refineSeconds,
              objectiveBefore: refined.objectiveBefore,
              objectiveAfter: refined.objectiveAfter,
              relativeErrorBefore: errBefore,
              relativeErrorAfter: truthInput ? relativeError(refined.x, truthInput) : undefined,
            };
            solution = { ...solution, x: refined.x };
          }
        }
      } else if (unit.kind === 'avgPool') {
        const geom = poolGeometry(unit);
        const op = new ConvOperator(geom);
        const kernel = poolKernel(geom);
        solution = solveAvgPool(
          (x) => op.forward(kernel, x),
          (y) => op.forwardTranspose(kernel, y),
          geom.nX,
          outputEstimate!,
        );
        inputGrad = op.forwardTranspose(kernel, outputGrad);
      } else {
        throw new ChainStop(unit.id, stopReason(unit));
      }
      const layerSeconds = (performance.now() - started) / 1000;
      seconds.solve += layerSeconds - (refineInfo?.seconds ?? 0);
      layers.push({
        unitId: unit.id,
        name: unit.name,
        kind: unit.kind,
        method: solution.method,
        unknowns: solution.x.length,
        equations: solution.equations,
        rank: solution.rank,
        relativeResidual: solution.relativeResidual,
        iterations: solution.iterations,
        conditionEstimate: solution.conditionEstimate,
        relativeError: truthInput ? relativeError(solution.x, truthInput) : undefined,
        refinement: refineInfo,
        seconds: layerSeconds,
      });
      done++;
      options.onLayer?.(done, chainLength, `solved ${unit.name}`);

      if (unit.inputs.length === 0 && unit.readsModelInput) {
        if (hasInputPreprocessing(net)) throw new ChainStop(unit.id, 'the model transforms its input before the first layer (not inverted yet)');
        input = solution.x;
        break;
      }
      if (unit.inputs.length !== 1 || unit.readsModelInput) throw new ChainStop(unit.id, `${unit.name} reads more than one tensor: not a chain`);
      outputEstimate = solution.x;
      outputGrad = inputGrad;
      unit = units.get(unit.inputs[0])!;
    }
  } catch (e) {
    if (!(e instanceof ChainStop)) throw e;
    stoppedAt = { unitId: e.unitId, reason: e.message };
  }
  return { recovered, label, layers, input, stoppedAt, seconds };
}

/** The label of the training step from the last layer's shared gradients (§5.2); it must be a dense classifier. */
export function recoverTrainingLabel(net: AttackNetwork, shared: SharedGradients): RecoveredLabel {
  const logits = net.logitsUnit;
  const lastGrad = shared.get(logits.id);
  if (logits.kind !== 'dense' || !lastGrad) {
    throw new ChainStopError(logits.id, `the last layer (${logits.name}) is not fully connected: label recovery starts from a dense classifier`);
  }
  const lastInput = logits.inputs.length === 1 ? net.order.find((u) => u.id === logits.inputs[0]) : undefined;
  const nonNegative = lastInput?.activation ? NON_NEGATIVE_ACTIVATIONS.has(lastInput.activation.attrs.activation) : false;
  return recoverLabel(lastGrad.kernel, net.classes, lastGrad.bias, nonNegative);
}

/** Thrown when the attack cannot even start (no dense classifier at the end). */
export class ChainStopError extends Error {
  constructor(
    readonly unitId: string,
    message: string,
  ) {
    super(message);
    this.name = 'ChainStopError';
  }
}

function stopReason(unit: Unit): string {
  switch (unit.kind) {
    case 'maxPool':
      return `${unit.name}: max pooling breaks the closed-form chain (which inputs were selected is unknown)`;
    case 'residual':
      return `${unit.name}: residual additions are not solved in closed form yet`;
    case 'concat':
      return `${unit.name}: concatenations are not solved in closed form yet`;
    case 'passThrough':
      return `${unit.name} (${unit.sourceOp}): an activation after a non-parametric op (e.g. after a residual addition) is not inverted in closed form`;
    default:
      return `${unit.name} (${unit.sourceOp}): ${unit.note ?? 'not solvable in closed form'}`;
  }
}

function checkFolded(graph: LayerGraph, unit: Unit): void {
  for (const id of unit.folded) {
    if (id === unit.activation?.nodeId) continue;
    const node = graph.nodes.find((n) => n.id === id);
    if (node && !NEUTRAL_FOLDED_OPS.has(node.op)) {
      throw new ChainStop(unit.id, `${unit.name} is followed by ${node.sourceOp} (${node.name}), which the closed form does not invert yet`);
    }
  }
  if (unit.activation && unit.activation.route === 'broken') {
    throw new ChainStop(unit.id, `${unit.name}: ${unit.activation.attrs.activation} has no closed-form inverse`);
  }
}

/** Nodes between the model input and the first unit that are not plain permutations (e.g. x/255, x − mean). */
function hasInputPreprocessing(net: AttackNetwork): boolean {
  const inUnits = new Set<string>();
  for (const u of net.analysis.units) {
    inUnits.add(u.id);
    for (const f of u.folded) inUnits.add(f);
  }
  return net.graph.nodes.some((n) => !inUnits.has(n.id) && !NEUTRAL_FOLDED_OPS.has(n.op));
}

function activationOf(graph: LayerGraph, unit: Unit): ActivationMath {
  if (!unit.activation) return activationMath({ activation: 'linear' });
  const node = graph.nodes.find((n) => n.id === unit.activation!.nodeId);
  return activationMath(unit.activation.attrs, node?.weights.slope?.load());
}

function channelSizeOf(unit: Unit): number {
  const s = unit.outputShape.length === 4 ? unit.outputShape.slice(1) : unit.outputShape;
  return s.length >= 3 ? s[s.length - 2] * s[s.length - 1] : 1;
}

/** ReLU outputs that are zero up to rounding noise of the reconstruction count as inactive (R-CONV rounds to 1e-7). */
function reluActivityFloor(y: Float64Array): number {
  let max = 0;
  for (let k = 0; k < y.length; k++) max = Math.max(max, Math.abs(y[k]));
  return 1e-9 * max;
}

function geometryOf(unit: Unit): ConvGeometry {
  const c = unit.conv!;
  return convGeometry({ ...c, kernel: c.kernel, strides: c.strides, dilations: c.dilations, pads: c.pads, groups: c.groups });
}

/** Average pooling as a depthwise convolution with weights 1/(k_h·k_w) (count_include_pad semantics). */
function poolGeometry(unit: Unit): ConvGeometry {
  const s = unit.inputShape.length === 4 ? unit.inputShape.slice(1) : unit.inputShape;
  const [C, H, W] = s;
  const p = unit.pool!;
  if (!p.global && p.pads.some((v) => v !== 0)) {
    throw new ChainStop(unit.id, `${unit.name}: padded average pooling is not inverted yet`);
  }
  return convGeometry({
    inChannels: C,
    height: H,
    width: W,
    outChannels: C,
    groups: C,
    kernel: p.global ? [H, W] : p.kernel,
    strides: p.global ? [1, 1] : p.strides,
    pads: 0,
  });
}

function poolKernel(g: ConvGeometry): Float64Array {
  return new Float64Array(g.nW).fill(1 / (g.kernel[0] * g.kernel[1]));
}

function countChain(net: AttackNetwork, units: Map<string, Unit>): number {
  let n = 0;
  let u: Unit | undefined = net.logitsUnit;
  while (u && n < units.size) {
    n++;
    u = u.inputs.length === 1 ? units.get(u.inputs[0]) : undefined;
  }
  return n;
}

/** ‖K x − G‖² + ‖W_op x − (z − b)‖² over the known rows, with its gradient (for the correction step). */
export function convResidualTerm(op: ConvOperator, W: Float64Array, dz: Float64Array, G: Float64Array, target: Float64Array) {
  const g = op.geom;
  const gx = new Float64Array(g.nW);
  const zx = new Float64Array(g.nZ);
  const rz = new Float64Array(g.nZ);
  const tmp = new Float64Array(g.nX);
  const residuals = (x: Float64Array) => {
    op.gradient(dz, x, gx);
    op.forward(W, x, zx);
    for (let i = 0; i < g.nW; i++) gx[i] -= G[i];
    for (let k = 0; k < g.nZ; k++) rz[k] = Number.isFinite(target[k]) ? zx[k] - target[k] : 0;
  };
  return {
    value(x: Float64Array): number {
      residuals(x);
      let s = 0;
      for (let i = 0; i < g.nW; i++) s += gx[i] * gx[i];
      for (let k = 0; k < g.nZ; k++) s += rz[k] * rz[k];
      return s;
    },
    gradient(x: Float64Array, out: Float64Array): void {
      residuals(x);
      op.gradientTranspose(dz, gx, out);
      op.forwardTranspose(W, rz, tmp);
      for (let j = 0; j < g.nX; j++) out[j] = 2 * (out[j] + tmp[j]);
    },
  };
}

export function relativeError(estimate: Float64Array, truth: Float64Array): number {
  let e = 0;
  let n = 0;
  for (let i = 0; i < truth.length; i++) {
    e += (estimate[i] - truth[i]) ** 2;
    n += truth[i] * truth[i];
  }
  return n > 0 ? Math.sqrt(e / n) : Math.sqrt(e);
}
