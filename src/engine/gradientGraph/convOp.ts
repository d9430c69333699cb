// Convolution in the gradient graph. One layer needs seven convolution-sized products per iteration (forward, δx,
// ∂W, the tangent W ⊛ d̄x, the adjoint pair c_W ⊛ x and c_Wᵀ ⊛ δz, and the final Wᵀ ⊛ p̄); how each is written
// decides the speed on onnxruntime's CPU kernels, which are fast for a Conv whose kernel is an initializer (prepacked)
// and for large GEMMs, slower for ConvTranspose and much slower for a Conv whose "kernel" is an activation map:
//   - δx = Wᵀ ⊛ δz: at stride 1 a Conv with the spatially flipped, channel-swapped kernel (an initializer),
//     otherwise ConvTranspose with output_padding = the rows the forward floor division dropped;
//   - ∂W = K(δz) x: without groups, one GEMM δz [O, HoWo] × P(x)ᵀ with P(x) the patch matrix (im2col) of x, which
//     the adjoint c_W ⊛ x = c_W [O, I·k²] × P(x) reuses; with groups, a Conv over x with batch and channel axes
//     swapped whose kernel is δz, the forward stride as the dilation and the forward dilation as the stride
//     (gradient-matching.md §2: bit-identical to torch.autograd).
// The kernel and bias are the effective ones (a following batch norm folded in, affineParameters.ts), which maps
// gradients and cotangents to and from the tensors the client shares.
import type { ConvAttrs } from '../ir';
import type { AffineParameters } from './affineParameters';
import { expandTo, GradientOp } from './gradientOp';
import type { GraphWriter, Value } from './onnxWriter';

export class ConvOp extends GradientOp {
  private x!: Value;
  private kernelValue!: Value;
  private flippedKernel?: Value;
  private patches?: Value;
  private readonly outputPadding: [number, number];
  /** Pads of Wᵀ ⊛ δz written as a Conv with the flipped kernel (stride 1 only); undefined: use ConvTranspose. */
  private readonly flippedPads?: [number, number, number, number];

  constructor(
    nodeId: string,
    input: number,
    output: number,
    readonly attrs: ConvAttrs,
    readonly inShape: number[],
    readonly outShape: number[],
    /** The layer's kernel and bias, with a following batch norm folded in. */
    readonly params: AffineParameters,
  ) {
    super(nodeId, [input], output);
    this.parameters.push(...params.blocks);
    const [h, wd] = [inShape[2], inShape[3]];
    const [ho, wo] = [outShape[2], outShape[3]];
    const { kernel: k, strides: s, dilations: d, pads: p } = attrs;
    const dropped = [0, 1].map((a) => [h, wd][a] + p[a] + p[a + 2] - d[a] * (k[a] - 1) - 1 - s[a] * ([ho, wo][a] - 1));
    this.outputPadding = [dropped[0], dropped[1]];
    if (s[0] === 1 && s[1] === 1) {
      const pads = [(k[0] - 1) * d[0] - p[0], (k[1] - 1) * d[1] - p[1], h - ho + p[0], wd - wo + p[1]] as [number, number, number, number];
      if (pads.every((v) => v >= 0)) this.flippedPads = pads;
    }
  }

  private get kernelShape(): number[] {
    const { outChannels, groups, kernel } = this.attrs;
    return [outChannels, this.inShape[1] / groups, kernel[0], kernel[1]];
  }

  private get patchRows(): number {
    return (this.inShape[1] / this.attrs.groups) * this.attrs.kernel[0] * this.attrs.kernel[1];
  }

  private get outputSpan(): number {
    return this.outShape[2] * this.outShape[3];
  }

  private convAttributes(): Record<string, readonly number[] | number> {
    const { kernel, strides, dilations, pads, groups } = this.attrs;
    return { kernel_shape: kernel, strides, dilations, pads, group: groups };
  }

  private conv(w: GraphWriter, x: Value, kernel: Value, bias?: Value): Value {
    return w.op('Conv', [x, kernel, bias], this.outShape, this.convAttributes());
  }

  forward(w: GraphWriter, [x]: Value[]): Value {
    this.x = x;
    this.kernelValue = w.weight(this.params.kernel, this.kernelShape, `${this.nodeId}_W`);
    const bias = this.params.bias && w.weight(this.params.bias, [this.attrs.outChannels], `${this.nodeId}_b`);
    return this.conv(w, x, this.kernelValue, bias);
  }

  /** Wᵀ ⊛ dz (used for δx and for the final pass). */
  backward(w: GraphWriter, dy: Value, need: boolean[]): (Value | undefined)[] {
    if (!need[0]) return [undefined];
    if (!this.flippedPads) return [this.transposed(w, dy, this.kernelValue)];
    this.flippedKernel ??= w.weight(
      this.flipKernel(),
      [this.inShape[1], this.attrs.outChannels / this.attrs.groups, ...this.attrs.kernel],
      `${this.nodeId}_Wflip`,
    );
    const { kernel, dilations, groups } = this.attrs;
    return [w.op('Conv', [dy, this.flippedKernel], this.inShape, { kernel_shape: kernel, strides: [1, 1], dilations, pads: this.flippedPads, group: groups })];
  }

  /** The input gradient of a conv with `kernel` for output gradient `dz`, as onnxruntime's ConvTranspose. */
  private transposed(w: GraphWriter, dz: Value, kernel: Value): Value {
    return w.op('ConvTranspose', [dz, kernel], this.inShape, { ...this.convAttributes(), output_padding: this.outputPadding });
  }

  /** W'[i, o', a, b] = W[group(i)·O/g + o', i − group(i)·I/g, k_h − 1 − a, k_w − 1 − b]. */
  private flipKernel(): Float64Array {
    const [o, ig, kh, kw] = this.kernelShape;
    const g = this.attrs.groups;
    const og = o / g;
    const values = this.params.kernel;
    const out = new Float64Array(values.length);
    for (let i = 0; i < ig * g; i++) {
      const group = Math.floor(i / ig);
      for (let ol = 0; ol < og; ol++) {
        const source = ((group * og + ol) * ig + (i - group * ig)) * kh * kw;
        const target = (i * og + ol) * kh * kw;
        for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) out[target + a * kw + b] = values[source + (kh - 1 - a) * kw + (kw - 1 - b)];
      }
    }
    return out;
  }

  tangent(w: GraphWriter, [dx]: (Value | undefined)[]): Value | undefined {
    return dx && this.conv(w, dx, this.kernelValue);
  }

  override parameterGradients(w: GraphWriter, dy: Value): Value[] {
    return this.params.named(
      w,
      () => this.kernelGradient(w, dy),
      () => w.reduceSum(dy, [0, 2, 3], false),
    );
  }

  private kernelGradient(w: GraphWriter, dz: Value): Value {
    const cout = this.attrs.outChannels;
    if (this.attrs.groups !== 1) return this.groupedKernelGradient(w, dz);
    const grad = w.op('Gemm', [w.reshape(dz, [cout, this.outputSpan]), this.patchMatrix(w)], [cout, this.patchRows], { transB: 1 });
    return w.reshape(grad, this.kernelShape);
  }

  /** ∂W of a grouped conv: Conv over x as [I/g, g, H, W] (one channel per group) with δz [O, 1, Ho, Wo] as kernel. */
  private groupedKernelGradient(w: GraphWriter, dz: Value): Value {
    const [, cin, h, wd] = this.inShape;
    const [, cout, ho, wo] = this.outShape;
    const g = this.attrs.groups;
    const perGroup = cin / g;
    const { kernel: k, strides: s, dilations: d, pads: p } = this.attrs;
    // End pads less the rows the forward dropped, so that the result is k wide (else it is sliced).
    const dropped = this.outputPadding;
    const ends = [0, 1].map((a) => (p[a + 2] >= dropped[a] ? p[a + 2] - dropped[a] : p[a + 2]));
    const span = [0, 1].map((a) => Math.floor(([h, wd][a] + p[a] + ends[a] - s[a] * ([ho, wo][a] - 1) - 1) / d[a]) + 1);
    const x = perGroup === 1 ? this.x : w.transpose(w.reshape(this.x, [g, perGroup, h, wd]), [1, 0, 2, 3]);
    let grad = w.op('Conv', [x, w.reshape(dz, [cout, 1, ho, wo])], [perGroup, cout, ...span], {
      kernel_shape: [ho, wo],
      strides: d,
      dilations: s,
      pads: [p[0], p[1], ends[0], ends[1]],
      group: g,
    });
    if (span[0] !== k[0] || span[1] !== k[1]) grad = w.slice(grad, [0, 0], k, [2, 3]);
    // [I/g, O, kh, kw] → [O, I/g, kh, kw]
    return perGroup === 1 ? w.reshape(grad, this.kernelShape) : w.transpose(grad, [1, 0, 2, 3]);
  }

  /**
   * P(x) [I·kh·kw, Ho·Wo]: row (i, a, b) holds x[i] at the positions kernel tap (a, b) reads for every output, so that
   * W ⊛ x = W [O, I·kh·kw] × P(x). Built once (groups 1 only), by one depthwise conv whose kh·kw filters per channel
   * are one-hot (exact: every output is one input times 1), which handles strides, dilations and pads as the layer does.
   */
  private patchMatrix(w: GraphWriter): Value {
    if (this.patches) return this.patches;
    const [, cin, h, wd] = this.inShape;
    const { kernel: k, strides: s, pads: p } = this.attrs;
    const taps = k[0] * k[1];
    if (taps === 1 && s[0] === 1 && s[1] === 1 && p.every((v) => v === 0)) return (this.patches = w.reshape(this.x, [cin, h * wd]));
    const oneHot = new Float32Array(cin * taps * taps);
    for (let i = 0; i < cin; i++) for (let t = 0; t < taps; t++) oneHot[(i * taps + t) * taps + t] = 1;
    const filters = w.weight(oneHot, [cin * taps, 1, k[0], k[1]], `${this.nodeId}_taps`);
    const patches = w.op('Conv', [this.x, filters], [1, cin * taps, this.outShape[2], this.outShape[3]], { ...this.convAttributes(), group: cin });
    return (this.patches = w.reshape(patches, [this.patchRows, this.outputSpan]));
  }

  /**
   * d̄z = W ⊛ d̄x + c_W ⊛ x + c_b and p̄x = c_Wᵀ ⊛ δz, for the cotangents of the effective kernel and bias. Without
   * groups, d̄z is one GEMM c_W P(x) whose addend is the conv of d̄x: summing outside would make onnxruntime fuse
   * the add into that conv, which then runs a slower kernel.
   */
  override reverseOfBackward(
    w: GraphWriter,
    dx: (Value | undefined)[],
    dy: Value,
    cotangents: (Value | undefined)[],
  ): { output?: Value; inputs: (Value | undefined)[] } {
    const { kernel: cKernel, bias: cBias } = cotangents.some(Boolean) ? this.params.effective(w, cotangents, this.kernelShape) : {};
    const cout = this.attrs.outChannels;
    const tangent = this.tangent(w, dx);
    if (!cKernel) return { output: w.sum([tangent, cBias && expandTo(w, w.reshape(cBias, [1, cout, 1, 1]), this.outShape)]), inputs: [undefined] };
    const input = this.transposed(w, dy, cKernel);
    if (this.attrs.groups !== 1) return { output: w.sum([tangent, this.conv(w, this.x, cKernel, cBias)]), inputs: [input] };
    const bias = cBias && w.reshape(cBias, [cout, 1]);
    const addend = tangent ? w.reshape(tangent, [cout, this.outputSpan]) : bias;
    let output = w.op('Gemm', [w.reshape(cKernel, [cout, this.patchRows]), this.patchMatrix(w), addend], [cout, this.outputSpan]);
    if (tangent && bias) output = w.add(output, bias);
    return { output: w.reshape(output, this.outShape), inputs: [input] };
  }
}
