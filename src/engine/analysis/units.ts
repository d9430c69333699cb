// The analysis view of a layer graph: the IR nodes grouped into units the attack solves one at a time.
// A conv/dense node absorbs the inference BatchNormalization and the activation that follow it (docs/algorithm.md §3.4,
// §7.13); permutations (flatten, reshape, transpose, dropout, identity) pass through; everything else is its own
// unit. Units carry plain geometry so that fixes can re-analyse a modified copy without touching the IR.
import type { ActivationAttrs, ConvAttrs, LayerGraph, LayerNode, Pads4, Shape, SourceLocation } from '../ir';
import { sizeOf } from '../ir';
import { activationRoute, type ActivationRoute } from './activations';

export type UnitKind =
  | 'conv'
  | 'dense'
  | 'avgPool' // fixed linear down-sampling (also global average pooling)
  | 'maxPool' // breaks the closed-form chain
  | 'residual' // addition of two activation branches
  | 'concat'
  | 'passThrough' // permutations and invertible element-wise maps
  | 'broken' // training-mode normalisation, non-invertible activation, ...
  | 'unsupported';

export interface ConvGeometryLike {
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pads: Pads4;
  groups: number;
}

export interface Unit {
  id: string;
  name: string;
  kind: UnitKind;
  sourceOp: string;
  /** Units whose output this unit reads (graph inputs are not units). */
  inputs: string[];
  /** Whether this unit reads the model input directly (possibly through pass-through units). */
  readsModelInput: boolean;
  inputShape: Shape;
  outputShape: Shape;
  conv?: ConvGeometryLike;
  dense?: { inFeatures: number; outFeatures: number };
  pool?: { kernel: [number, number]; strides: [number, number]; pads: Pads4; global: boolean };
  /** Lazily loaded effective weights (BN folded in): conv OIHW, dense [out, in]. */
  kernel?: () => Float64Array;
  hasBias: boolean;
  activation?: { attrs: ActivationAttrs; route: ActivationRoute; nodeId: string };
  /** IR nodes merged into this unit (BN, activation, pass-through). */
  folded: string[];
  /** Why a unit is broken or unsupported. */
  note?: string;
  /** Residual additions: one branch is the other branch's own input (x + f(x)), not a projection. */
  identitySkip?: boolean;
  location: SourceLocation;
}

export interface AnalysisGraph {
  units: Unit[];
  /** Units whose output is a final model output (possibly through pass-through units), where the loss is taken. */
  outputUnits: string[];
  inputShape: Shape;
}

const PASS_THROUGH_OPS = new Set(['flatten', 'reshape', 'transpose', 'dropout', 'identity', 'softmax', 'logSoftmax']);

/** Builds the unit graph. Pure: it reads weights lazily only when a unit's kernel is asked for. */
export function buildAnalysisGraph(graph: LayerGraph): AnalysisGraph {
  const producer = new Map<string, LayerNode>();
  const consumers = new Map<string, LayerNode[]>();
  for (const node of graph.nodes) {
    for (const t of node.outputs) producer.set(t, node);
    for (const t of node.inputs) {
      const list = consumers.get(t) ?? [];
      list.push(node);
      consumers.set(t, list);
    }
  }
  const modelInputs = new Set(graph.inputs.map((i) => i.name));
  const modelOutputs = new Set(graph.outputs.map((o) => o.name));
  /** The single consumer of a node's output, or undefined if it fans out or is a model output. */
  const soleConsumer = (node: LayerNode): LayerNode | undefined => {
    if (node.outputs.length !== 1 || modelOutputs.has(node.outputs[0])) return undefined;
    const list = consumers.get(node.outputs[0]) ?? [];
    return list.length === 1 ? list[0] : undefined;
  };

  // unitOf maps every IR node id to the unit that represents its output ('' = the model input itself).
  const unitOf = new Map<string, string>();
  const units: Unit[] = [];
  const unitById = new Map<string, Unit>();
  const absorbed = new Set<string>();

  const sourceUnits = (node: LayerNode): { ids: string[]; readsInput: boolean } => {
    const ids: string[] = [];
    let readsInput = false;
    for (const t of node.inputs) {
      if (modelInputs.has(t)) {
        readsInput = true;
        continue;
      }
      const p = producer.get(t);
      if (!p) continue;
      const u = unitOf.get(p.id);
      if (u === '') readsInput = true;
      else if (u !== undefined && !ids.includes(u)) ids.push(u);
    }
    return { ids, readsInput };
  };

  for (const node of graph.nodes) {
    if (absorbed.has(node.id)) continue;
    const { ids, readsInput } = sourceUnits(node);
    const passThrough = PASS_THROUGH_OPS.has(node.op) || isInvertibleStandalone(node) || isConstantAffine(node);
    if (passThrough && node.status === 'ok' && ids.length + (readsInput ? 1 : 0) === 1) {
      // A permutation or invertible element-wise map: its output is its input's unit, re-indexed.
      const target = ids[0];
      if (target === undefined) unitOf.set(node.id, '');
      else {
        unitOf.set(node.id, target);
        unitById.get(target)!.folded.push(node.id);
      }
      continue;
    }
    const unit = makeUnit(node, ids, readsInput);
    if (unit.kind === 'conv' || unit.kind === 'dense') absorbFollowers(node, unit, soleConsumer, absorbed, unitOf);
    if (unit.kind === 'residual') unit.identitySkip = hasIdentitySkip(unit, unitById);
    units.push(unit);
    unitById.set(unit.id, unit);
    unitOf.set(node.id, unit.id);
  }

  const outputUnits: string[] = [];
  for (const o of graph.outputs) {
    const p = producer.get(o.name);
    const u = p ? unitOf.get(p.id) : undefined;
    if (u && !outputUnits.includes(u)) outputUnits.push(u);
  }
  // Outputs that other layers also read are probes (TensorSpace exports every layer as an output for display);
  // the loss sits at the final outputs, so only those start the backward recursion.
  const read = new Set(units.flatMap((u) => u.inputs));
  const finalOutputs = outputUnits.filter((u) => !read.has(u));
  return { units, outputUnits: finalOutputs.length ? finalOutputs : outputUnits, inputShape: graph.inputs[0]?.shape ?? [] };
}

/**
 * x + f(x): one operand of the addition is an ancestor of the other (or the model input, read by the other branch).
 * Two independent branches, or a projection (a conv on the skip), are not an identity skip.
 */
function hasIdentitySkip(unit: Unit, unitById: Map<string, Unit>): boolean {
  const operands = [...unit.inputs];
  if (operands.length + (unit.readsModelInput ? 1 : 0) !== 2) return false;
  const readsInputDeep = (id: string, seen = new Set<string>()): boolean => {
    const u = unitById.get(id);
    if (!u || seen.has(id)) return false;
    seen.add(id);
    return u.readsModelInput || u.inputs.some((i) => readsInputDeep(i, seen));
  };
  const isAncestor = (ancestor: string, of: string): boolean => {
    const stack = [of];
    const seen = new Set<string>();
    while (stack.length) {
      const id = stack.pop()!;
      if (id === ancestor) return true;
      if (seen.has(id)) continue;
      seen.add(id);
      stack.push(...(unitById.get(id)?.inputs ?? []));
    }
    return false;
  };
  if (unit.readsModelInput) return readsInputDeep(operands[0]);
  const [a, b] = operands;
  return isAncestor(a, b) || isAncestor(b, a);
}

/** Folds an inference BatchNormalization and one activation that follow a conv/dense into its unit. */
function absorbFollowers(
  node: LayerNode,
  unit: Unit,
  soleConsumer: (n: LayerNode) => LayerNode | undefined,
  absorbed: Set<string>,
  unitOf: Map<string, string>,
) {
  let last = node;
  let next = soleConsumer(last);
  if (next && next.op === 'batchNorm' && next.attrs.kind === 'norm' && !next.attrs.trainingMode && next.status === 'ok') {
    const bn = next;
    const baseKernel = unit.kernel!;
    const outChannels = unit.conv ? unit.conv.outChannels : unit.dense!.outFeatures;
    unit.kernel = once(() => foldBatchNormIntoKernel(baseKernel(), outChannels, bn));
    unit.hasBias = true;
    unit.folded.push(bn.id);
    absorbed.add(bn.id);
    unitOf.set(bn.id, unit.id);
    unit.outputShape = bn.outputShapes[0] ?? unit.outputShape;
    last = bn;
    next = soleConsumer(last);
  }
  if (next && next.op === 'activation' && next.attrs.kind === 'activation' && next.status === 'ok') {
    unit.activation = { attrs: next.attrs, route: activationRoute(next.attrs), nodeId: next.id };
    unit.folded.push(next.id);
    absorbed.add(next.id);
    unitOf.set(next.id, unit.id);
  }
}

/** W' = W·γ/√(v+ε) per output channel (the bias change does not affect ranks; the attack folds it separately). */
function foldBatchNormIntoKernel(kernel: Float64Array, outChannels: number, bn: LayerNode): Float64Array {
  const scale = bn.weights.scale?.load();
  const variance = bn.weights.variance?.load();
  const eps = bn.attrs.kind === 'norm' ? bn.attrs.epsilon : 1e-5;
  const out = new Float64Array(kernel);
  const perChannel = kernel.length / outChannels;
  for (let c = 0; c < outChannels; c++) {
    const factor = (scale ? scale[c] : 1) / Math.sqrt((variance ? variance[c] : 1) + eps);
    for (let j = 0; j < perChannel; j++) out[c * perChannel + j] *= factor;
  }
  return out;
}

/** Loads on first use and keeps the values: fix re-analyses ask for the same kernel again. */
function once<T>(load: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= load());
}

function isInvertibleStandalone(node: LayerNode): boolean {
  if (node.op === 'activation' && node.attrs.kind === 'activation') return activationRoute(node.attrs) === 'invertible';
  if (node.op === 'batchNorm' && node.attrs.kind === 'norm') return !node.attrs.trainingMode;
  return false;
}

/** Add/Sub/Mul/Div with a constant operand: an invertible element-wise affine map (unless multiplied by zero). */
function isConstantAffine(node: LayerNode): boolean {
  return ['add', 'sub', 'mul', 'div'].includes(node.op) && node.inputs.length === 1 && node.weights.operand !== undefined;
}

function spatial(shape: Shape): [number, number, number] {
  // [N, C, H, W] → [C, H, W]; lower-rank activations are treated as C×1×1.
  if (shape.length >= 4) return [shape[1], shape[2], shape[3]];
  return [sizeOf(shape.slice(1)), 1, 1];
}

function makeUnit(node: LayerNode, inputs: string[], readsModelInput: boolean): Unit {
  const base: Unit = {
    id: node.id,
    name: node.name || node.id,
    kind: 'unsupported',
    sourceOp: node.sourceOp,
    inputs,
    readsModelInput,
    inputShape: node.inputShapes[0] ?? [],
    outputShape: node.outputShapes[0] ?? [],
    hasBias: node.weights.bias !== undefined,
    folded: [],
    location: node.location,
  };
  if (node.status !== 'ok') return { ...base, kind: 'unsupported', note: node.note ?? `${node.sourceOp} is not supported` };
  switch (node.op) {
    case 'conv': {
      const a = node.attrs as { kind: 'conv' } & ConvAttrs;
      const [c, h, w] = spatial(base.inputShape);
      const kernel = node.weights.kernel;
      return {
        ...base,
        kind: 'conv',
        conv: {
          inChannels: c,
          height: h,
          width: w,
          outChannels: a.outChannels,
          kernel: a.kernel,
          strides: a.strides,
          dilations: a.dilations,
          pads: a.pads,
          groups: a.groups,
        },
        kernel: kernel ? once(() => kernel.load()) : undefined,
      };
    }
    case 'dense': {
      const a = node.attrs.kind === 'dense' ? node.attrs : { inFeatures: sizeOf(base.inputShape.slice(1)), outFeatures: sizeOf(base.outputShape.slice(1)) };
      const kernel = node.weights.kernel;
      return {
        ...base,
        kind: 'dense',
        dense: { inFeatures: a.inFeatures, outFeatures: a.outFeatures },
        kernel: kernel ? once(() => kernel.load()) : undefined,
      };
    }
    case 'avgPool':
    case 'globalAvgPool':
    case 'maxPool':
    case 'globalMaxPool': {
      const global = node.op.startsWith('global');
      const [, h, w] = spatial(base.inputShape);
      const pool =
        node.attrs.kind === 'pool'
          ? { kernel: node.attrs.kernel, strides: node.attrs.strides, pads: node.attrs.pads, global }
          : { kernel: [h, w] as [number, number], strides: [1, 1] as [number, number], pads: [0, 0, 0, 0] as Pads4, global };
      return { ...base, kind: node.op.includes('ax') ? 'maxPool' : 'avgPool', pool };
    }
    case 'add':
    case 'sub':
      return inputs.length + (readsModelInput ? 1 : 0) >= 2
        ? { ...base, kind: 'residual' }
        : { ...base, kind: 'broken', note: 'element-wise op with an unknown operand' };
    case 'concat':
      return { ...base, kind: 'concat' };
    case 'batchNorm':
      return { ...base, kind: 'broken', note: 'normalises with the batch statistics (training mode): unknown per-sample statistics make the layer non-linear' };
    case 'instanceNorm':
      return { ...base, kind: 'broken', note: 'instance normalisation uses per-sample statistics the attacker does not know: non-linear' };
    case 'activation': {
      const attrs = node.attrs as { kind: 'activation' } & ActivationAttrs;
      const route = activationRoute(attrs);
      if (route === 'rconv')
        return { ...base, kind: 'passThrough', activation: { attrs, route, nodeId: node.id }, note: 'ReLU-like activation after a non-parametric op' };
      return { ...base, kind: 'broken', note: `${attrs.activation} has no closed-form inverse from its output` };
    }
    case 'mul':
    case 'div':
      return { ...base, kind: 'broken', note: 'product of two activations: non-linear' };
    case 'convTranspose':
      return { ...base, kind: 'unsupported', note: 'transposed convolutions are not analysed yet' };
    case 'pad':
      return { ...base, kind: 'passThrough' };
    default:
      return { ...base, kind: 'unsupported', note: `${node.sourceOp} is not analysed` };
  }
}
