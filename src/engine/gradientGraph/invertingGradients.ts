// The Inverting Gradients objective (Geiping et al., NeurIPS 2020) as one ONNX graph: fed an image x, one run gives
//
//   L(x) = 1 − cos(g(x), G) + w_tv · TV(x)        and        ∂L/∂x
//
// where g(x) is the gradient of the softmax cross-entropy loss of (x, label) with respect to the model's parameters,
// all parameter tensors taken as one vector (or the subset `parameters`), G the gradient the client shared (stored
// in the graph), and TV the anisotropic mean-absolute total variation of x as [C, H, W]:
//
//   TV(x) = mean |x[:, :, j+1] − x[:, :, j]| + mean |x[:, i+1, :] − x[:, i, :]|   (the float64 attack's totalVariation)
//
// ∂L/∂x needs the gradient of a gradient: the passes of passes.ts (forward, backward with the parameter gradients,
// then ∂/∂x Σ_θ ⟨c_θ, g_θ(x)⟩) with c_θ = ∂L/∂g_θ from the cosine. Weights and G are initializers; only x is fed.
// The cosine can run over a subset of the parameter tensors, and the graph can start at a unit's input instead of
// the image (the hybrid attack's lower part).
import type { NamedTensor } from '../readers/safetensors';
import { type AttackNetwork } from '../attack/network/attackNetwork';
import { AttackSetupError } from '../attack/network/setupError';
import type { ParameterBlock } from './gradientOp';
import { lowerNetwork } from './lowering';
import { GraphWriter, sizeOfShape, type Value } from './onnxWriter';
import { GradientPasses, selectBlocks } from './passes';

export interface InvertingGradientsOptions {
  /** The label of the simulated training step (from label recovery). */
  label: number;
  /** The gradients the client shared, by parameter name (WeightTensor.name), engine layout: `namedGradients` or a file. */
  shared: Map<string, NamedTensor>;
  /** Weight of the total-variation prior (0: none; it applies only when the fed tensor is [1, C, H, W]). */
  tvWeight: number;
  /** Parameter tensors in the cosine (default: every trainable tensor the graph computes a gradient for). */
  parameters?: readonly string[];
  /** Start at this unit's input instead of the model input (the hybrid attack: closed form above, matching below). */
  fromUnit?: string;
}

export interface GradientGraph {
  /** The ModelProto. */
  bytes: Uint8Array;
  /** The fed tensor: the image (or `fromUnit`'s input), float32, this shape. */
  input: { name: string; shape: number[] };
  /** Output names: the scalar objective [1] and its gradient (the input's shape). */
  outputs: { loss: string; gradient: string };
  /** Parameter tensors the cosine runs over, in graph order. */
  parameters: string[];
  nodeCount: number;
}

export const GRADIENT_GRAPH_INPUT = 'x';
export const GRADIENT_GRAPH_LOSS = 'loss';
export const GRADIENT_GRAPH_GRADIENT = 'grad_x';

/** ‖g‖ is clamped here so that an image with no parameter gradient at all (every unit dead) gives finite values. */
const NORM_EPS = 1e-12;

export function buildInvertingGradientsGraph(net: AttackNetwork, options: InvertingGradientsOptions): GradientGraph {
  if (!Number.isInteger(options.label) || options.label < 0 || options.label >= net.classes) {
    throw new RangeError(`label ${options.label} is not a class index (0…${net.classes - 1})`);
  }
  if (!(options.tvWeight >= 0)) throw new RangeError(`tvWeight must be ≥ 0, got ${options.tvWeight}`);
  const lowered = lowerNetwork(net, options.fromUnit);
  const blocks = selectBlocks(lowered, options.parameters);
  const targets = normalisedTargets(blocks, options.shared);

  const w = new GraphWriter();
  const passes = new GradientPasses(w, lowered);
  const x = w.input(GRADIENT_GRAPH_INPUT, lowered.slotShapes[lowered.source]);
  passes.forward(x);
  passes.backward(options.label);

  // The cosine over the selected blocks as one vector, and its cotangents.
  const gradients = blocks.map((b) => passes.parameterGradient(b.name));
  const flat = w.op(
    'Concat',
    gradients.map((g) => w.reshape(g, [sizeOfShape(g.shape)])),
    [targets.length],
    { axis: 0 },
  );
  const target = w.weight(targets, [targets.length], 'shared_gradient_normalised');
  // 1 − cos = ½‖ĝ − Ĝ‖² with ĝ = g/‖g‖: no cancellation in float32 when the gradients nearly agree (the end of a
  // successful attack). Its gradient in g: (cos·ĝ − Ĝ)/‖g‖ = (d − (1 − cos)·ĝ)/‖g‖ with d = ĝ − Ĝ.
  const sumSquares = (v: Value) => w.op('ReduceSumSquare', [v, w.ints([0])], [], { keepdims: 0 });
  const norm = w.op('Max', [w.unary('Sqrt', sumSquares(flat)), w.scalar(NORM_EPS)], []);
  const inverseNorm = w.div(w.scalar(1), norm);
  const difference = w.sub(w.mul(flat, inverseNorm), target);
  const distance = w.scale(sumSquares(difference), 0.5);
  // (d − (1 − cos)·ĝ)/‖g‖ = d/‖g‖ − g·(1 − cos)/‖g‖²
  const cotangent = w.sub(w.mul(difference, inverseNorm), w.mul(flat, w.mul(distance, w.mul(inverseNorm, inverseNorm))));
  const parts = w.opMulti(
    'Split',
    [cotangent, w.ints(gradients.map((g) => sizeOfShape(g.shape)))],
    gradients.map((g) => ({ shape: [sizeOfShape(g.shape)] })),
    { axis: 0 },
  );
  const cotangents = new Map(blocks.map((b, i) => [b.name, w.reshape(parts[i], b.shape)]));

  let loss = distance;
  const imageGradient = passes.gradientOfParameterGradients(cotangents);
  let gradient = imageGradient ?? w.zeros(x.shape);
  if (options.tvWeight > 0 && x.shape.length === 4) {
    const tv = totalVariation(w, x, options.tvWeight);
    loss = w.add(loss, tv.value);
    gradient = w.add(gradient, tv.gradient);
  }
  w.output(w.reshape(loss, [1]), GRADIENT_GRAPH_LOSS);
  w.output(gradient, GRADIENT_GRAPH_GRADIENT);
  return {
    bytes: w.encode('inverting_gradients', `Inverting Gradients objective and its image gradient for label ${options.label}`),
    input: { name: GRADIENT_GRAPH_INPUT, shape: [...x.shape] },
    outputs: { loss: GRADIENT_GRAPH_LOSS, gradient: GRADIENT_GRAPH_GRADIENT },
    parameters: blocks.map((b) => b.name),
    nodeCount: w.nodeCount,
  };
}

/** G/‖G‖ over the selected blocks, concatenated in block order (float64 norm). */
function normalisedTargets(blocks: ParameterBlock[], shared: Map<string, NamedTensor>): Float32Array {
  const parts = blocks.map((b) => {
    const t = shared.get(b.name);
    if (!t) throw new AttackSetupError(`no shared gradient for parameter "${b.name}"`);
    const size = sizeOfShape(b.shape);
    if (t.values.length !== size) throw new AttackSetupError(`shared gradient of "${b.name}" has ${t.values.length} values, the parameter has ${size}`);
    return t.values;
  });
  let norm = 0;
  for (const p of parts) for (const v of p) norm += v * v;
  norm = Math.sqrt(norm);
  if (!(norm > 0) || !Number.isFinite(norm)) throw new AttackSetupError(`the shared gradients of ${blocks.map((b) => b.name).join(', ')} have norm ${norm}`);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) for (const v of p) out[offset++] = v / norm;
  return out;
}

/** Anisotropic mean-absolute TV of x [1, C, H, W], weighted, and its (sign) subgradient. */
function totalVariation(w: GraphWriter, x: Value, weight: number): { value: Value; gradient: Value } {
  const [, c, h, wd] = x.shape;
  const values: Value[] = [];
  const gradients: Value[] = [];
  for (const axis of [3, 2]) {
    const size = x.shape[axis];
    if (size < 2) continue;
    const count = (c * h * wd * (size - 1)) / size;
    const upper = w.slice(x, [1], [size], [axis]);
    const lower = w.slice(x, [0], [size - 1], [axis]);
    const difference = w.sub(upper, lower);
    values.push(w.scale(w.reduceSum(w.unary('Abs', difference), [0, 1, 2, 3], false), weight / count));
    // ∂|x[j+1] − x[j]| = sign at j+1, −sign at j.
    const sign = w.scale(w.unary('Sign', difference), weight / count);
    const at = (begin: number, end: number) => w.pad(sign, axis === 3 ? [0, 0, 0, begin, 0, 0, 0, end] : [0, 0, begin, 0, 0, 0, end, 0]);
    gradients.push(w.sub(at(1, 0), at(0, 1)));
  }
  return { value: w.sum(values) ?? w.scalar(0), gradient: w.sum(gradients) ?? w.zeros(x.shape) };
}
