// Element-wise activations as ONNX sub-graphs: y = σ(x), σ'(x) and σ''(x), written out analytically so that the
// float32 graph has exact derivatives (the float64 network's activationMath is the reference: same functions, same
// one-sided choices at the kinks, e.g. ReLU's derivative is 0 at x = 0, LeakyReLU's is α there).
// σ'' is undefined where it is zero almost everywhere (piecewise-linear functions): the second-order pass then
// needs no curvature term, which is what makes ReLU-type networks cheap.
import type { ActivationAttrs } from '../ir';
import type { GraphWriter, Value } from './onnxWriter';

export interface ActivationTerms {
  y: Value;
  /** σ'(x), same shape as x. */
  derivative: Value;
  /** σ''(x); undefined when it is zero almost everywhere. */
  curvature?: Value;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

/**
 * y, σ' and σ'' of an activation (`slope`: PReLU's slope tensor, broadcastable to x). The caller has already sent
 * 'linear' elsewhere (it needs no node at all).
 */
export function activationTerms(w: GraphWriter, attrs: ActivationAttrs, x: Value, slope?: Value): ActivationTerms {
  const one = w.scalar(1);
  const zero = w.scalar(0);
  const positive = (): Value => w.compare('Greater', x, zero);
  switch (attrs.activation) {
    case 'linear':
      return { y: x, derivative: w.op('Expand', [one, w.ints(x.shape)], x.shape) };
    case 'relu':
      return { y: w.unary('Relu', x), derivative: w.toFloat(positive()) };
    case 'leakyRelu': {
      const alpha = attrs.alpha ?? 0.01;
      return { y: w.unary('LeakyRelu', x, { alpha: { float: alpha } }), derivative: where(w, positive(), one, w.scalar(alpha), x.shape) };
    }
    case 'prelu': {
      if (!slope) throw new Error('PReLU needs its slope tensor');
      return { y: w.op('PRelu', [x, slope], x.shape), derivative: where(w, positive(), one, slope, x.shape) };
    }
    case 'relu6':
    case 'clip': {
      const lo = attrs.activation === 'relu6' ? 0 : attrs.min;
      const hi = attrs.activation === 'relu6' ? 6 : attrs.max;
      const bounds = [lo !== undefined && Number.isFinite(lo) ? w.scalar(lo) : undefined, hi !== undefined && Number.isFinite(hi) ? w.scalar(hi) : undefined];
      const y = w.op('Clip', [x, ...bounds], x.shape);
      const inside = [bounds[0] && w.compare('Greater', x, bounds[0]), bounds[1] && w.compare('Less', x, bounds[1])].filter((v): v is Value => !!v);
      const mask = inside.length === 2 ? w.opMulti('And', inside, [{ shape: x.shape, type: 'bool' }])[0] : inside[0];
      return { y, derivative: mask ? w.toFloat(mask) : w.op('Expand', [one, w.ints(x.shape)], x.shape) };
    }
    case 'hardSigmoid': {
      const a = attrs.alpha ?? 0.2;
      const b = attrs.beta ?? 0.5;
      const u = w.add(w.scale(x, a), w.scalar(b));
      const inside = w.opMulti('And', [w.compare('Greater', u, zero), w.compare('Less', u, one)], [{ shape: x.shape, type: 'bool' }])[0];
      return { y: w.unary('HardSigmoid', x, { alpha: { float: a }, beta: { float: b } }), derivative: w.scale(w.toFloat(inside), a) };
    }
    case 'sigmoid': {
      const s = w.unary('Sigmoid', x);
      const derivative = w.mul(s, w.sub(one, s));
      return { y: s, derivative, curvature: w.mul(derivative, w.sub(one, w.scale(s, 2))) };
    }
    case 'tanh': {
      const t = w.unary('Tanh', x);
      const derivative = w.sub(one, w.mul(t, t));
      return { y: t, derivative, curvature: w.mul(w.scale(t, -2), derivative) };
    }
    case 'softplus': {
      const s = w.unary('Sigmoid', x);
      return { y: w.unary('Softplus', x), derivative: s, curvature: w.mul(s, w.sub(one, s)) };
    }
    case 'elu':
    case 'selu': {
      const selu = attrs.activation === 'selu';
      const a = selu ? (attrs.alpha ?? 1.6732632423543772) : (attrs.alpha ?? 1);
      const g = selu ? (attrs.gamma ?? 1.0507009873554805) : 1;
      const y = selu ? w.unary('Selu', x, { alpha: { float: a }, gamma: { float: g } }) : w.unary('Elu', x, { alpha: { float: a } });
      // Below zero σ' = σ'' = γα·eˣ = y + γα (no exp of large positive x).
      const below = w.add(y, w.scalar(g * a));
      const pos = positive();
      return { y, derivative: where(w, pos, w.scalar(g), below, x.shape), curvature: where(w, pos, zero, below, x.shape) };
    }
    case 'silu': {
      const s = w.unary('Sigmoid', x);
      const oneMinus = w.sub(one, s);
      const derivative = w.mul(s, w.add(one, w.mul(x, oneMinus)));
      const curvature = w.mul(w.mul(s, oneMinus), w.add(w.scalar(2), w.mul(x, w.sub(one, w.scale(s, 2)))));
      return { y: w.mul(x, s), derivative, curvature };
    }
    case 'hardSwish': {
      // x·clip(x + 3, 0, 6)/6: σ' = (2x + 3)/6 on (−3, 3), 0 below, 1 above; σ'' = 1/3 inside.
      const inside = w.opMulti('And', [w.compare('Greater', x, w.scalar(-3)), w.compare('Less', x, w.scalar(3))], [{ shape: x.shape, type: 'bool' }])[0];
      const ramp = w.add(w.scale(x, 1 / 3), w.scalar(0.5));
      const derivative = where(w, inside, ramp, w.toFloat(w.compare('Greater', x, zero)), x.shape);
      return { y: w.unary('HardSwish', x), derivative, curvature: w.scale(w.toFloat(inside), 1 / 3) };
    }
    case 'gelu': {
      // The tanh form, as the float64 network computes it: ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³).
      const x2 = w.mul(x, x);
      const u = w.scale(w.mul(x, w.add(one, w.scale(x2, GELU_CUBIC))), SQRT_2_OVER_PI);
      const t = w.unary('Tanh', u);
      const du = w.scale(w.add(one, w.scale(x2, 3 * GELU_CUBIC)), SQRT_2_OVER_PI);
      const sech2 = w.sub(one, w.mul(t, t));
      const dt = w.mul(sech2, du); // d tanh(u)/dx
      const halfX = w.scale(x, 0.5);
      const derivative = w.add(w.scale(w.add(one, t), 0.5), w.mul(halfX, dt));
      // d²tanh(u)/dx² = −2t·(dt)·u' + sech²(u)·u''; u'' = 6·0.044715·√(2/π)·x.
      const d2t = w.add(w.mul(w.scale(t, -2), w.mul(dt, du)), w.mul(sech2, w.scale(x, 6 * GELU_CUBIC * SQRT_2_OVER_PI)));
      return { y: w.mul(halfX, w.add(one, t)), derivative, curvature: w.add(dt, w.mul(halfX, d2t)) };
    }
    case 'mish': {
      // x·tanh(softplus x): σ' = T + x(1 − T²)s, σ'' = 2(1 − T²)s + x(1 − T²)s(1 − s − 2Ts), s = sigmoid(x).
      const s = w.unary('Sigmoid', x);
      const t = w.unary('Tanh', w.unary('Softplus', x));
      const sech2s = w.mul(w.sub(one, w.mul(t, t)), s);
      const derivative = w.add(t, w.mul(x, sech2s));
      const inner = w.sub(w.sub(one, s), w.scale(w.mul(t, s), 2));
      return { y: w.mul(x, t), derivative, curvature: w.add(w.scale(sech2s, 2), w.mul(x, w.mul(sech2s, inner))) };
    }
  }
}

function where(w: GraphWriter, condition: Value, a: Value, b: Value, shape: readonly number[]): Value {
  return w.op('Where', [condition, a, b], shape);
}
