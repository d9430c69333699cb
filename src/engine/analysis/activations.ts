// Which activations the closed-form recursion can pass (docs/algorithm.md §3.3, §5.5).
import type { ActivationAttrs } from '../ir';

/**
 * - invertible: z = σ⁻¹(y) and σ'(z) follow from the output alone (LeakyReLU, Sigmoid, Tanh, Softplus, ELU, ...).
 * - rconv: not invertible, but the R-CONV route applies: δz is exact and forward rows remain for active units
 *   (ReLU and its clipped variants).
 * - broken: no closed-form inverse (non-monotone or without a usable derivative from the output).
 */
export type ActivationRoute = 'invertible' | 'rconv' | 'broken';

export function activationRoute(attrs: ActivationAttrs): ActivationRoute {
  switch (attrs.activation) {
    case 'linear':
    case 'sigmoid':
    case 'tanh':
    case 'softplus':
    case 'selu':
      return 'invertible';
    case 'leakyRelu':
      return (attrs.alpha ?? 0.01) > 0 ? 'invertible' : 'rconv';
    case 'elu':
      return (attrs.alpha ?? 1) > 0 ? 'invertible' : 'rconv';
    case 'prelu':
      // Per-channel slopes from the file; a zero slope behaves like ReLU.
      return 'invertible';
    case 'relu':
    case 'relu6':
    case 'clip':
    case 'hardSigmoid':
      return 'rconv';
    case 'hardSwish':
    case 'gelu':
    case 'mish':
    case 'silu':
      return 'broken';
  }
}

export function activationLabel(attrs: ActivationAttrs): string {
  switch (attrs.activation) {
    case 'leakyRelu':
      return `LeakyReLU(${attrs.alpha ?? 0.01})`;
    case 'clip':
      return `Clip(${attrs.min ?? '-∞'}, ${attrs.max ?? '∞'})`;
    case 'elu':
      return `ELU(${attrs.alpha ?? 1})`;
    default:
      return attrs.activation === 'linear' ? 'Identity' : attrs.activation.charAt(0).toUpperCase() + attrs.activation.slice(1);
  }
}
