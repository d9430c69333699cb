// Output shapes of the TF ops LeakLint does not model (resizes, channel padding, transposed convolutions, slices,
// reductions...), from the shape functions TensorFlow documents for them. An unsupported op is reported and not
// analysed, but with its real output shape the layers after it keep theirs: without it, a 2x upsampling or a
// channel-padded residual branch would break the first Add or conv that follows. Shapes are in TF layout.
import type { Shape } from '../../ir';
import { gatherShape, matmulShape, normalizeAxis, reduceShape } from '../onnx/shapeMath';
import { attrBool, attrInt, attrString, type GraphNode } from './graphDef';
import { broadcastShapes, ShapeMismatch, sliceRange } from './shapeRules';

/** What a rule knows about the node's inputs: TF shapes (undefined when unknown) and small constant values. */
export interface RuleInputs {
  shapes: readonly (Shape | undefined)[];
  values(i: number): number[] | undefined;
}

type Rule = (node: GraphNode, inputs: RuleInputs) => Shape | undefined;

/** Element-wise ops of one tensor. */
const SAME_SHAPE = [
  'Abs',
  'Acos',
  'Asin',
  'Atan',
  'Cast',
  'Ceil',
  'Cos',
  'Cosh',
  'Erf',
  'Exp',
  'Expm1',
  'Floor',
  'IsNan',
  'Log',
  'Log1p',
  'LogicalNot',
  'Neg',
  'OnesLike',
  'Reciprocal',
  'Round',
  'Rsqrt',
  'Sign',
  'Sin',
  'Sinh',
  'Softsign',
  'Sqrt',
  'Square',
  'Tan',
  'ZerosLike',
];

/** Element-wise ops of several tensors, with numpy broadcasting. */
const BROADCAST = [
  'Atan2',
  'ClipByValue',
  'DivNoNan',
  'Equal',
  'FloorDiv',
  'FloorMod',
  'Greater',
  'GreaterEqual',
  'Less',
  'LessEqual',
  'LogicalAnd',
  'LogicalOr',
  'Maximum',
  'Minimum',
  'Mod',
  'NotEqual',
  'Pow',
  'Select',
  'SelectV2',
  'SquaredDifference',
  'TruncateDiv',
];

const REDUCTIONS = ['All', 'Any', 'EuclideanNorm', 'Max', 'Mean', 'Min', 'Prod', 'Sum'];

function known(shape: Shape | undefined): Shape {
  if (!shape) throw new ShapeMismatch('input shape unknown');
  return shape;
}

function rank4(shape: Shape | undefined): [number, number, number, number] {
  const s = known(shape);
  if (s.length !== 4) throw new ShapeMismatch(`expects a rank-4 tensor, got rank ${s.length}`);
  return s as [number, number, number, number];
}

function valuesOf(inputs: RuleInputs, i: number, count?: number): number[] {
  const values = inputs.values(i);
  if (!values || (count !== undefined && values.length !== count)) throw new ShapeMismatch(`input ${i} is not a constant of ${count ?? 'known'} values`);
  return values;
}

/** DepthToSpace (`toSpace`) or SpaceToDepth with `block_size`, in the node's data_format. */
function blockRearrangement(toSpace: boolean): Rule {
  return (node, inputs) => {
    const block = attrInt(node, 'block_size') ?? 0;
    if (block < 1) throw new ShapeMismatch(`block_size ${block} is invalid`);
    const nchw = attrString(node, 'data_format') === 'NCHW';
    const [n, a, b, c] = rank4(inputs.shapes[0]);
    const [h, w, channels] = nchw ? [b, c, a] : [a, b, c];
    const area = block * block;
    if (toSpace ? channels % area !== 0 : h % block !== 0 || w % block !== 0) throw new ShapeMismatch(`block_size ${block} does not divide the input`);
    const out = toSpace ? [h * block, w * block, channels / area] : [h / block, w / block, channels * area];
    return nchw ? [n, out[2]!, out[0]!, out[1]!] : [n, ...out];
  };
}

/** TF StridedSlice on a tensor of known shape (ellipsis and new axes are not modelled). */
const stridedSlice: Rule = (node, inputs) => {
  const shape = known(inputs.shapes[0]);
  const [begin, end, strides] = [1, 2, 3].map((i) => valuesOf(inputs, i));
  if (attrInt(node, 'ellipsis_mask') || attrInt(node, 'new_axis_mask')) return undefined;
  if (begin!.length > shape.length || end!.length !== begin!.length || strides!.length !== begin!.length) throw new ShapeMismatch('slice specs do not fit');
  const [beginMask, endMask, shrinkMask] = ['begin_mask', 'end_mask', 'shrink_axis_mask'].map((key) => attrInt(node, key) ?? 0);
  const masked = (mask: number, axis: number) => Math.floor(mask / 2 ** axis) % 2 === 1;
  const out: Shape = [];
  shape.forEach((dim, axis) => {
    if (axis >= begin!.length) out.push(dim);
    else if (!masked(shrinkMask!, axis)) {
      const range = sliceRange(dim, begin![axis]!, end![axis]!, strides![axis]!, masked(beginMask!, axis), masked(endMask!, axis));
      if (!range) throw new ShapeMismatch('invalid stride');
      out.push(range.count);
    }
  });
  return out;
};

const RULES: Record<string, Rule> = {
  ...Object.fromEntries(SAME_SHAPE.map((op): [string, Rule] => [op, (_node, inputs) => known(inputs.shapes[0])])),
  ...Object.fromEntries(BROADCAST.map((op): [string, Rule] => [op, (_node, inputs) => broadcastShapes(inputs.shapes.map(known))])),
  ...Object.fromEntries(
    REDUCTIONS.map((op): [string, Rule] => [
      op,
      (node, inputs) => {
        const shape = known(inputs.shapes[0]);
        const axes = valuesOf(inputs, 1);
        // TF reduces nothing over an empty axis list (ONNX would reduce everything).
        if (axes.length === 0) return shape;
        return reduceShape(shape, axes, attrBool(node, 'keep_dims') ?? attrBool(node, 'keepdims') ?? false);
      },
    ]),
  ),

  // paddings[D] = [before, after] for every dimension D (tf.raw_ops.Pad / PadV2 / MirrorPad).
  Pad: (_node, inputs) => padded(inputs),
  PadV2: (_node, inputs) => padded(inputs),
  MirrorPad: (_node, inputs) => padded(inputs),

  // images [batch, height, width, channels] resized to size = [new_height, new_width].
  ...Object.fromEntries(
    ['ResizeBilinear', 'ResizeNearestNeighbor', 'ResizeBicubic', 'ResizeArea'].map((op): [string, Rule] => [
      op,
      (_node, inputs) => {
        const [n, , , c] = rank4(inputs.shapes[0]);
        const [h, w] = valuesOf(inputs, 1, 2);
        return [n, h!, w!, c];
      },
    ]),
  ),

  // The gradient of a conv with respect to its input (a transposed convolution) has the shape input_sizes says.
  Conv2DBackpropInput: (_node, inputs) => valuesOf(inputs, 0, 4),

  DepthToSpace: blockRearrangement(true),
  SpaceToDepth: blockRearrangement(false),

  // Output 0 of Unpack (each output drops `axis`).
  Unpack: (node, inputs) => {
    const shape = known(inputs.shapes[0]);
    const axis = normalizeAxis(attrInt(node, 'axis') ?? 0, shape.length);
    return shape.filter((_, i) => i !== axis);
  },

  Pack: (node, inputs) => {
    const first = known(inputs.shapes[0]);
    if (inputs.shapes.some((s) => known(s).join() !== first.join())) throw new ShapeMismatch('Pack of tensors of different shapes');
    const axis = normalizeAxis(attrInt(node, 'axis') ?? 0, first.length + 1);
    return [...first.slice(0, axis), inputs.shapes.length, ...first.slice(axis)];
  },

  StridedSlice: stridedSlice,

  Slice: (_node, inputs) => {
    const shape = known(inputs.shapes[0]);
    const [begin, size] = [valuesOf(inputs, 1, shape.length), valuesOf(inputs, 2, shape.length)];
    return shape.map((dim, i) => (size[i] === -1 ? dim - begin[i]! : size[i]!));
  },

  Tile: (_node, inputs) => {
    const shape = known(inputs.shapes[0]);
    const multiples = valuesOf(inputs, 1, shape.length);
    return shape.map((dim, i) => dim * multiples[i]!);
  },

  ArgMax: (_node, inputs) => argReduce(inputs),
  ArgMin: (_node, inputs) => argReduce(inputs),

  TopKV2: (_node, inputs) => {
    const shape = known(inputs.shapes[0]);
    return [...shape.slice(0, -1), valuesOf(inputs, 1, 1)[0]!];
  },

  GatherV2: (node, inputs) => {
    if ((attrInt(node, 'batch_dims') ?? 0) !== 0) return undefined;
    return gatherShape(known(inputs.shapes[0]), known(inputs.shapes[1]), valuesOf(inputs, 2, 1)[0]!);
  },

  // A matrix product of two activations (one constant operand is a dense layer, modelled elsewhere).
  BatchMatMul: (node, inputs) => batchMatMul(node, inputs),
  BatchMatMulV2: (node, inputs) => batchMatMul(node, inputs),

  Fill: (_node, inputs) => valuesOf(inputs, 0),
};

function padded(inputs: RuleInputs): Shape {
  const shape = known(inputs.shapes[0]);
  const paddings = valuesOf(inputs, 1, 2 * shape.length);
  return shape.map((dim, i) => paddings[2 * i]! + dim + paddings[2 * i + 1]!);
}

function argReduce(inputs: RuleInputs): Shape {
  const shape = known(inputs.shapes[0]);
  const axis = normalizeAxis(valuesOf(inputs, 1, 1)[0]!, shape.length);
  return shape.filter((_, i) => i !== axis);
}

function batchMatMul(node: GraphNode, inputs: RuleInputs): Shape {
  const swapLast = (s: Shape, swap: boolean | undefined) => (swap && s.length >= 2 ? [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!] : s);
  const a = swapLast(known(inputs.shapes[0]), attrBool(node, 'adj_x') ?? attrBool(node, 'transpose_a'));
  const b = swapLast(known(inputs.shapes[1]), attrBool(node, 'adj_y') ?? attrBool(node, 'transpose_b'));
  return matmulShape(a, b);
}

/**
 * The TF-layout output shape of an op LeakLint does not model, or undefined when its rule is unknown or needs what
 * the reader does not know (a run-time size, an unknown input shape).
 */
export function unmodelledOutputShape(node: GraphNode, inputs: RuleInputs): Shape | undefined {
  const rule = RULES[node.op];
  if (!rule) return undefined;
  try {
    const shape = rule(node, inputs);
    return shape && shape.every((d) => Number.isSafeInteger(d) && d >= 1) ? shape : undefined;
  } catch (e) {
    if (e instanceof ShapeMismatch) return undefined;
    throw e;
  }
}
