// Converters for element-wise operators: activations, softmax, arithmetic, and known-shape operators LeakLint does
// not model (their output shape is still inferred so that the rest of the graph stays analysable).
import type { ActivationAttrs, ActivationKind, Shape } from '../../ir';
import { sizeOf } from '../../ir';
import { InvalidAttribute } from './attributes';
import { combined, reshaped } from './constOps';
import { unsupported, type Converter, type NodeView } from './nodeView';
import { broadcastShapes, formatShape, legacyBroadcastShape, mismatch, normalizeAxis } from './shapeMath';
import { isIntegerType } from './dataTypes';
import { asWeight, type ConstTensor } from './tensors';

/** Bounds written by old exporters for "no bound" (±FLT_MAX). */
const FLOAT_MAX = 3.4028234663852886e38;

function activation(kind: ActivationKind, parameters?: (node: NodeView) => Omit<ActivationAttrs, 'activation'>): Converter {
  return (node) => ({
    op: 'activation',
    attrs: { kind: 'activation', activation: kind, ...parameters?.(node) },
    outputShapes: [node.shapeOf(0)],
  });
}

const prelu: Converter = (node) => {
  const x = node.shapeOf(0);
  const slope = node.constant(1);
  if (!slope) return unsupported('the slope is computed at run time', [x]);
  // Before opset 7 a 1-D slope is per channel; give it the equivalent numpy-broadcast shape [C,1,1].
  const legacy = node.opset < 7 && slope.shape.length === 1 && x.length > 2 && slope.shape[0] !== 1;
  const shaped = legacy ? reshaped(slope, legacyBroadcastShape(slope.shape, x.length, 1)) : slope;
  if (formatShape(broadcastShapes([x, shaped.shape])) !== formatShape(x)) {
    mismatch(`slope ${formatShape(slope.shape)} does not fit input ${formatShape(x)}`);
  }
  return { op: 'activation', attrs: { kind: 'activation', activation: 'prelu' }, weights: { slope: asWeight(shaped) }, outputShapes: [x] };
};

const clip: Converter = (node) => {
  const x = node.shapeOf(0);
  let min: number | undefined;
  let max: number | undefined;
  if (node.opset < 11) {
    min = node.attrs.float('min', -Infinity);
    max = node.attrs.float('max', Infinity);
  } else {
    const dynamic = [1, 2].some((i) => node.input(i) && !node.constant(i));
    if (dynamic) return unsupported('the clip bounds are computed at run time', [x]);
    min = node.constantScalar(1);
    max = node.constantScalar(2);
  }
  if (Number.isNaN(min) || Number.isNaN(max)) throw new InvalidAttribute(`clip bounds [${min}, ${max}] are not numbers`);
  const bound = (v: number | undefined) => (v === undefined || Math.abs(v) >= FLOAT_MAX ? undefined : v);
  min = bound(min);
  max = bound(max);
  if (min === 0 && max === 6) return { op: 'activation', attrs: { kind: 'activation', activation: 'relu6' }, outputShapes: [x] };
  return { op: 'activation', attrs: { kind: 'activation', activation: 'clip', min, max }, outputShapes: [x] };
};

function softmax(op: 'softmax' | 'logSoftmax'): Converter {
  return (node) => {
    const x = node.shapeOf(0);
    const axis = normalizeAxis(node.attrs.int('axis', node.opset < 13 ? 1 : -1), x.length);
    // Before opset 13 the input is flattened to 2-D at `axis`, which differs from a per-axis softmax
    // unless the axes after `axis` are all 1.
    const coerced = node.opset < 13 && sizeOf(x.slice(axis + 1)) > 1;
    return {
      op,
      attrs: { kind: 'axis', axis },
      outputShapes: [x],
      note: coerced ? `opset ${node.opset} normalises over all axes from ${axis} on` : undefined,
    };
  };
}

type ArithmeticOp = 'add' | 'sub' | 'mul' | 'div';

const ARITHMETIC: Record<ArithmeticOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
};

/** Shapes of the operands in numpy-broadcast form (pre-opset-7 `broadcast=1` aligns operand B at `axis`). */
function operandShapes(node: NodeView): Shape[] {
  const shapes = Array.from({ length: Math.max(1, node.inputCount) }, (_, i) => node.shapeOf(i));
  if (node.opset < 7 && node.attrs.int('broadcast', 0) === 1 && shapes.length === 2) {
    const axis = node.attrs.has('axis') ? node.attrs.int('axis', 0) : undefined;
    shapes[1] = legacyBroadcastShape(shapes[1], shapes[0].length, axis);
  }
  return shapes;
}

/** Add/Sub/Mul/Div/Sum: folded when all operands are constant; a single constant operand becomes `operand`. */
function arithmetic(op: ArithmeticOp): Converter {
  return (node) => {
    const shapes = operandShapes(node);
    const out = broadcastShapes(shapes);
    const constants = shapes.map((shape, i) => {
      const tensor = node.constant(i);
      return tensor && reshaped(tensor, shape);
    });
    const present = constants.filter((t): t is ConstTensor => t !== undefined);
    const name = node.outputNames[0] ?? '';
    if (present.length === shapes.length) {
      // Integer division truncates in ONNX (Shape arithmetic such as "half the height").
      const compute = op === 'div' && isIntegerType(present[0].dataType) ? (a: number, b: number) => Math.trunc(a / b) : ARITHMETIC[op];
      return { folded: [combined(name, present, out, compute)] };
    }
    if (shapes.length === 1) return { op: 'identity', outputShapes: [out] };
    if (present.length === 0) return { op, outputShapes: [out] };
    if (present.length > 1 || shapes.length > 2) return unsupported('mixes constants and several run-time tensors', [out]);
    if ((op === 'sub' || op === 'div') && constants[0]) return unsupported(`the constant is the left operand of ${node.opType}`, [out]);
    return { op, weights: { operand: asWeight(present[0]) }, outputShapes: [out] };
  };
}

const unmodelledUnary: Converter = (node) => unsupported(`${node.opType} is not modelled`, [node.shapeOf(0)]);

const unmodelledBroadcast: Converter = (node) => {
  const present = Array.from({ length: node.inputCount }, (_, i) => i).filter((i) => node.input(i));
  return unsupported(`${node.opType} is not modelled`, [broadcastShapes(present.map((i) => node.shapeOf(i)))]);
};

const UNMODELLED_UNARY = [
  'Exp',
  'Log',
  'Neg',
  'Abs',
  'Sqrt',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Sin',
  'Cos',
  'Tan',
  'Asin',
  'Acos',
  'Atan',
  'Sinh',
  'Cosh',
  'Asinh',
  'Acosh',
  'Atanh',
  'Erf',
  'Not',
  'IsNaN',
  'IsInf',
  'Softsign',
  'ThresholdedRelu',
  'Shrink',
  'Celu',
  'Hardmax',
  'CumSum',
];
const UNMODELLED_BROADCAST = [
  'Pow',
  'Max',
  'Min',
  'Mean',
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
  'Mod',
  'BitShift',
  'Where',
];

export const ELEMENTWISE_CONVERTERS: Record<string, Converter> = {
  Relu: activation('relu'),
  LeakyRelu: activation('leakyRelu', (n) => ({ alpha: n.attrs.finite('alpha', 0.01) })),
  PRelu: prelu,
  Sigmoid: activation('sigmoid'),
  Tanh: activation('tanh'),
  Softplus: activation('softplus'),
  Clip: clip,
  Elu: activation('elu', (n) => ({ alpha: n.attrs.finite('alpha', 1) })),
  Selu: activation('selu', (n) => ({ alpha: n.attrs.finite('alpha', 1.6732632423543772), gamma: n.attrs.finite('gamma', 1.0507009873554805) })),
  HardSigmoid: activation('hardSigmoid', (n) => ({ alpha: n.attrs.finite('alpha', 0.2), beta: n.attrs.finite('beta', 0.5) })),
  HardSwish: activation('hardSwish'),
  Gelu: activation('gelu'),
  Mish: activation('mish'),
  Softmax: softmax('softmax'),
  LogSoftmax: softmax('logSoftmax'),
  Add: arithmetic('add'),
  Sum: arithmetic('add'),
  Sub: arithmetic('sub'),
  Mul: arithmetic('mul'),
  Div: arithmetic('div'),
  ...Object.fromEntries(UNMODELLED_UNARY.map((op) => [op, unmodelledUnary])),
  ...Object.fromEntries(UNMODELLED_BROADCAST.map((op) => [op, unmodelledBroadcast])),
};

/** Operators whose converters also fold all-constant inputs. */
export const ELEMENTWISE_FOLDABLE = ['Add', 'Sum', 'Sub', 'Mul', 'Div'];
