// Converters for data-movement operators. On constants they fold (so Shape -> Gather -> Concat -> Reshape chains
// and reshaped weights vanish from the layer graph); on activations they become reshape/transpose/... layers.
import { onnx } from 'onnx-proto';
import type { NodeAttrs, OpKind, Shape } from '../../ir';
import { sizeOf } from '../../ir';
import { broadcastTo, concatenated, constFromValues, derived, filled, gathered, reshaped, sliced, transposed } from './constOps';
import { unsupported, type Converter, type NodeView, type Outcome } from './nodeView';
import {
  broadcastShapes,
  concatShape,
  flattenShape,
  formatShape,
  gatherShape,
  mismatch,
  normalizeAxis,
  reduceShape,
  reshapeTarget,
  slicePlan,
  squeezeShape,
  transposeShape,
  unsqueezeShape,
} from './shapeMath';
import { isIntegerType } from './dataTypes';
import { declaredDims, tensorFromProto, type ConstTensor } from './tensors';

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function outputName(node: NodeView): string {
  return node.outputNames[0] ?? '';
}

/** A layer whose output is its input rearranged: folded on a constant, a layer on an activation. */
function rearrange(node: NodeView, op: OpKind, shape: Shape, fold: (tensor: ConstTensor) => ConstTensor, attrs?: NodeAttrs): Outcome {
  const tensor = node.constant(0);
  if (tensor) return { folded: [fold(tensor)] };
  return { op, attrs, outputShapes: [shape] };
}

const passThrough =
  (op: OpKind): Converter =>
  (node) =>
    rearrange(node, op, node.shapeOf(0), (t) => t);

/** Cast of a constant: integer targets truncate (shape arithmetic often goes through float and back). */
const cast: Converter = (node) => {
  const dataType = node.attrs.int('to', FLOAT);
  const convert = isIntegerType(dataType) ? Math.trunc : (v: number) => v;
  return rearrange(node, 'identity', node.shapeOf(0), (t) => derived(t, t.shape, () => t.values().map(convert), dataType));
};

const reshape: Converter = (node) => {
  const target = node.opset < 5 ? node.attrs.ints('shape') : node.constantInts(1);
  if (!target) return unsupported('the target shape is computed at run time');
  const shape = reshapeTarget(node.shapeOf(0), target, node.attrs.int('allowzero', 0) === 1);
  return rearrange(node, 'reshape', shape, (t) => reshaped(t, shape));
};

const flatten: Converter = (node) => {
  const input = node.shapeOf(0);
  const axis = normalizeAxis(node.attrs.int('axis', 1), input.length + 1);
  const shape = flattenShape(input, axis);
  return rearrange(node, 'flatten', shape, (t) => reshaped(t, shape), { kind: 'axis', axis });
};

const transpose: Converter = (node) => {
  const input = node.shapeOf(0);
  const perm = node.attrs.ints('perm') ?? input.map((_, i) => input.length - 1 - i);
  const shape = transposeShape(input, perm);
  return rearrange(node, 'transpose', shape, (t) => transposed(t, perm, shape), { kind: 'transpose', perm });
};

const squeeze: Converter = (node) => {
  const axes = node.intsParameter('axes', 1, 13);
  if (axes === 'dynamic') return unsupported('the squeezed axes are computed at run time');
  const shape = squeezeShape(node.shapeOf(0), axes);
  return rearrange(node, 'reshape', shape, (t) => reshaped(t, shape));
};

const unsqueeze: Converter = (node) => {
  const axes = node.intsParameter('axes', 1, 13);
  if (axes === 'dynamic') return unsupported('the unsqueezed axes are computed at run time');
  if (!axes) mismatch('Unsqueeze has no axes');
  const shape = unsqueezeShape(node.shapeOf(0), axes);
  return rearrange(node, 'reshape', shape, (t) => reshaped(t, shape));
};

const concat: Converter = (node) => {
  const count = Math.max(1, node.inputCount);
  const shapes = Array.from({ length: count }, (_, i) => node.shapeOf(i));
  const axis = normalizeAxis(node.attrs.int('axis', 1), shapes[0].length);
  const shape = concatShape(shapes, axis);
  const constants = Array.from({ length: count }, (_, i) => node.constant(i)).filter((t): t is ConstTensor => t !== undefined);
  if (constants.length === count) return { folded: [concatenated(outputName(node), constants, axis, shape)] };
  if (constants.length > 0) return unsupported('concatenates constants with run-time tensors', [shape]);
  return { op: 'concat', attrs: { kind: 'axis', axis }, outputShapes: [shape] };
};

const PAD_MODES = ['constant', 'reflect', 'edge'] as const;

const pad: Converter = (node) => {
  const input = node.shapeOf(0);
  const rank = input.length;
  const pads = node.opset < 11 ? (node.attrs.ints('pads') ?? node.attrs.ints('paddings')) : node.constantInts(1);
  if (!pads) return unsupported('the pads are computed at run time');
  const axes = node.intsParameter('axes', 3, 18);
  if (axes === 'dynamic') return unsupported('the padded axes are computed at run time');
  const padded = (axes ?? input.map((_, i) => i)).map((axis) => normalizeAxis(axis, rank));
  if (pads.length !== 2 * padded.length) mismatch(`pads ${formatShape(pads)} do not fit ${padded.length} axes`);
  const begin = new Array<number>(rank).fill(0);
  const end = new Array<number>(rank).fill(0);
  padded.forEach((axis, i) => {
    begin[axis] = pads[i];
    end[axis] = pads[i + padded.length];
  });
  const shape = input.map((dim, i) => dim + begin[i] + end[i]);
  if (node.opset >= 11 && node.input(2) && !node.constant(2)) return unsupported('the pad value is computed at run time', [shape]);
  const value = node.opset < 11 ? node.attrs.float('value', 0) : (node.constantScalar(2) ?? 0);
  const mode = PAD_MODES.find((m) => m === node.attrs.string('mode', 'constant'));
  if (!mode) return unsupported(`pad mode "${node.attrs.string('mode', '')}" is not modelled`, [shape]);
  if (rank !== 4 || begin[0] || begin[1] || end[0] || end[1]) return unsupported('padding outside the spatial axes is not modelled', [shape]);
  if ([...begin, ...end].some((p) => p < 0)) return unsupported('negative padding (cropping) is not modelled', [shape]);
  return { op: 'pad', attrs: { kind: 'pad', pads: [begin[2], begin[3], end[2], end[3]], mode, value }, outputShapes: [shape] };
};

const slice: Converter = (node) => {
  const input = node.shapeOf(0);
  const starts = node.intsParameter('starts', 1, 10);
  const ends = node.intsParameter('ends', 2, 10);
  const axes = node.intsParameter('axes', 3, 10);
  const steps = node.opset < 10 ? undefined : node.intsParameter('steps', 4, 10);
  if (starts === 'dynamic' || ends === 'dynamic' || axes === 'dynamic' || steps === 'dynamic') {
    return unsupported('the slice bounds are computed at run time');
  }
  if (!starts || !ends) mismatch('Slice has no starts or ends');
  const plan = slicePlan(input, starts, ends, axes, steps);
  const tensor = node.constant(0);
  if (tensor) return { folded: [sliced(tensor, plan)] };
  return unsupported('Slice of a run-time tensor is not modelled', [plan.shape]);
};

const gather: Converter = (node) => {
  const data = node.shapeOf(0);
  const indices = node.shapeOf(1);
  const axis = normalizeAxis(node.attrs.int('axis', 0), data.length);
  const shape = gatherShape(data, indices, axis);
  const tensor = node.constant(0);
  const picks = node.constant(1);
  if (tensor && picks) return { folded: [gathered(tensor, picks, axis, shape, node.limits.modelFile, node.where)] };
  return unsupported('Gather of a run-time tensor is not modelled', [shape]);
};

const expand: Converter = (node) => {
  const target = node.constantInts(1);
  if (!target) return unsupported('the target shape is computed at run time');
  const shape = broadcastShapes([node.shapeOf(0), target]);
  const tensor = node.constant(0);
  if (tensor) return { folded: [broadcastTo(tensor, shape)] };
  return unsupported('Expand is not modelled', [shape]);
};

/** Shape of a tensor whose shape is known here is a constant (opset 15 adds start/end). */
const shapeOf: Converter = (node) => {
  const dims = node.shapeOf(0);
  const clampIndex = (i: number) => Math.min(Math.max(i < 0 ? i + dims.length : i, 0), dims.length);
  const picked = dims.slice(clampIndex(node.attrs.int('start', 0)), clampIndex(node.attrs.int('end', dims.length)));
  return { folded: [constFromValues(outputName(node), [picked.length], picked)] };
};

const size: Converter = (node) => ({ folded: [constFromValues(outputName(node), [], [sizeOf(node.shapeOf(0))])] });

const constant: Converter = (node) => {
  const name = outputName(node);
  const tensor = node.attrs.tensor('value');
  if (tensor) return { folded: [tensorFromProto(tensor, node.limits, node.where, name)] };
  const { attrs } = node;
  if (attrs.has('value_float')) return { folded: [constFromValues(name, [], [attrs.float('value_float', 0)], FLOAT)] };
  const floats = attrs.floats('value_floats');
  if (floats) return { folded: [constFromValues(name, [floats.length], floats, FLOAT)] };
  if (attrs.has('value_int')) return { folded: [constFromValues(name, [], [attrs.int('value_int', 0)])] };
  const ints = attrs.ints('value_ints');
  if (ints) return { folded: [constFromValues(name, [ints.length], ints)] };
  return unsupported('sparse or string constants are not decoded');
};

const constantOfShape: Converter = (node) => {
  const dims = node.constantInts(0);
  if (!dims) return unsupported('the shape is computed at run time');
  const shape = declaredDims(dims, node.limits, node.where);
  const value = node.attrs.tensor('value');
  const fill = value ? tensorFromProto(value, node.limits, node.where) : undefined;
  if (fill && sizeOf(fill.shape) !== 1) mismatch(`value ${formatShape(fill.shape)} should hold one element`);
  return { folded: [filled(outputName(node), shape, fill ? fill.values()[0] : 0, fill?.dataType ?? FLOAT)] };
};

/** Reductions; a mean/max over all spatial axes is global pooling. */
function reduce(axesInputSince: number, globalPool?: 'globalAvgPool' | 'globalMaxPool'): Converter {
  return (node) => {
    const input = node.shapeOf(0);
    const axes = node.intsParameter('axes', 1, axesInputSince);
    if (axes === 'dynamic') return unsupported('the reduced axes are computed at run time');
    const keepDims = node.attrs.int('keepdims', 1) === 1;
    const noop = (!axes || axes.length === 0) && node.attrs.int('noop_with_empty_axes', 0) === 1;
    const shape = noop ? input : reduceShape(input, axes, keepDims);
    const sorted = (axes ?? []).map((axis) => normalizeAxis(axis, input.length)).sort((a, b) => a - b);
    const spatial = input.length >= 3 && sorted.length === input.length - 2 && sorted.every((axis, i) => axis === i + 2);
    if (globalPool && spatial) return { op: globalPool, outputShapes: [shape] };
    return unsupported(`${node.opType} is not modelled`, [shape]);
  };
}

const OTHER_REDUCTIONS = ['ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

export const SHAPE_CONVERTERS: Record<string, Converter> = {
  Identity: passThrough('identity'),
  Cast: cast,
  Dropout: passThrough('dropout'),
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Concat: concat,
  Pad: pad,
  Slice: slice,
  Gather: gather,
  Expand: expand,
  Shape: shapeOf,
  Size: size,
  Constant: constant,
  ConstantOfShape: constantOfShape,
  ReduceMean: reduce(18, 'globalAvgPool'),
  ReduceMax: reduce(18, 'globalMaxPool'),
  ReduceSum: reduce(13),
  ...Object.fromEntries(OTHER_REDUCTIONS.map((op) => [op, reduce(18)])),
};

/** Operators whose converters also fold all-constant inputs. */
export const SHAPE_FOLDABLE = [
  'Identity',
  'Cast',
  'Dropout',
  'Reshape',
  'Flatten',
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'Concat',
  'Slice',
  'Gather',
  'Expand',
  'Shape',
  'Size',
  'Constant',
  'ConstantOfShape',
];
