// Small layer graphs (the engine's IR, built directly) for the gradient-graph tests: one or a few layers of a kind
// between parameterised layers, so that every term of the second-order pass of that kind is exercised. Shapes are
// worked out here with the usual floor/ceil formulas; weights are seeded uniforms of PyTorch's default scale.
import type { ActivationAttrs, LayerGraph, LayerNode, NodeAttrs, PadAttrs, Shape, WeightTensor } from '../../src/engine/ir';
import { createRng, type Rng } from '../../src/engine/numerics/random';

/** A tensor of the graph being built. */
export interface T {
  name: string;
  shape: Shape;
}

const size = (shape: Shape) => shape.reduce((a, b) => a * b, 1);

export interface ConvOptions {
  stride?: number | [number, number];
  /** [top, left, bottom, right] or one number for all four. */
  pads?: number | [number, number, number, number];
  dilation?: number | [number, number];
  groups?: number;
  bias?: boolean;
}

export interface PoolOptions {
  pads?: [number, number, number, number];
  ceilMode?: boolean;
  dilation?: number;
  countIncludePad?: boolean;
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

export class IrNet {
  readonly nodes: LayerNode[] = [];
  private readonly rng: Rng;
  private count = 0;
  readonly input: T;

  constructor(inputShape: Shape, seed = 1) {
    this.rng = createRng(seed);
    this.input = { name: 'input', shape: inputShape };
  }

  weight(name: string, shape: Shape, scale: number): WeightTensor {
    const values = new Float64Array(size(shape)).map(() => scale * (2 * this.rng.uniform() - 1));
    return { name, shape, storage: 'float32', load: () => values.slice() };
  }

  private add(op: LayerNode['op'], inputs: T[], out: Shape, attrs: NodeAttrs, weights: LayerNode['weights'] = {}, note?: string): T {
    const id = `${op}_${++this.count}`;
    this.nodes.push({
      id,
      name: id,
      op,
      sourceOp: op,
      inputs: inputs.map((t) => t.name),
      outputs: [id],
      inputShapes: inputs.map((t) => t.shape),
      outputShapes: [out],
      attrs,
      weights,
      location: { format: 'onnx', nodeIndex: this.nodes.length, nodeName: id },
      status: 'ok',
      ...(note ? { note } : {}),
    });
    return { name: id, shape: out };
  }

  conv(x: T, outChannels: number, kernel: number, options: ConvOptions = {}): T {
    const [, c, h, w] = x.shape;
    const strides = pair(options.stride ?? 1);
    const dilations = pair(options.dilation ?? 1);
    const p = options.pads ?? 0;
    const pads: [number, number, number, number] = typeof p === 'number' ? [p, p, p, p] : p;
    const groups = options.groups ?? 1;
    const out = [0, 1].map((a) => Math.floor(([h, w][a] + pads[a] + pads[a + 2] - dilations[a] * (kernel - 1) - 1) / strides[a]) + 1);
    const id = `conv_${this.count + 1}`;
    const bound = 1 / Math.sqrt((c / groups) * kernel * kernel);
    const weights: LayerNode['weights'] = { kernel: this.weight(`${id}.weight`, [outChannels, c / groups, kernel, kernel], 1.5 * bound) };
    if (options.bias ?? true) weights.bias = this.weight(`${id}.bias`, [outChannels], bound);
    return this.add(
      'conv',
      [x],
      [1, outChannels, out[0], out[1]],
      { kind: 'conv', kernel: [kernel, kernel], strides, dilations, pads, groups, outChannels },
      weights,
    );
  }

  dense(x: T, out: number, bias = true): T {
    const inFeatures = size(x.shape);
    const id = `dense_${this.count + 1}`;
    const bound = 1 / Math.sqrt(inFeatures);
    const weights: LayerNode['weights'] = { kernel: this.weight(`${id}.weight`, [out, inFeatures], 1.5 * bound) };
    if (bias) weights.bias = this.weight(`${id}.bias`, [out], bound);
    return this.add('dense', [x], [1, out], { kind: 'dense', inFeatures, outFeatures: out }, weights);
  }

  act(x: T, activation: ActivationAttrs['activation'], parameters: Omit<ActivationAttrs, 'activation'> = {}): T {
    const weights: LayerNode['weights'] = {};
    if (activation === 'prelu') weights.slope = this.weight(`prelu_${this.count + 1}.slope`, [x.shape[1], 1, 1], 0.4);
    return this.add('activation', [x], x.shape, { kind: 'activation', activation, ...parameters }, weights);
  }

  batchNorm(x: T, { storedScale = true }: { storedScale?: boolean } = {}): T {
    const c = x.shape[1];
    const id = `batchNorm_${this.count + 1}`;
    const shifted = (name: string, low: number, high: number) => {
      const w = this.weight(name, [c], (high - low) / 2);
      const values = w.load().map((v) => v + (high + low) / 2);
      return { ...w, load: () => values.slice() };
    };
    const scale = shifted(`${id}.weight`, 0.5, 1.5);
    return this.add(
      'batchNorm',
      [x],
      x.shape,
      { kind: 'norm', epsilon: 1e-5, trainingMode: false },
      {
        scale: storedScale ? scale : { ...scale, storage: 'implicit' },
        bias: shifted(`${id}.bias`, -0.5, 0.5),
        mean: shifted(`${id}.running_mean`, -0.5, 0.5),
        variance: shifted(`${id}.running_var`, 0.5, 1.5),
      },
    );
  }

  pool(x: T, op: 'maxPool' | 'avgPool', kernel: number, stride: number, options: PoolOptions = {}): T {
    const [n, c, h, w] = x.shape;
    const pads = options.pads ?? [0, 0, 0, 0];
    const dilation = options.dilation ?? 1;
    const round = options.ceilMode ? Math.ceil : Math.floor;
    const out = [0, 1].map((a) => round(([h, w][a] + pads[a] + pads[a + 2] - dilation * (kernel - 1) - 1) / stride) + 1);
    return this.add(op, [x], [n, c, out[0], out[1]], {
      kind: 'pool',
      kernel: [kernel, kernel],
      strides: [stride, stride],
      dilations: [dilation, dilation],
      pads,
      ceilMode: options.ceilMode ?? false,
      countIncludePad: options.countIncludePad ?? false,
    });
  }

  global(x: T, op: 'globalAvgPool' | 'globalMaxPool'): T {
    return this.add(op, [x], [x.shape[0], x.shape[1], 1, 1], { kind: 'none' });
  }

  flatten(x: T): T {
    return this.add('flatten', [x], [1, size(x.shape)], { kind: 'axis', axis: 1 });
  }

  reshape(x: T, shape: Shape): T {
    return this.add('reshape', [x], shape, { kind: 'none' });
  }

  transpose(x: T, perm: number[]): T {
    return this.add(
      'transpose',
      [x],
      perm.map((p) => x.shape[p]),
      { kind: 'transpose', perm },
    );
  }

  pad(x: T, pads: PadAttrs['pads'], mode: PadAttrs['mode'], value = 0): T {
    const [n, c, h, w] = x.shape;
    return this.add('pad', [x], [n, c, h + pads[0] + pads[2], w + pads[1] + pads[3]], { kind: 'pad', pads, mode, value });
  }

  /** x op c for a per-channel constant c ([C, 1, 1]); `constantFirst` writes c op x (TF.js readers note it). */
  constant(x: T, op: 'add' | 'sub' | 'mul' | 'div', { constantFirst = false, positive = false } = {}): T {
    const c = this.weight(`const_${this.count + 1}`, [x.shape[1], 1, 1], 0.8);
    const values = c.load().map((v) => (positive ? 1 + Math.abs(v) : v));
    return this.add(
      op,
      [x],
      x.shape,
      { kind: 'none' },
      { operand: { ...c, load: () => values.slice() } },
      constantFirst ? 'the constant is the left operand' : undefined,
    );
  }

  sum(op: 'add' | 'sub', a: T, b: T): T {
    return this.add(op, [a, b], a.shape, { kind: 'none' });
  }

  concat(parts: T[], axis: number): T {
    const shape = [...parts[0].shape];
    shape[axis] = parts.reduce((n, p) => n + p.shape[axis], 0);
    return this.add('concat', parts, shape, { kind: 'axis', axis });
  }

  /** The graph with `output` as its one output (the logits). */
  build(output: T): LayerGraph {
    return {
      format: 'onnx',
      file: 'gradient-graph-test.onnx',
      inputs: [{ name: this.input.name, shape: this.input.shape }],
      outputs: [output],
      nodes: this.nodes,
      warnings: [],
    };
  }
}
