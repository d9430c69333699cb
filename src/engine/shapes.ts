// Output-size arithmetic shared by every reader (docs/algorithm.md §1).
import type { Pads4 } from './ir';

/** Output length of a convolution or pooling window along one axis (floor, or ceil for ceil-mode pooling). */
export function windowOutputSize(
  input: number,
  kernel: number,
  stride: number,
  dilation: number,
  padBefore: number,
  padAfter: number,
  ceilMode = false,
): number {
  const span = dilation * (kernel - 1) + 1;
  const room = input + padBefore + padAfter - span;
  if (room < 0) return 0;
  let out = (ceilMode ? Math.ceil(room / stride) : Math.floor(room / stride)) + 1;
  // ceil mode may not start a window entirely inside the right padding (PyTorch/ONNX rule).
  if (ceilMode && (out - 1) * stride >= input + padBefore) out -= 1;
  return out;
}

/**
 * Padding for "same" output size (TF 'SAME', ONNX SAME_UPPER/SAME_LOWER): output = ceil(input / stride).
 * Upper puts the odd extra pixel after (bottom/right), as TensorFlow does.
 */
export function samePadding(input: number, kernel: number, stride: number, dilation: number, upper = true): [number, number] {
  const out = Math.ceil(input / stride);
  const span = dilation * (kernel - 1) + 1;
  const total = Math.max((out - 1) * stride + span - input, 0);
  const small = Math.floor(total / 2);
  return upper ? [small, total - small] : [total - small, small];
}

/** [top, left, bottom, right] for 2-D "same" padding. */
export function samePads2d(hw: [number, number], kernel: [number, number], strides: [number, number], dilations: [number, number], upper = true): Pads4 {
  const [t, b] = samePadding(hw[0], kernel[0], strides[0], dilations[0], upper);
  const [l, r] = samePadding(hw[1], kernel[1], strides[1], dilations[1], upper);
  return [t, l, b, r];
}

/** Output spatial size of a 2-D window op. */
export function windowOutput2d(
  hw: [number, number],
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number],
  pads: Pads4,
  ceilMode = false,
): [number, number] {
  return [
    windowOutputSize(hw[0], kernel[0], strides[0], dilations[0], pads[0], pads[2], ceilMode),
    windowOutputSize(hw[1], kernel[1], strides[1], dilations[1], pads[1], pads[3], ceilMode),
  ];
}

/** Output size of a transposed convolution along one axis (ONNX ConvTranspose formula). */
export function transposedOutputSize(
  input: number,
  kernel: number,
  stride: number,
  dilation: number,
  padBefore: number,
  padAfter: number,
  outputPadding: number,
): number {
  return stride * (input - 1) + outputPadding + (kernel - 1) * dilation + 1 - padBefore - padAfter;
}
