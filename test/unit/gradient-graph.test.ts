// The gradient graph (src/engine/gradientGraph) run by onnxruntime-node (src/worker/gradientSession) against the
// float64 network: for small nets of every layer kind, the Inverting Gradients objective and its image gradient
// must agree with the same objective computed by the float64 network (its training step and named gradients) and
// differentiated by central finite differences over every input value, to 1e-4 of the gradient's largest entry.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { AttackNetwork } from '../../src/engine/attack/network/attackNetwork';
import { AttackSetupError } from '../../src/engine/attack/network/setupError';
import { totalVariation } from '../../src/engine/attack/gradientMatching';
import { createRng } from '../../src/engine/numerics/random';
import type { LayerGraph } from '../../src/engine/ir';
import type { NamedTensor } from '../../src/engine/readers/safetensors';
import { buildInvertingGradientsGraph, buildJacobianTransposeGraph, type InvertingGradientsOptions } from '../../src/engine/gradientGraph';
import { createGradientSession, type GradientSession } from '../../src/worker/gradientSession';
import { IrNet, type T } from './gradient-graph-nets';

// onnxruntime-node writes a telemetry log into $TMPDIR per process unless this is set before the first session.
process.env.ORT_DISABLE_TELEMETRY = '1';

const TOLERANCE = 1e-4;
const LABEL = 2;
const CLASSES = 4;

const sessions: GradientSession[] = [];
after(async () => {
  for (const s of sessions) await s.release();
});

function randomImage(n: number, seed: number, low: number, high: number): Float64Array {
  const rng = createRng(seed);
  return new Float64Array(n).map(() => low + (high - low) * rng.uniform());
}

/** The float64 objective: 1 − cos(named gradients of x, shared) over `names` + tvWeight · TV(x). */
function float64Objective(
  net: AttackNetwork,
  shared: Map<string, NamedTensor>,
  names: string[],
  options: { tvWeight: number; fromUnit?: string; shape?: [number, number, number] },
): (x: Float64Array) => number {
  const sub = options.fromUnit ? net.subNetwork(options.fromUnit) : undefined;
  const ws = sub?.createWorkspace();
  const gradientsOf = (x: Float64Array): Map<string, Float64Array> => {
    if (!sub || !ws) {
      const { trace, step } = net.trainingStep(x, LABEL);
      return new Map([...net.namedGradients(step, trace)].map(([name, t]) => [name, t.values]));
    }
    // A sub-network without batch norm: its per-unit gradients are the named ones.
    sub.lossAndGradients(x, LABEL, ws);
    const named = new Map<string, Float64Array>();
    for (const [unitId, g] of ws.gradients) {
      const node = net.graph.nodes.find((n) => n.id === unitId)!;
      named.set(node.weights.kernel!.name, g.kernel);
      if (g.bias) named.set(node.weights.bias!.name, g.bias);
    }
    return named;
  };
  return (x) => {
    const g = gradientsOf(x);
    let gt = 0;
    let gg = 0;
    let tt = 0;
    for (const name of names) {
      const a = g.get(name)!;
      const b = shared.get(name)!.values;
      for (let i = 0; i < a.length; i++) {
        gt += a[i] * b[i];
        gg += a[i] * a[i];
        tt += b[i] * b[i];
      }
    }
    return 1 - gt / Math.sqrt(gg * tt) + (options.tvWeight ? options.tvWeight * totalVariation(x, options.shape, undefined) : 0);
  };
}

/** Central differences of f at x along every coordinate; per coordinate, the step (of three) closest to `expected`. */
function finiteDifferences(f: (x: Float64Array) => number, x: Float64Array, expected: Float32Array): Float64Array {
  const out = new Float64Array(x.length);
  const probe = x.slice();
  for (let i = 0; i < x.length; i++) {
    let best = NaN;
    for (const h of [1e-5, 2e-6, 5e-5]) {
      probe[i] = x[i] + h;
      const up = f(probe);
      probe[i] = x[i] - h;
      const down = f(probe);
      probe[i] = x[i];
      const d = (up - down) / (2 * h);
      // A step across a kink (ReLU, max pooling) says nothing about the gradient: keep the closest.
      if (Number.isNaN(best) || Math.abs(d - expected[i]) < Math.abs(best - expected[i])) best = d;
    }
    out[i] = best;
  }
  return out;
}

interface Check {
  tvWeight?: number;
  parameters?: string[];
  fromUnit?: (net: AttackNetwork) => string;
  seed?: number;
}

/** Builds and runs the graph for `graph`, and returns its worst relative disagreement with the float64 objective. */
async function disagreement(graph: LayerGraph, check: Check = {}): Promise<{ gradient: number; loss: number; parameters: string[] }> {
  const net = AttackNetwork.fromGraph(graph);
  const seed = check.seed ?? 3;
  const [c, h, w] = net.inputShape;
  const truth = randomImage(c * h * w, seed, 0, 1);
  const { trace, step } = net.trainingStep(truth, LABEL);
  const shared = net.namedGradients(step, trace);
  const tvWeight = check.tvWeight ?? 0;
  const fromUnit = check.fromUnit?.(net);
  const options: InvertingGradientsOptions = { label: LABEL, shared, tvWeight, parameters: check.parameters, fromUnit };
  const built = buildInvertingGradientsGraph(net, options);
  const session = await createGradientSession(built);
  sessions.push(session);

  // The fed tensor: the image, or the true input of `fromUnit` moved away from the truth.
  const sourceSize = built.input.shape.reduce((a, b) => a * b, 1);
  let x = randomImage(sourceSize, seed + 100, -1, 1);
  if (fromUnit) {
    const truthInput = net.unitInput(trace, fromUnit);
    x = truthInput.map((v, i) => v + 0.3 * x[i]);
  }
  const { loss, gradient } = await session.evaluate(Float32Array.from(x));
  const shape = built.input.shape.length === 4 ? (built.input.shape.slice(1) as [number, number, number]) : undefined;
  const f = float64Objective(net, shared, built.parameters, { tvWeight, fromUnit, shape });
  const reference = finiteDifferences(f, x, gradient);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < reference.length; i++) scale = Math.max(scale, Math.abs(reference[i]));
  for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(gradient[i] - reference[i]));
  assert.ok(scale > 0, 'the objective does not depend on the input');
  const value = f(x);
  return { gradient: worst / scale, loss: Math.abs(loss - value) / Math.max(Math.abs(value), 1e-6), parameters: built.parameters };
}

async function expectAgreement(graph: LayerGraph, check: Check = {}): Promise<string[]> {
  const { gradient, loss, parameters } = await disagreement(graph, check);
  assert.ok(gradient < TOLERANCE, `image gradient differs from the float64 objective's by ${gradient.toExponential(2)} of its scale`);
  assert.ok(loss < 1e-5, `objective differs by ${loss.toExponential(2)} (relative)`);
  return parameters;
}

/** input → conv → (layers under test) → dense: the kind sits between parameters on both sides. */
function between(input: [number, number, number], middle: (net: IrNet, x: T) => T, seed = 1): LayerGraph {
  const net = new IrNet([1, ...input], seed);
  let x = net.conv(net.input, 4, 3, { pads: 1 });
  x = net.act(x, 'leakyRelu', { alpha: 0.2 });
  x = middle(net, x);
  return net.build(net.dense(net.flatten(x), CLASSES));
}

const leaky = (net: IrNet, x: T) => net.act(x, 'leakyRelu', { alpha: 0.2 });

describe('gradient graph vs the float64 network: convolutions', () => {
  const cases: [string, (net: IrNet, x: T) => T][] = [
    ['stride 2, asymmetric pads, odd input (the floor division drops a row)', (n, x) => leaky(n, n.conv(x, 5, 3, { stride: 2, pads: [0, 1, 1, 0] }))],
    ['stride 1, dilation 2 (flipped-kernel backward)', (n, x) => leaky(n, n.conv(x, 5, 3, { dilation: 2, pads: 2 }))],
    ['stride 2 and dilation 2 (ConvTranspose backward)', (n, x) => leaky(n, n.conv(x, 3, 3, { stride: 2, dilation: 2, pads: [2, 1, 1, 2] }))],
    ['pads wider than the kernel reaches (ConvTranspose backward)', (n, x) => leaky(n, n.conv(x, 3, 3, { pads: [3, 0, 1, 3] }))],
    ['groups 2, stride 2', (n, x) => leaky(n, n.conv(x, 6, 3, { groups: 2, stride: 2, pads: 1 }))],
    ['depthwise, multiplier 2', (n, x) => leaky(n, n.conv(x, 8, 3, { groups: 4, pads: [1, 0, 1, 2] }))],
    ['1×1 at stride 1, then 1×1 at stride 2 without bias', (n, x) => leaky(n, n.conv(leaky(n, n.conv(x, 6, 1)), 5, 1, { stride: 2, bias: false }))],
    ['5×5 kernel, stride 3', (n, x) => leaky(n, n.conv(x, 4, 5, { stride: 3, pads: 2 }))],
  ];
  for (const [name, middle] of cases) test(name, async () => void (await expectAgreement(between([3, 9, 9], middle))));

  test('a conv on the image with stride 2 (its input gradient is the one the graph outputs)', async () => {
    const net = new IrNet([1, 2, 8, 7], 5);
    const x = leaky(net, net.conv(net.input, 4, 3, { stride: 2, pads: [1, 1, 0, 1] }));
    await expectAgreement(net.build(net.dense(net.flatten(x), CLASSES)));
  });
});

describe('gradient graph vs the float64 network: dense layers and batch norm', () => {
  test('MLP (dense, ReLU, dense, tanh, dense)', async () => {
    const net = new IrNet([1, 1, 5, 5], 2);
    let x = net.act(net.dense(net.flatten(net.input), 12), 'relu');
    x = net.act(net.dense(x, 8), 'tanh');
    await expectAgreement(net.build(net.dense(x, CLASSES)));
  });

  test('conv → batch norm (its scale and offset are parameters) → ReLU', async () => {
    const parameters = await expectAgreement(between([3, 7, 7], (n, x) => n.act(n.batchNorm(n.conv(x, 5, 3, { pads: 1, bias: false })), 'relu')));
    assert.ok(parameters.includes('batchNorm_4.weight') && parameters.includes('batchNorm_4.bias'), parameters.join(', '));
  });

  test('a conv whose output a batch norm and a skip both read (the batch norm is not folded)', async () => {
    await expectAgreement(
      between([3, 6, 6], (n, x) => {
        const z = n.conv(x, 4, 3, { pads: 1 });
        return n.sum('add', n.act(n.batchNorm(z), 'relu'), z);
      }),
    );
  });

  test('batch norm on the image, after a dense layer (1-D), and one whose scale the file does not store', async () => {
    const net = new IrNet([1, 2, 6, 6], 4);
    let x = net.batchNorm(net.input);
    x = net.act(net.batchNorm(net.conv(x, 4, 3), { storedScale: false }), 'tanh');
    x = net.act(net.batchNorm(net.dense(net.flatten(x), 7)), 'sigmoid');
    const parameters = await expectAgreement(net.build(net.dense(x, CLASSES)));
    assert.ok(!parameters.includes('batchNorm_3.weight'), 'a scale the file does not store is not a parameter');
  });
});

describe('gradient graph vs the float64 network: activations', () => {
  const kinds: [string, Parameters<IrNet['act']>[1], Parameters<IrNet['act']>[2]?][] = [
    ['ReLU', 'relu'],
    ['LeakyReLU', 'leakyRelu', { alpha: 0.1 }],
    ['PReLU (per-channel slope, a parameter)', 'prelu'],
    ['sigmoid (curvature term)', 'sigmoid'],
    ['tanh (curvature term)', 'tanh'],
    ['softplus', 'softplus'],
    ['clip', 'clip', { min: -0.3, max: 0.4 }],
    ['ReLU6', 'relu6'],
    ['ELU', 'elu', { alpha: 0.7 }],
    ['SELU', 'selu'],
    ['hard sigmoid', 'hardSigmoid', { alpha: 0.3, beta: 0.4 }],
    ['hard swish', 'hardSwish'],
    ['GELU (tanh form)', 'gelu'],
    ['Mish', 'mish'],
    ['SiLU', 'silu'],
    ['linear', 'linear'],
  ];
  for (const [name, kind, parameters] of kinds) {
    test(name, async () => {
      const net = new IrNet([1, 2, 7, 7], 6);
      // Scaled so that the saturating and piecewise functions see both sides of their kinks.
      let x = net.act(net.constant(net.conv(net.input, 4, 3, { pads: 1 }), 'mul', { positive: true }), kind, parameters);
      x = net.act(net.conv(x, 4, 3, { stride: 2 }), kind, parameters);
      const names = await expectAgreement(net.build(net.dense(net.flatten(x), CLASSES)));
      if (kind === 'prelu') assert.ok(names.includes('prelu_3.slope'), names.join(', '));
    });
  }
});

describe('gradient graph vs the float64 network: pooling', () => {
  const cases: [string, (net: IrNet, x: T) => T][] = [
    ['max pooling 2×2 / 2 (windows do not overlap)', (n, x) => n.pool(x, 'maxPool', 2, 2)],
    ['max pooling 3×3 / 2, pads 1 (overlapping windows)', (n, x) => n.pool(x, 'maxPool', 3, 2, { pads: [1, 1, 1, 1] })],
    ['max pooling in ceil mode, dilation 2', (n, x) => n.pool(n.pool(x, 'maxPool', 2, 2, { ceilMode: true }), 'maxPool', 2, 1, { dilation: 2 })],
    ['global max pooling', (n, x) => n.global(x, 'globalMaxPool')],
    ['average pooling 3×3 / 2, pads 1, padding not counted', (n, x) => n.pool(x, 'avgPool', 3, 2, { pads: [1, 1, 1, 1] })],
    ['average pooling with padding counted, asymmetric pads', (n, x) => n.pool(x, 'avgPool', 2, 2, { pads: [1, 0, 0, 1], countIncludePad: true })],
    ['average pooling in ceil mode', (n, x) => n.pool(x, 'avgPool', 2, 2, { ceilMode: true })],
    ['global average pooling', (n, x) => n.global(leaky(n, n.conv(x, 6, 3)), 'globalAvgPool')],
  ];
  for (const [name, middle] of cases) test(name, async () => void (await expectAgreement(between([2, 9, 9], (n, x) => leaky(n, n.conv(middle(n, x), 4, 1))))));
});

describe('gradient graph vs the float64 network: branches and data movement', () => {
  test('residual addition with an identity skip, and one with a 1×1 stride-2 projection shortcut', async () => {
    const graph = between([3, 8, 8], (n, x) => {
      const identity = n.sum('add', n.conv(leaky(n, n.conv(x, 4, 3, { pads: 1 })), 4, 3, { pads: 1 }), x);
      const y = leaky(n, identity);
      const body = n.conv(leaky(n, n.conv(y, 6, 3, { stride: 2, pads: 1 })), 6, 3, { pads: 1 });
      const shortcut = n.batchNorm(n.conv(y, 6, 1, { stride: 2, bias: false }));
      return leaky(n, n.sum('add', body, shortcut));
    });
    await expectAgreement(graph);
  });

  test('subtraction of two branches and concatenation along channels', async () => {
    const graph = between([2, 7, 7], (n, x) => {
      const a = n.act(n.conv(x, 3, 3, { pads: 1 }), 'tanh');
      const b = leaky(n, n.conv(x, 3, 1));
      return n.concat([n.sum('sub', a, b), b, x], 1);
    });
    await expectAgreement(graph);
  });

  test('reshape, transpose, and padding (constant with a fill value, reflect, edge)', async () => {
    const graph = between([2, 6, 6], (n, x) => {
      let y = n.pad(x, [1, 0, 2, 1], 'constant', 0.3);
      y = leaky(n, n.conv(n.pad(y, [1, 2, 0, 1], 'reflect'), 3, 3));
      y = n.pad(y, [0, 1, 1, 0], 'edge');
      return n.reshape(n.transpose(y, [0, 2, 3, 1]), [1, y.shape[2], y.shape[3] * y.shape[1]]);
    });
    await expectAgreement(graph);
  });

  test('constants of the model: add, subtract (either side), multiply, divide, and a constant divided by the activation', async () => {
    const graph = between([2, 6, 6], (n, x) => {
      let y = n.constant(n.constant(x, 'add'), 'sub');
      y = n.constant(n.constant(y, 'sub', { constantFirst: true }), 'mul');
      y = n.constant(n.act(n.constant(y, 'div', { positive: true }), 'sigmoid'), 'div', { constantFirst: true });
      return y;
    });
    await expectAgreement(graph);
  });
});

describe('gradient graph: the objective', () => {
  const small = () => between([3, 8, 8], (n, x) => n.pool(leaky(n, n.conv(x, 4, 3, { pads: 1 })), 'maxPool', 2, 2));

  test('total variation adds its term and subgradient', async () => {
    await expectAgreement(small(), { tvWeight: 0.05 });
  });

  test('the cosine can run over a subset of the parameter tensors', async () => {
    const graph = small();
    const kernel = (op: string, k: number) => graph.nodes.filter((n) => n.op === op)[k].weights.kernel!.name;
    const parameters = await expectAgreement(graph, { parameters: [kernel('dense', 0), kernel('conv', 1)] });
    assert.deepEqual(parameters, [kernel('conv', 1), kernel('dense', 0)], 'graph order');
  });

  test('the graph can start at a unit inside the network (the hybrid attack)', async () => {
    await expectAgreement(small(), { fromUnit: (net) => net.parameterUnits[1], tvWeight: 0.01 });
  });

  test('the loss is 0 and the gradient vanishes (up to float32) at the true image', async () => {
    const net = AttackNetwork.fromGraph(small());
    const truth = randomImage(3 * 8 * 8, 11, 0, 1);
    const { trace, step } = net.trainingStep(truth, LABEL);
    const graph = buildInvertingGradientsGraph(net, { label: LABEL, shared: net.namedGradients(step, trace), tvWeight: 0 });
    const session = await createGradientSession(graph);
    sessions.push(session);
    const { loss, gradient } = await session.evaluate(Float32Array.from(truth));
    assert.ok(Math.abs(loss) < 1e-6, `loss ${loss}`);
    const away = await session.evaluate(Float32Array.from(truth, (v) => 1 - v));
    const norm = (g: Float32Array) => Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    assert.ok(norm(gradient) < 1e-3 * norm(away.gradient), `gradient ${norm(gradient)} vs ${norm(away.gradient)} away from the truth`);
  });
});

describe('gradient graph: Jᵀu of the parameter-gradient map (for the identifiability rank)', () => {
  async function jacobianTranspose(graph: LayerGraph, x: Float64Array, u: Float64Array, fromUnit?: string): Promise<Float32Array> {
    const net = AttackNetwork.fromGraph(graph);
    const built = buildJacobianTransposeGraph(net, { label: LABEL, fromUnit });
    assert.equal(built.inputs.u.shape[0], u.length);
    const session = await ort.InferenceSession.create(built.bytes, { intraOpNumThreads: 1 });
    try {
      const out = await session.run({
        x: new ort.Tensor('float32', Float32Array.from(x), built.inputs.x.shape),
        u: new ort.Tensor('float32', Float32Array.from(u), [u.length]),
      });
      return out[built.output].data as Float32Array;
    } finally {
      await session.release();
    }
  }

  for (const start of ['the image', 'a unit inside the network']) {
    test(`equals the float64 network's hand-written second-order sweep (gradientOfParameterGradients), from ${start}`, async () => {
      const graph = between([3, 8, 8], (n, x) => n.act(n.pool(leaky(n, n.conv(x, 5, 3, { stride: 2, pads: 1 })), 'maxPool', 2, 2), 'tanh'));
      const net = AttackNetwork.fromGraph(graph);
      const fromUnit = start === 'the image' ? undefined : net.parameterUnits[1];
      const sub = net.subNetwork(fromUnit ?? net.parameterUnits[0]);
      const ws = sub.createWorkspace();
      const { trace } = net.trainingStep(randomImage(3 * 8 * 8, 21, 0, 1), LABEL);
      const x = net.unitInput(trace, fromUnit ?? net.parameterUnits[0]).slice();
      sub.lossAndGradients(x, LABEL, ws);
      // u over the parameter tensors in graph order (kernel, bias per layer): the network's per-unit cotangents.
      const rng = createRng(22);
      const cotangents = new Map([...ws.gradients].map(([id, g]) => [id, { kernel: g.kernel.map(() => rng.normal()), bias: g.bias?.map(() => rng.normal()) }]));
      const u = Float64Array.from([...cotangents.values()].flatMap((c) => [...c.kernel, ...(c.bias ?? [])]));
      const expected = new Float64Array(x.length);
      sub.gradientOfParameterGradients(ws, cotangents, expected);
      const actual = await jacobianTranspose(graph, x, u, fromUnit);
      const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const worst = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - actual[i])), 0);
      assert.ok(worst / scale < TOLERANCE, `Jᵀu differs by ${(worst / scale).toExponential(2)} of its scale`);
    });
  }

  test('equals finite differences of ⟨g(x), u⟩ over the shared tensors, with a folded batch norm', async () => {
    const graph = between([2, 6, 6], (n, x) => n.act(n.batchNorm(n.conv(x, 4, 3, { pads: 1, bias: false })), 'sigmoid'));
    const net = AttackNetwork.fromGraph(graph);
    const built = buildJacobianTransposeGraph(net, { label: LABEL });
    const rng = createRng(5);
    const u = new Float64Array(built.inputs.u.shape[0]).map(() => rng.normal());
    const phi = (x: Float64Array): number => {
      const { trace, step } = net.trainingStep(x, LABEL);
      const named = net.namedGradients(step, trace);
      let offset = 0;
      let total = 0;
      for (const p of built.parameters) {
        const g = named.get(p.name)!.values;
        for (let i = 0; i < p.size; i++) total += g[i] * u[offset + i];
        offset += p.size;
      }
      return total;
    };
    const x = randomImage(2 * 6 * 6, 6, 0, 1);
    const actual = await jacobianTranspose(graph, x, u);
    const reference = finiteDifferences(phi, x, actual);
    const scale = reference.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const worst = reference.reduce((m, v, i) => Math.max(m, Math.abs(v - actual[i])), 0);
    assert.ok(worst / scale < TOLERANCE, `Jᵀu differs by ${(worst / scale).toExponential(2)} of its scale`);
  });
});

describe('gradient graph: errors name what is wrong', () => {
  // conv → (conv → conv) + skip from before the second conv → dense
  const net = () =>
    AttackNetwork.fromGraph(
      between([3, 8, 8], (n, x) => {
        const y = leaky(n, n.conv(x, 4, 3, { pads: 1 }));
        return n.sum('add', leaky(n, n.conv(y, 4, 3, { pads: 1 })), x);
      }),
    );
  const shared = (attack: AttackNetwork) => {
    const x = randomImage(3 * 8 * 8, 1, 0, 1);
    const { trace, step } = attack.trainingStep(x, LABEL);
    return attack.namedGradients(step, trace);
  };

  test('an unknown parameter, a missing or mis-sized shared gradient, a bad label', () => {
    const attack = net();
    const gradients = shared(attack);
    assert.throws(
      () => buildInvertingGradientsGraph(attack, { label: LABEL, shared: gradients, tvWeight: 0, parameters: ['nope'] }),
      /no trainable tensor named nope/,
    );
    const missing = new Map(gradients);
    missing.delete('conv_1.bias');
    assert.throws(
      () => buildInvertingGradientsGraph(attack, { label: LABEL, shared: missing, tvWeight: 0 }),
      (e: unknown) => e instanceof AttackSetupError && /"conv_1.bias"/.test(e.message),
    );
    const wrong = new Map(gradients);
    wrong.set('conv_1.bias', { shape: [3], values: new Float64Array(3) });
    assert.throws(() => buildInvertingGradientsGraph(attack, { label: LABEL, shared: wrong, tvWeight: 0 }), /"conv_1.bias" has 3 values, the parameter has 4/);
    assert.throws(() => buildInvertingGradientsGraph(attack, { label: CLASSES, shared: gradients, tvWeight: 0 }), RangeError);
  });

  test('a start unit whose downstream reads a tensor computed before it (a skip across the cut)', () => {
    const attack = net();
    const inner = attack.parameterUnits[2];
    // Starting at the block input itself is fine: the skip reads the fed tensor.
    assert.doesNotThrow(() => buildInvertingGradientsGraph(attack, { label: LABEL, shared: shared(attack), tvWeight: 0, fromUnit: attack.parameterUnits[1] }));
    assert.throws(
      () => buildInvertingGradientsGraph(attack, { label: LABEL, shared: shared(attack), tvWeight: 0, fromUnit: inner }),
      (e: unknown) => e instanceof AttackSetupError && /add_\d+ .*computed before/.test(e.message),
    );
  });
});
