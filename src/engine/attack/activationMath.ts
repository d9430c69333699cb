// Element-wise activation maths for the float64 network and the closed-form recursion (docs/algorithm.md §3.3):
// the function, its first and second derivative from the pre-activation z, and — for the recursion — the inverse
// and the derivative expressed from the output y = σ(z). `slope` is PReLU's per-channel slope (index by channel).
import type { ActivationAttrs } from '../ir';

/** Clip for the inverse of saturating functions (S3 clips tanh at ±0.9999; we clip closer, in float64). */
const SATURATION_EPS = 1e-12;

export interface ActivationMath {
  /** y = σ(z). */
  value(z: number, channel: number): number;
  /** σ'(z). */
  derivative(z: number, channel: number): number;
  /** σ''(z) (zero almost everywhere for piecewise-linear functions). */
  secondDerivative(z: number, channel: number): number;
  /** z = σ⁻¹(y); NaN where the output does not determine z (inactive ReLU units). */
  inverse(y: number, channel: number): number;
  /** σ'(z) computed from y = σ(z) (exact for the invertible functions; 0 for inactive ReLU units). */
  derivativeFromOutput(y: number, channel: number): number;
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export function activationMath(attrs: ActivationAttrs, slope?: Float64Array): ActivationMath {
  switch (attrs.activation) {
    case 'linear':
      return piecewiseLinear(
        () => 1,
        () => 1,
      );
    case 'relu':
      return piecewiseLinear(
        () => 0,
        () => 1,
      );
    case 'leakyRelu': {
      const a = attrs.alpha ?? 0.01;
      return piecewiseLinear(
        () => a,
        () => 1,
      );
    }
    case 'prelu': {
      if (!slope) throw new Error('PReLU needs its slope tensor');
      return piecewiseLinear(
        (c) => slope[slope.length === 1 ? 0 : c],
        () => 1,
      );
    }
    case 'relu6':
    case 'clip': {
      const lo = attrs.activation === 'relu6' ? 0 : (attrs.min ?? -Infinity);
      const hi = attrs.activation === 'relu6' ? 6 : (attrs.max ?? Infinity);
      return {
        value: (z) => Math.min(hi, Math.max(lo, z)),
        derivative: (z) => (z > lo && z < hi ? 1 : 0),
        secondDerivative: () => 0,
        inverse: (y) => (y > lo && y < hi ? y : NaN),
        derivativeFromOutput: (y) => (y > lo && y < hi ? 1 : 0),
      };
    }
    case 'hardSigmoid': {
      const a = attrs.alpha ?? 0.2;
      const b = attrs.beta ?? 0.5;
      return {
        value: (z) => Math.min(1, Math.max(0, a * z + b)),
        derivative: (z) => (a * z + b > 0 && a * z + b < 1 ? a : 0),
        secondDerivative: () => 0,
        inverse: (y) => (y > 0 && y < 1 ? (y - b) / a : NaN),
        derivativeFromOutput: (y) => (y > 0 && y < 1 ? a : 0),
      };
    }
    case 'sigmoid':
      return {
        value: sigmoid,
        derivative: (z) => {
          const s = sigmoid(z);
          return s * (1 - s);
        },
        secondDerivative: (z) => {
          const s = sigmoid(z);
          return s * (1 - s) * (1 - 2 * s);
        },
        inverse: (y) => {
          const c = Math.min(1 - SATURATION_EPS, Math.max(SATURATION_EPS, y));
          return Math.log(c / (1 - c));
        },
        derivativeFromOutput: (y) => y * (1 - y),
      };
    case 'tanh':
      return {
        value: Math.tanh,
        derivative: (z) => 1 - Math.tanh(z) ** 2,
        secondDerivative: (z) => {
          const t = Math.tanh(z);
          return -2 * t * (1 - t * t);
        },
        inverse: (y) => Math.atanh(Math.min(1 - SATURATION_EPS, Math.max(-1 + SATURATION_EPS, y))),
        derivativeFromOutput: (y) => 1 - y * y,
      };
    case 'softplus':
      return {
        value: (z) => (z > 30 ? z : Math.log1p(Math.exp(z))),
        derivative: sigmoid,
        secondDerivative: (z) => {
          const s = sigmoid(z);
          return s * (1 - s);
        },
        // log(e^y − 1) = y + log(1 − e^{−y}), stable for large y.
        inverse: (y) => (y > 0 ? y + Math.log(-Math.expm1(-y)) : NaN),
        derivativeFromOutput: (y) => -Math.expm1(-y),
      };
    case 'elu':
    case 'selu': {
      const selu = attrs.activation === 'selu';
      const a = selu ? (attrs.alpha ?? 1.6732632423543772) : (attrs.alpha ?? 1);
      const g = selu ? (attrs.gamma ?? 1.0507009873554805) : 1;
      return {
        value: (z) => g * (z > 0 ? z : a * Math.expm1(z)),
        derivative: (z) => g * (z > 0 ? 1 : a * Math.exp(z)),
        secondDerivative: (z) => (z > 0 ? 0 : g * a * Math.exp(z)),
        inverse: (y) => (y > 0 ? y / g : y / (g * a) > -1 ? Math.log1p(y / (g * a)) : NaN),
        derivativeFromOutput: (y) => (y > 0 ? g : g * a + y),
      };
    }
    case 'gelu':
    case 'mish':
    case 'silu':
    case 'hardSwish':
      return nonInvertible(attrs);
  }
}

/** σ(z) = slope·z below 0, 1·z above (ReLU, LeakyReLU, PReLU, identity). */
function piecewiseLinear(below: (channel: number) => number, above: (channel: number) => number): ActivationMath {
  return {
    value: (z, c) => (z >= 0 ? above(c) * z : below(c) * z),
    derivative: (z, c) => (z > 0 ? above(c) : below(c)),
    secondDerivative: () => 0,
    inverse: (y, c) => {
      if (y > 0) return y / above(c);
      const s = below(c);
      if (y === 0) return s === 0 ? NaN : 0;
      return s === 0 ? NaN : y / s;
    },
    derivativeFromOutput: (y, c) => (y > 0 ? above(c) : below(c)),
  };
}

function nonInvertible(attrs: ActivationAttrs): ActivationMath {
  const s = (z: number) => sigmoid(z);
  const fail = () => NaN;
  switch (attrs.activation) {
    case 'silu':
      return {
        value: (z) => z * s(z),
        derivative: (z) => s(z) * (1 + z * (1 - s(z))),
        secondDerivative: (z) => s(z) * (1 - s(z)) * (2 + z * (1 - 2 * s(z))),
        inverse: fail,
        derivativeFromOutput: fail,
      };
    default: {
      // GELU (tanh form), Mish and HardSwish: forward only; the recursion never inverts them.
      const f = (z: number): number => {
        if (attrs.activation === 'gelu') return 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3)));
        if (attrs.activation === 'mish') return z * Math.tanh(Math.log1p(Math.exp(z)));
        return (z * Math.min(6, Math.max(0, z + 3))) / 6;
      };
      const h = 1e-5;
      return {
        value: f,
        derivative: (z) => (f(z + h) - f(z - h)) / (2 * h),
        secondDerivative: (z) => (f(z + h) - 2 * f(z) + f(z - h)) / (h * h),
        inverse: fail,
        derivativeFromOutput: fail,
      };
    }
  }
}
