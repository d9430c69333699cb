// Evaluates the small integer sub-graphs TF leaves around shape ops (Shape → StridedSlice → Pack → Reshape, and
// the like), so that a Reshape target or a reduction axis becomes a plain list of numbers.
import type { Shape } from '../../ir';
import { attrBool, attrInt, type GraphNode } from './graphDef';
import { expandedShape, reshapeTarget, ShapeMismatch, sliceRange, squeezedShape } from './shapeRules';
import { inlineWeight, type StoredWeight } from './weights';

/** A constant tensor: its TF shape and, for small ones, its values (big ones stay lazily in `weight`). */
export interface Constant {
  shape: Shape;
  weight?: StoredWeight;
  values?: number[];
}

/** Constants up to this size are read eagerly when folding needs their values. */
const SMALL_CONSTANT = 4096;

export function constantValues(constant: Constant): number[] | undefined {
  if (constant.values) return constant.values;
  const elements = constant.shape.reduce((a, b) => a * b, 1);
  if (!constant.weight || elements > SMALL_CONSTANT) return undefined;
  constant.values = Array.from(constant.weight.read());
  return constant.values;
}

type Folder = (node: GraphNode, inputs: Constant[]) => Constant | undefined;

const PASS_THROUGH: Folder = (_node, [x]) => x;

const FOLDERS: Record<string, Folder> = {
  Identity: PASS_THROUGH,
  StopGradient: PASS_THROUGH,
  Snapshot: PASS_THROUGH,
  Cast: PASS_THROUGH,

  StridedSlice: (node, [x, begin, end, strides]) => {
    const [values, b, e, s] = [x, begin, end, strides].map((c) => c && constantValues(c));
    if (!values || !b || !e || !s || x!.shape.length !== 1 || b.length !== 1 || e.length < 1 || s.length < 1) return undefined;
    if (attrInt(node, 'ellipsis_mask') || attrInt(node, 'new_axis_mask')) return undefined;
    const [first, last, stride] = [b[0]!, e[0]!, s[0]!];
    // A hostile stride (0, 1e-20, NaN) would loop forever: only whole numbers are sliced; anything else stays unfolded.
    if (![first, last, stride].every(Number.isSafeInteger) || stride === 0) return undefined;
    const length = values.length;
    if ((attrInt(node, 'shrink_axis_mask') ?? 0) & 1) {
      const index = first < 0 ? first + length : first;
      return index >= 0 && index < length ? scalar(values[index]!) : undefined;
    }
    const range = sliceRange(length, first, last, stride, ((attrInt(node, 'begin_mask') ?? 0) & 1) === 1, ((attrInt(node, 'end_mask') ?? 0) & 1) === 1);
    if (!range || range.count > SMALL_CONSTANT) return undefined;
    const { start, count } = range;
    return vector(Array.from({ length: count }, (_, k) => values[start + k * stride]!));
  },

  Pack: (node, inputs) => {
    const lists = inputs.map(constantValues);
    if (lists.some((l) => !l) || inputs.some((c) => c.shape.length > 0) || (attrInt(node, 'axis') ?? 0) !== 0) return undefined;
    return vector(lists.map((l) => l![0]!));
  },

  ConcatV2: (_node, inputs) => {
    const lists = inputs.slice(0, -1).map(constantValues);
    if (lists.some((l) => !l) || inputs.slice(0, -1).some((c) => c.shape.length !== 1)) return undefined;
    return vector(lists.flatMap((l) => l!));
  },

  ExpandDims: (_node, [x, dim]) => {
    const axis = dim && constantValues(dim)?.[0];
    if (!x || axis === undefined) return undefined;
    return reshaped(x, () => expandedShape(x.shape, axis));
  },

  Squeeze: (node, [x]) => x && reshaped(x, () => squeezedShape(node, x.shape)),

  Reshape: (_node, [x, target]) => {
    const dims = target && constantValues(target);
    if (!x || !dims) return undefined;
    // TF Reshape: 0 is a zero-sized dim, one -1 is inferred.
    return reshaped(x, () => reshapeTarget(x.shape, dims, true));
  },

  Prod: reduction((a, b) => a * b, 1),
  Sum: reduction((a, b) => a + b, 0),
  Mul: elementwise((a, b) => a * b),
  Add: elementwise((a, b) => a + b),
  AddV2: elementwise((a, b) => a + b),
  Sub: elementwise((a, b) => a - b),
  FloorDiv: elementwise((a, b) => Math.floor(a / b)),
};

/** `x` under a new shape, or undefined (left unfolded) when the shape rule refuses it. */
function reshaped(x: Constant, shape: () => Shape): Constant | undefined {
  try {
    return { ...x, shape: shape() };
  } catch (e) {
    if (e instanceof ShapeMismatch) return undefined;
    throw e;
  }
}

/** Folds `node` if every input is a constant and the op is one we evaluate. */
export function foldConstant(node: GraphNode, inputs: Constant[]): Constant | undefined {
  const folder = FOLDERS[node.op];
  return folder ? folder(node, inputs) : undefined;
}

/** Reduction of a whole vector to a scalar (the only use in shape chains). */
function reduction(combine: (a: number, b: number) => number, start: number): Folder {
  return (node, [x]) => {
    const values = x && constantValues(x);
    if (!values || x!.shape.length !== 1) return undefined;
    const result = values.reduce(combine, start);
    return attrBool(node, 'keep_dims') ? vector([result]) : scalar(result);
  };
}

/** Element-wise op of two int tensors, one of them possibly a scalar. */
function elementwise(combine: (a: number, b: number) => number): Folder {
  return (_node, [a, b]) => {
    const [x, y] = [a, b].map((c) => c && constantValues(c));
    if (!x || !y || !a || !b) return undefined;
    if (x.length === y.length) return { shape: a.shape, values: x.map((v, i) => combine(v, y[i]!)) };
    if (y.length === 1) return { shape: a.shape, values: x.map((v) => combine(v, y[0]!)) };
    if (x.length === 1) return { shape: b.shape, values: y.map((v) => combine(x[0]!, v)) };
    return undefined;
  };
}

function scalar(value: number): Constant {
  return { shape: [], values: [value] };
}

function vector(values: number[]): Constant {
  return { shape: [values.length], values };
}

/** The constant as a weight (its shape may differ from the stored one after Reshape/ExpandDims of a weight). */
export function constantWeight(constant: Constant, name: string): StoredWeight | undefined {
  if (constant.weight) return { ...constant.weight, shape: constant.shape };
  return constant.values ? inlineWeight(name, constant.shape, 'folded constant', constant.values) : undefined;
}
