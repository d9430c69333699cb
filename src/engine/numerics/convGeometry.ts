// Geometry of one 2-D convolution (docs/algorithm.md §1, §3.2, §4.1): sizes, index maps, covered pixels.
// Convention: cross-correlation, activations NCHW flattened as c·H·W + h·W + w, kernels OIHW per group
// (weight index ((f·C_in/g + c')·k_h + a)·k_w + b'), zero padding [top, left, bottom, right].

import type { ConvAttrs, Pads4, Shape } from '../ir';
import { windowOutputSize } from '../shapes';

/** Everything that determines the linear maps of a convolution layer (batch 1, bias handled separately). */
export interface ConvGeometry {
  /** C_in. */
  readonly inChannels: number;
  /** H (input rows). */
  readonly height: number;
  /** W (input columns). */
  readonly width: number;
  /** C_out. */
  readonly outChannels: number;
  /** [k_h, k_w]. */
  readonly kernel: readonly [number, number];
  /** [s_h, s_w]. */
  readonly strides: readonly [number, number];
  /** [d_h, d_w]. */
  readonly dilations: readonly [number, number];
  /** Zero padding [top, left, bottom, right] (may be asymmetric). */
  readonly pads: Readonly<Pads4>;
  /** g; C_in and C_out are multiples of it (depthwise: g = C_in). */
  readonly groups: number;
  /** H_o = floor((H + p_t + p_b − d_h(k_h − 1) − 1)/s_h) + 1. */
  readonly outHeight: number;
  /** W_o, likewise. */
  readonly outWidth: number;
  /** C_in / g: input channels seen by each filter. */
  readonly inPerGroup: number;
  /** C_out / g: filters per group. */
  readonly outPerGroup: number;
  /** n_x = C_in·H·W (unknowns of the layer system). */
  readonly nX: number;
  /** n_z = C_out·H_o·W_o (forward equations). */
  readonly nZ: number;
  /** n_w = C_out·(C_in/g)·k_h·k_w (weight entries = gradient equations; bias excluded). */
  readonly nW: number;
}

export interface ConvGeometryInit {
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  kernel: readonly [number, number] | number;
  strides?: readonly [number, number] | number;
  dilations?: readonly [number, number] | number;
  /** [t, l, b, r]; a single number pads all four sides. */
  pads?: Readonly<Pads4> | number;
  groups?: number;
}

function pair(v: readonly [number, number] | number | undefined, dflt: number): [number, number] {
  if (v === undefined) return [dflt, dflt];
  if (typeof v === 'number') return [v, v];
  return [v[0], v[1]];
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`convolution geometry: ${name} must be an integer ≥ ${min}, got ${v}`);
}

/** Validate and complete a convolution geometry. Throws RangeError on impossible shapes. */
export function convGeometry(init: ConvGeometryInit): ConvGeometry {
  const kernel = pair(init.kernel, 1);
  const strides = pair(init.strides, 1);
  const dilations = pair(init.dilations, 1);
  const p = init.pads ?? 0;
  const pads: Pads4 = typeof p === 'number' ? [p, p, p, p] : [p[0], p[1], p[2], p[3]];
  const groups = init.groups ?? 1;
  const { inChannels, height, width, outChannels } = init;
  checkInt('inChannels', inChannels, 1);
  checkInt('height', height, 1);
  checkInt('width', width, 1);
  checkInt('outChannels', outChannels, 1);
  checkInt('groups', groups, 1);
  kernel.forEach((k) => checkInt('kernel', k, 1));
  strides.forEach((s) => checkInt('stride', s, 1));
  dilations.forEach((d) => checkInt('dilation', d, 1));
  pads.forEach((q) => checkInt('pad', q, 0));
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new RangeError(`convolution geometry: groups ${groups} must divide C_in ${inChannels} and C_out ${outChannels}`);
  }
  const outHeight = windowOutputSize(height, kernel[0], strides[0], dilations[0], pads[0], pads[2]);
  const outWidth = windowOutputSize(width, kernel[1], strides[1], dilations[1], pads[1], pads[3]);
  if (outHeight < 1 || outWidth < 1) {
    throw new RangeError(`convolution geometry: empty output (${outHeight}×${outWidth}) for a ${height}×${width} input`);
  }
  const inPerGroup = inChannels / groups;
  const outPerGroup = outChannels / groups;
  return {
    inChannels,
    height,
    width,
    outChannels,
    kernel,
    strides,
    dilations,
    pads,
    groups,
    outHeight,
    outWidth,
    inPerGroup,
    outPerGroup,
    nX: inChannels * height * width,
    nZ: outChannels * outHeight * outWidth,
    nW: outChannels * inPerGroup * kernel[0] * kernel[1],
  };
}

/**
 * Geometry of a graph conv node: `inputShape` is [N, C, H, W] or [C, H, W] (NCHW, batch ignored).
 * Only plain convolutions; convTranspose layers are not handled here.
 */
export function convGeometryFromAttrs(inputShape: Shape, attrs: ConvAttrs): ConvGeometry {
  const s = inputShape.length === 4 ? inputShape.slice(1) : inputShape;
  if (s.length !== 3) throw new RangeError(`convolution geometry: expected a CHW or NCHW input shape, got [${inputShape.join(', ')}]`);
  return convGeometry({
    inChannels: s[0],
    height: s[1],
    width: s[2],
    outChannels: attrs.outChannels,
    kernel: attrs.kernel,
    strides: attrs.strides,
    dilations: attrs.dilations,
    pads: attrs.pads,
    groups: attrs.groups,
  });
}

/** The per-group geometry: C_in/g inputs, C_out/g outputs, groups = 1 (U, K and W_op are block-diagonal over groups). */
export function groupGeometry(g: ConvGeometry): ConvGeometry {
  if (g.groups === 1) return g;
  return convGeometry({
    inChannels: g.inPerGroup,
    height: g.height,
    width: g.width,
    outChannels: g.outPerGroup,
    kernel: g.kernel,
    strides: g.strides,
    dilations: g.dilations,
    pads: g.pads,
    groups: 1,
  });
}

/** Output shape [C_out, H_o, W_o]. */
export function outputShape(g: ConvGeometry): [number, number, number] {
  return [g.outChannels, g.outHeight, g.outWidth];
}

/** Kernel shape OIHW [C_out, C_in/g, k_h, k_w]. */
export function kernelShape(g: ConvGeometry): [number, number, number, number] {
  return [g.outChannels, g.inPerGroup, g.kernel[0], g.kernel[1]];
}

/** Flat input index of (c, i, j). */
export function inputIndex(g: ConvGeometry, c: number, i: number, j: number): number {
  return (c * g.height + i) * g.width + j;
}

/** Flat output index of (f, u, v). */
export function outputIndex(g: ConvGeometry, f: number, u: number, v: number): number {
  return (f * g.outHeight + u) * g.outWidth + v;
}

/** Flat weight index of (f, c', a, b'), c' relative to the filter's group. */
export function weightIndex(g: ConvGeometry, f: number, cRel: number, a: number, b: number): number {
  return ((f * g.inPerGroup + cRel) * g.kernel[0] + a) * g.kernel[1] + b;
}

/** γ(f): group of output channel f. */
export function groupOfOutput(g: ConvGeometry, f: number): number {
  return Math.floor(f / g.outPerGroup);
}

/** Group of input channel c. */
export function groupOfInput(g: ConvGeometry, c: number): number {
  return Math.floor(c / g.inPerGroup);
}

/**
 * Index map along one axis: for kernel offset a and output position u, the input position
 * i = u·s + a·d − p_before (may fall in the padding). `validRange(a)` gives the u-range [lo, hi)
 * whose i lies inside [0, n).
 */
export interface AxisMap {
  readonly kernel: number;
  readonly outSize: number;
  readonly inSize: number;
  readonly stride: number;
  readonly dilation: number;
  readonly padBefore: number;
  /** uLo[a]: first output position whose tap a lands inside the input. */
  readonly uLo: Int32Array;
  /** uHi[a]: one past the last such output position (uHi ≤ uLo means none). */
  readonly uHi: Int32Array;
  /** covered[i] = 1 when input position i is inside at least one window (tap). */
  readonly covered: Uint8Array;
  /** Number of covered input positions. */
  readonly coveredCount: number;
}

function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

export function axisMap(inSize: number, outSize: number, kernel: number, stride: number, dilation: number, padBefore: number): AxisMap {
  const uLo = new Int32Array(kernel);
  const uHi = new Int32Array(kernel);
  const covered = new Uint8Array(inSize);
  for (let a = 0; a < kernel; a++) {
    const off = a * dilation - padBefore; // i = u·s + off
    const lo = Math.max(0, ceilDiv(-off, stride));
    const hi = Math.min(outSize, Math.floor((inSize - 1 - off) / stride) + 1);
    uLo[a] = lo;
    uHi[a] = Math.max(lo, hi);
    for (let u = lo; u < hi; u++) covered[u * stride + off] = 1;
  }
  let coveredCount = 0;
  for (let i = 0; i < inSize; i++) coveredCount += covered[i];
  return { kernel, outSize, inSize, stride, dilation, padBefore, uLo, uHi, covered, coveredCount };
}

/** Row and column index maps of a geometry. */
export function axisMaps(g: ConvGeometry): { rows: AxisMap; cols: AxisMap } {
  return {
    rows: axisMap(g.height, g.outHeight, g.kernel[0], g.strides[0], g.dilations[0], g.pads[0]),
    cols: axisMap(g.width, g.outWidth, g.kernel[1], g.strides[1], g.dilations[1], g.pads[1]),
  };
}

/**
 * Input pixels that no window ever touches (docs/algorithm.md §4.2 effect 1): zero columns of both K and W_op,
 * unrecoverable from this layer. Counted over all channels: C_in·(H·W − covered rows · covered columns).
 */
export function uncoveredPixels(g: ConvGeometry): number {
  const { rows, cols } = axisMaps(g);
  return g.inChannels * (g.height * g.width - rows.coveredCount * cols.coveredCount);
}

/** Per-channel mask (length H·W) of covered pixels. */
export function coveredMask(g: ConvGeometry): Uint8Array {
  const { rows, cols } = axisMaps(g);
  const m = new Uint8Array(g.height * g.width);
  for (let i = 0; i < g.height; i++) {
    if (!rows.covered[i]) continue;
    for (let j = 0; j < g.width; j++) m[i * g.width + j] = cols.covered[j];
  }
  return m;
}

/** A short human-readable description, e.g. "12×17×17 → Conv(20, k3×3, s2, p1) → 20×9×9". */
export function describeGeometry(g: ConvGeometry): string {
  const k = g.kernel[0] === g.kernel[1] ? `k${g.kernel[0]}` : `k${g.kernel[0]}×${g.kernel[1]}`;
  const s = g.strides[0] === g.strides[1] ? `s${g.strides[0]}` : `s${g.strides[0]}×${g.strides[1]}`;
  const pSym = g.pads.every((q) => q === g.pads[0]);
  const p = pSym ? `p${g.pads[0]}` : `p[${g.pads.join(',')}]`;
  const d = g.dilations[0] === 1 && g.dilations[1] === 1 ? '' : `, d${g.dilations[0]}×${g.dilations[1]}`;
  const gr = g.groups === 1 ? '' : `, g${g.groups}`;
  return `${g.inChannels}×${g.height}×${g.width} → Conv(${g.outChannels}, ${k}, ${s}, ${p}${d}${gr}) → ${g.outChannels}×${g.outHeight}×${g.outWidth}`;
}
