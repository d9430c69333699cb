// ONNX reader on broken, hostile or mislabelled files: each case is a typed ModelReadError naming the file, the
// place and a one-line reason; never a crash or a hang.
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { Writer } from 'protobufjs/minimal';
import { isModelReadError } from '../../src/engine/errors';
import { DEFAULT_LIMITS } from '../../src/engine/options';
import { readModelFile } from './files';
import {
  assertReadError,
  encodeModel,
  findNode,
  FLOAT,
  int64Tensor,
  float32Bytes,
  node,
  read,
  readSpec,
  removeTempDirs,
  tempDir,
  tensor,
  valueInfo,
  writeFile,
  type ModelSpec,
} from './onnx-helpers';

const MODELS = path.resolve(__dirname, '../fixtures/third-party');

after(removeTempDirs);
const MNIST = path.join(MODELS, 'ortex-mnist-cntk', 'mnist.onnx');

function writeSpec(spec: ModelSpec, dir = tempDir()): string {
  return writeFile(dir, 'model.onnx', encodeModel(spec));
}

/** X[1,2,4,4] -> Conv(W[3,2,3,3]) -> Y: the smallest model that has a weight. */
function convSpec(weight: onnx.ITensorProto = tensor('w', [3, 2, 3, 3], new Array(54).fill(0.5))): ModelSpec {
  return {
    nodes: [node('Conv', ['x', 'w'], ['y'], {}, 'conv')],
    inputs: [valueInfo('x', [1, 2, 4, 4])],
    outputs: [valueInfo('y', [1, 3, 2, 2])],
    initializers: [weight],
  };
}

function externalWeight(location: string, offset = 0, length = 54 * 4): onnx.ITensorProto {
  return {
    name: 'w',
    dims: [3, 2, 3, 3],
    dataType: 1,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ],
  };
}

/** Deterministic pseudo-random bytes (xorshift). */
function noise(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

describe('ONNX reader: files that are not ONNX models', () => {
  it('empty file', async () => {
    const file = writeFile(tempDir(), 'empty.onnx', new Uint8Array(0));
    await assertReadError(() => read(file), 'empty-file', file);
  });

  it('garbage bytes', async () => {
    const bytes = noise(4096, 7);
    bytes[0] = 0xff;
    const file = writeFile(tempDir(), 'garbage.onnx', bytes);
    await assertReadError(() => read(file), 'not-a-model', file, /not an ONNX protobuf/);
  });

  it('a truncated protobuf', async () => {
    const whole = fs.readFileSync(MNIST);
    const file = writeFile(tempDir(), 'cut.onnx', whole.subarray(0, Math.floor(whole.length / 2)));
    const error = await assertReadError(() => read(file), 'truncated', file, /ends in the middle/);
    assert.match(error.where, /^byte \d+$/);
  });

  it('a text file named .onnx', async () => {
    const file = writeFile(tempDir(), 'notes.onnx', '# Model card\n\nThis folder should hold the exported classifier.\n');
    await assertReadError(() => read(file), 'not-a-model', file, /text file.*# Model card/);
  });

  it('a TF.js model.json renamed to .onnx', async () => {
    const file = writeFile(tempDir(), 'model.onnx', JSON.stringify({ format: 'layers-model', modelTopology: {} }));
    await assertReadError(() => read(file), 'not-a-model', file, /text file/);
  });

  it('a TFLite flatbuffer named .onnx', async () => {
    const bytes = noise(256, 3);
    bytes.set([0x1c, 0, 0, 0, ...new TextEncoder().encode('TFL3')]);
    const file = writeFile(tempDir(), 'model.onnx', bytes);
    await assertReadError(() => read(file), 'not-a-model', file, /TensorFlow Lite/);
  });

  it('a ZIP archive (PyTorch checkpoint) named .onnx', async () => {
    const bytes = noise(256, 5);
    bytes.set([0x50, 0x4b, 0x03, 0x04]);
    const file = writeFile(tempDir(), 'model.onnx', bytes);
    await assertReadError(() => read(file), 'not-a-model', file, /ZIP/);
  });

  it('a protobuf without ir_version', async () => {
    const file = writeFile(tempDir(), 'model.onnx', onnx.ModelProto.encode({ producerName: 'x', graph: { node: [node('Relu', ['x'], ['y'])] } }).finish());
    await assertReadError(() => read(file), 'not-a-model', file, /ir_version/);
  });

  it('an IR version older than 3', async () => {
    const file = writeFile(tempDir(), 'model.onnx', encodeModel({ ...convSpec(), irVersion: 2 }));
    await assertReadError(() => read(file), 'unsupported-version', file, /IR version 2/);
  });

  it('a model with no graph', async () => {
    const file = writeFile(tempDir(), 'model.onnx', onnx.ModelProto.encode({ irVersion: 7, opsetImport: [{ version: 13 }] }).finish());
    await assertReadError(() => read(file), 'invalid-model', file, /no graph/);
  });

  it('a graph with no nodes', async () => {
    const file = writeSpec({ nodes: [], inputs: [valueInfo('x', [1, 4])], outputs: [valueInfo('x', [1, 4])] });
    await assertReadError(() => read(file), 'invalid-model', file, /no nodes/);
  });

  it('a node whose op_type is not an operator name', async () => {
    const file = writeSpec({ nodes: [node('Re lu\u0001', ['x'], ['y'])], inputs: [valueInfo('x', [1, 4])], outputs: [valueInfo('y', [1, 4])] });
    const error = await assertReadError(() => read(file), 'invalid-model', file, /not an operator name/);
    assert.equal(error.where, 'node 0 (Re lu\u0001)');
  });

  it('a file over maxFileBytes (checked once, by readModel)', async () => {
    await assertReadError(() => readModelFile(MNIST, { maxFileBytes: 1000 }), 'too-large', MNIST, /limit/);
  });

  it('a path that cannot be read as a file', async () => {
    const dir = tempDir();
    await assertReadError(() => read(dir), 'invalid-model', dir, /not a regular file/);
  });
});

describe('ONNX reader: broken graphs', () => {
  it('a cyclic graph', async () => {
    const file = writeSpec({
      nodes: [
        node('Relu', ['x'], ['a'], {}, 'start'),
        node('Add', ['a', 'c'], ['b'], {}, 'join'),
        node('Relu', ['b'], ['c'], {}, 'loop'),
        node('Relu', ['b'], ['y'], {}, 'end'),
      ],
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 4])],
    });
    const error = await assertReadError(() => read(file), 'cyclic-graph', file, /cycle: (join -> loop -> join|loop -> join -> loop)/);
    assert.match(error.where, /^node [12] \((join|loop)\)$/);
  });

  it('an input produced by nothing', async () => {
    const file = writeSpec({ nodes: [node('Add', ['x', 'ghost'], ['y'], {}, 'add')], inputs: [valueInfo('x', [1, 4])], outputs: [valueInfo('y', [1, 4])] });
    const error = await assertReadError(() => read(file), 'invalid-model', file, /"ghost" is not produced/);
    assert.equal(error.where, 'node 0 (add)');
  });

  it('a tensor produced twice', async () => {
    const file = writeSpec({
      nodes: [node('Relu', ['x'], ['y']), node('Sigmoid', ['x'], ['y'])],
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 4])],
    });
    await assertReadError(() => read(file), 'invalid-model', file, /produced more than once/);
  });

  it('more nodes than maxNodes', async () => {
    const nodes = Array.from({ length: 20 }, (_, i) => node('Relu', [i === 0 ? 'x' : `t${i - 1}`], [i === 19 ? 'y' : `t${i}`]));
    const file = writeSpec({ nodes, inputs: [valueInfo('x', [1, 4])], outputs: [valueInfo('y', [1, 4])] });
    await assertReadError(() => read(file, { maxNodes: 10 }), 'too-large', file, /more than 10 nodes/);
  });

  it('a convolution whose kernel does not fit its input channels', async () => {
    const spec = convSpec();
    spec.inputs = [valueInfo('x', [1, 5, 4, 4])];
    const file = writeSpec(spec);
    const error = await assertReadError(() => read(file), 'bad-shape', file, /Conv: input \[1,5,4,4\] does not fit kernel \[3,2,3,3\]/);
    assert.equal(error.where, 'node 0 (conv)');
  });

  it('a Reshape to an impossible shape', async () => {
    const file = writeSpec({
      nodes: [node('Reshape', ['x', 'shape'], ['y'], {}, 'reshape')],
      inputs: [valueInfo('x', [1, 10])],
      outputs: [valueInfo('y', [3, 4])],
      initializers: [{ name: 'shape', dims: [2], dataType: 7, int64Data: [3, 4] }],
    });
    await assertReadError(() => read(file), 'bad-shape', file, /cannot reshape \[1,10\]/);
  });
});

/**
 * A model whose `If` then_branch nests `depth` graphs deep, written with Writer.fork/ldelim: onnx-proto's encoder
 * recurses per level and could not write 5000 levels itself. Every graph is "g<level>" and holds one If node.
 */
function nestedIfModel(depth: number, nestTypes = false): Uint8Array {
  const writer = Writer.create();
  writer.uint32((1 << 3) | 0).uint32(8); // ir_version
  writer
    .uint32((8 << 3) | 2)
    .fork()
    .uint32((2 << 3) | 0)
    .uint32(13)
    .ldelim(); // opset_import { version: 13 }
  const enterGraph = (level: number) => {
    writer
      .fork()
      .uint32((2 << 3) | 2)
      .string(`g${level}`); // GraphProto.name
    if (nestTypes && level === 0) {
      // input "x" of type sequence(sequence(...(tensor))) `depth` deep
      writer
        .uint32((11 << 3) | 2)
        .fork()
        .uint32((1 << 3) | 2)
        .string('x');
      writer.uint32((2 << 3) | 2).fork();
      for (let i = 0; i < depth; i++)
        writer
          .uint32((4 << 3) | 2)
          .fork()
          .uint32((1 << 3) | 2)
          .fork();
      for (let i = 0; i < depth; i++) writer.ldelim().ldelim();
      writer.ldelim().ldelim();
    }
    writer
      .uint32((1 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('c')
      .uint32((2 << 3) | 2)
      .string(`y${level}`)
      .uint32((4 << 3) | 2)
      .string('If');
    writer
      .uint32((5 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('then_branch')
      .uint32((20 << 3) | 0)
      .uint32(5);
  };
  writer.uint32((7 << 3) | 2); // ModelProto.graph
  const levels = nestTypes ? 1 : depth + 1;
  for (let level = 0; level < levels; level++) {
    if (level > 0) writer.uint32((6 << 3) | 2); // AttributeProto.g
    enterGraph(level);
  }
  // Close each level: the attribute, the node, the graph.
  for (let level = 0; level < levels; level++) writer.ldelim().ldelim().ldelim();
  return writer.finish();
}

describe('ONNX reader: deep nesting', () => {
  it('If subgraphs nested 200 or 5000 deep get the same located error (5000 used to overflow the decoder stack)', async () => {
    const errors = [];
    for (const depth of [200, 5000]) {
      const file = writeFile(tempDir(), 'model.onnx', nestedIfModel(depth));
      errors.push(await assertReadError(() => read(file), 'invalid-model', file, /subgraphs are nested more than 32 deep/));
    }
    assert.deepEqual(
      errors.map((e) => [e.where, e.reason]),
      [
        ['graph "g33"', 'subgraphs are nested more than 32 deep'],
        ['graph "g33"', 'subgraphs are nested more than 32 deep'],
      ],
    );
  });

  it('32 levels are still accepted by the nesting check', async () => {
    // The If nodes read a condition "c" that nothing produces: the error comes from the graph walk, after the scan.
    const file = writeFile(tempDir(), 'model.onnx', nestedIfModel(32));
    await assertReadError(() => read(file), 'invalid-model', file, /input "c" is not produced/);
  });

  it('a tensor type nested 5000 deep (sequence of sequence ...) is refused before decoding', async () => {
    const file = writeFile(tempDir(), 'model.onnx', nestedIfModel(5000, true));
    await assertReadError(() => read(file), 'invalid-model', file, /tensor types are nested more than 32 deep/);
  });
});

describe('ONNX reader: attribute values outside their definition', () => {
  /** X[1,4] -> Gemm(W[3,4], transB=1 unless overridden) -> Y[1,3]. */
  function gemmFile(attrs: Record<string, number | { float: number }>): string {
    return writeSpec({
      nodes: [node('Gemm', ['x', 'w'], ['y'], { transB: 1, ...attrs }, 'fc')],
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 3])],
      initializers: [tensor('w', [3, 4], new Array(12).fill(0.5))],
    });
  }

  it('Gemm transB=5 (and transA=2) is an error at the node, not "not transposed" (it used to be accepted)', async () => {
    const file = gemmFile({ transB: 5 });
    const error = await assertReadError(() => read(file), 'invalid-model', file, /Gemm: transB=5 must be 0 or 1/);
    assert.equal(error.where, 'node 0 (fc)');
    const transA = gemmFile({ transA: 2 });
    await assertReadError(() => read(transA), 'invalid-model', transA, /transA=2 must be 0 or 1/);
  });

  it('Gemm alpha or beta NaN or infinite is an error at the node', async () => {
    for (const [name, value] of [
      ['alpha', NaN],
      ['beta', Infinity],
    ] as const) {
      const file = gemmFile({ [name]: { float: value } });
      await assertReadError(() => read(file), 'invalid-model', file, new RegExp(`${name}=${value} must be a finite number`));
    }
  });

  it('pooling ceil_mode=3, a NaN batch-norm epsilon and a NaN LeakyRelu slope are errors at their nodes', async () => {
    const pool = writeSpec({
      nodes: [node('MaxPool', ['x'], ['y'], { kernel_shape: [2, 2], ceil_mode: 3 }, 'pool')],
      inputs: [valueInfo('x', [1, 2, 4, 4])],
      outputs: [valueInfo('y', [1, 2, 2, 2])],
    });
    await assertReadError(() => read(pool), 'invalid-model', pool, /MaxPool: ceil_mode=3 must be 0 or 1/);
    const bn = writeSpec({
      nodes: [node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['y'], { epsilon: { float: NaN } }, 'bn')],
      inputs: [valueInfo('x', [1, 2, 4, 4])],
      outputs: [valueInfo('y', [1, 2, 4, 4])],
      initializers: ['s', 'b', 'm', 'v'].map((name) => tensor(name, [2], [1, 1])),
    });
    await assertReadError(() => read(bn), 'invalid-model', bn, /epsilon=NaN must be a finite number of at least 0/);
    const leaky = writeSpec({
      nodes: [node('LeakyRelu', ['x'], ['y'], { alpha: { float: NaN } }, 'act')],
      inputs: [valueInfo('x', [1, 2])],
      outputs: [valueInfo('y', [1, 2])],
    });
    await assertReadError(() => read(leaky), 'invalid-model', leaky, /LeakyRelu: alpha=NaN/);
  });

  it('the valid values still read: transB=0/1, finite alpha', async () => {
    assert.equal((await read(gemmFile({ transB: 1, alpha: { float: 2 } }))).nodes[0]!.op, 'dense');
  });
});

describe('ONNX reader: absurd shapes are refused before allocating', () => {
  it('a negative input dimension', async () => {
    const spec = convSpec();
    spec.inputs = [valueInfo('x', [1, 2, -4, 4])];
    const file = writeSpec(spec);
    const error = await assertReadError(() => read(file), 'bad-shape', file, /dimension 2 is declared as -4/);
    assert.equal(error.where, 'input "x"');
  });

  it('an input over maxTensorElements', async () => {
    const spec = convSpec();
    spec.inputs = [valueInfo('x', [1, 2, 2 ** 20, 2 ** 20])];
    const file = writeSpec(spec);
    await assertReadError(() => read(file), 'too-large', file, /2199023255552 elements, over the 2147483648-element limit/);
  });

  it('an initializer declaring 10^15 elements (and no data)', async () => {
    const file = writeSpec(convSpec({ name: 'w', dims: [100000, 100000, 100000], dataType: 1 }));
    const error = await assertReadError(() => read(file), 'too-large', file, /element limit/);
    assert.match(error.where, /initializer 0 \("w"\)/);
  });

  it('a negative initializer dimension', async () => {
    const file = writeSpec(convSpec({ name: 'w', dims: [3, -2, 3, 3], dataType: 1 }));
    await assertReadError(() => read(file), 'bad-shape', file, /dimension -2/);
  });

  it('a ConstantOfShape asking for a huge tensor', async () => {
    const file = writeSpec({
      nodes: [node('ConstantOfShape', ['dims'], ['big']), node('Add', ['x', 'big'], ['y'])],
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 4])],
      initializers: [{ name: 'dims', dims: [3], dataType: 7, int64Data: [1e6, 1e6, 1e6] }],
    });
    await assertReadError(() => read(file), 'too-large', file);
  });

  it('a dynamic dimension that is not an image height or width (here the channels) still needs an input shape', async () => {
    const spec = convSpec();
    spec.inputs = [valueInfo('x', ['N', 'channels', 'height', 4])];
    const file = writeSpec(spec);
    await assertReadError(() => read(file), 'bad-shape', file, /^input "x" dimension 1 is dynamic; pass an input shape$/);
  });

  it('an assumed image size that does not fit a later layer says so in the error', async () => {
    const file = writeSpec({
      nodes: [node('Flatten', ['x'], ['f'], { axis: 1 }), node('Gemm', ['f', 'w'], ['y'], { transB: 1 }, 'fc')],
      inputs: [valueInfo('x', ['N', 1, 'H', 'W'])],
      outputs: [valueInfo('y', [1, 2])],
      initializers: [tensor('w', [2, 16], new Array(32).fill(0.1))],
    });
    await assertReadError(
      () => read(file),
      'bad-shape',
      file,
      /cannot multiply \[1,50176\].*; input "x" was assumed to be \[1,1,224,224\]: pass an input shape$/,
    );
    assert.deepEqual((await read(file, { inputShape: [1, 1, 4, 4] })).inputs[0]!.shape, [1, 1, 4, 4]);
  });

  it('an input shape option of the wrong rank or with non-positive dims', async () => {
    const spec = convSpec();
    spec.inputs = [valueInfo('x', ['N', 2, 'height', 4])];
    const file = writeSpec(spec);
    await assertReadError(() => read(file, { inputShape: [4, 4] }), 'bad-shape', file, /rank 2 but input "x" has rank 4/);
    await assertReadError(() => read(file, { inputShape: [1, 2, 0, 4] }), 'bad-shape', file, /positive integers/);
  });
});

describe('ONNX reader: constants the graph computes', () => {
  /** c0 -> c(i+1) = Div(Add(c(i), c(i)), two): every level reads its operand twice. */
  function doublingChain(depth: number, first: string): onnx.INodeProto[] {
    const nodes: onnx.INodeProto[] = [];
    for (let i = 0; i < depth; i++) {
      nodes.push(node('Add', [i ? `c${i}` : first, i ? `c${i}` : first], [`d${i + 1}`]));
      nodes.push(node('Div', [`d${i + 1}`, 'two'], [`c${i + 1}`]));
    }
    return nodes;
  }

  it('a 40-deep chain of constants read twice per level, feeding a Reshape, folds in linear time', async () => {
    const started = Date.now();
    const graph = await readSpec({
      nodes: [...doublingChain(40, 'target'), node('Reshape', ['x', 'c40'], ['y'], {}, 'reshape')],
      inputs: [valueInfo('x', [1, 3, 4, 4])],
      outputs: [valueInfo('y', [1, 48])],
      initializers: [int64Tensor('target', [1, 48]), int64Tensor('two', [2], [])],
    });
    assert.deepEqual(findNode(graph, (n) => n.id === 'reshape').outputShapes, [[1, 48]]);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });

  it('a 40-deep doubling chain of a weight is computed once per level when loaded', async () => {
    const weight = Array.from({ length: 65 * 64 }, (_, i) => (i % 7) - 3);
    const graph = await readSpec({
      nodes: [...doublingChain(40, 'w'), node('MatMul', ['x', 'c40'], ['y'], {}, 'dense')],
      inputs: [valueInfo('x', [1, 65])],
      outputs: [valueInfo('y', [1, 64])],
      initializers: [tensor('w', [65, 64], weight), tensor('two', [], [2])],
    });
    const kernel = findNode(graph, (n) => n.id === 'dense').weights.kernel!;
    const started = Date.now();
    const values = kernel.load();
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.equal(values[0 * 65 + 1], weight[1 * 64 + 0]);
    // load() hands out copies: changing one does not change the next.
    values.fill(99);
    assert.equal(kernel.load()[0], weight[0]);
  });

  it('a chain of 20000 Casts of a weight loads without exhausting the stack', async () => {
    const weight = Array.from({ length: 65 * 64 }, (_, i) => i);
    const nodes = Array.from({ length: 20000 }, (_, i) => node('Cast', [i ? `c${i}` : 'w'], [`c${i + 1}`], { to: FLOAT }));
    const graph = await readSpec({
      nodes: [...nodes, node('MatMul', ['x', 'c20000'], ['y'], {}, 'dense')],
      inputs: [valueInfo('x', [1, 65])],
      outputs: [valueInfo('y', [1, 64])],
      initializers: [tensor('w', [65, 64], weight)],
    });
    const values = findNode(graph, (n) => n.id === 'dense').weights.kernel!.load();
    assert.equal(values[3 * 65 + 2], weight[2 * 64 + 3]);
  });

  it('a 167-byte ConstantOfShape declaring a 2.1e9-element MatMul weight', async () => {
    const file = writeSpec({
      nodes: [
        node('Constant', [], ['s'], { value_ints: [48, 44739242] }),
        node('ConstantOfShape', ['s'], ['w'], {}, 'fill'),
        node('Flatten', ['x'], ['f']),
        node('MatMul', ['f', 'w'], ['y']),
      ],
      inputs: [valueInfo('x', [1, 3, 4, 4])],
      outputs: [valueInfo('y', [1, 44739242])],
    });
    const error = await assertReadError(() => read(file), 'too-large', file, /2147483616 elements .*over the 268435456-element limit/);
    assert.equal(error.where, 'node 1 (fill)');
  });

  it('computed constants are counted together against maxDerivedElements (ConstantOfShape, Expand)', async () => {
    const spec: ModelSpec = {
      nodes: [
        node('ConstantOfShape', ['dims'], ['zeros'], {}, 'zeros'),
        node('Expand', ['one', 'dims'], ['ones'], {}, 'ones'),
        node('Add', ['zeros', 'ones'], ['b']),
        node('Add', ['x', 'b'], ['y']),
      ],
      inputs: [valueInfo('x', [1, 600])],
      outputs: [valueInfo('y', [1, 600])],
      initializers: [int64Tensor('dims', [1, 600]), tensor('one', [1], [1])],
    };
    assert.equal((await readSpec(spec, { maxDerivedElements: 1800 })).nodes.length, 1);
    const file = writeSpec(spec);
    const error = await assertReadError(() => read(file, { maxDerivedElements: 1000 }), 'too-large', file, /to 1200 elements, over the 1000-element limit/);
    assert.equal(error.where, 'node 1 (ones)');
  });

  it('the light zoo models built from ConstantOfShape still read with the default limit', async () => {
    assert.equal(DEFAULT_LIMITS.maxDerivedElements, 2 ** 28);
    for (const name of ['onnx-light-resnet50', 'onnx-light-vgg19']) {
      const graph = await read(path.join(MODELS, name, 'model.onnx'));
      const elements = graph.nodes.flatMap((n) => Object.values(n.weights)).reduce((sum, w) => sum + (w ? w.shape.reduce((a, b) => a * b, 1) : 0), 0);
      assert.ok(elements > (name.endsWith('vgg19') ? 143e6 : 25e6), `${name}: ${elements} weight elements`);
    }
  });
});

describe('ONNX reader: weights that do not match their declaration', () => {
  it('raw_data shorter than the dims need', async () => {
    const file = writeSpec(convSpec({ name: 'w', dims: [3, 2, 3, 3], dataType: 1, rawData: float32Bytes(new Array(50).fill(1)) }));
    await assertReadError(() => read(file), 'truncated', file, /needs 216 bytes of raw_data but has 200/);
  });

  it('float_data with the wrong number of values', async () => {
    const file = writeSpec(convSpec(tensor('w', [3, 2, 3, 3], new Array(53).fill(1), 'float_data')));
    await assertReadError(() => read(file), 'bad-weights', file, /54 elements but 53 values/);
  });
});

describe('ONNX reader: external data', () => {
  it('an untrusted workspace (externalData: false) never opens the data file, and loading says why', async () => {
    const dir = tempDir();
    const file = writeSpec(convSpec(externalWeight('weights.bin')), dir);
    // No weights.bin at all: reading must not even look for it.
    const graph = await readModelFile(file, { externalData: false });
    const kernel = findNode(graph, (n) => n.id === 'conv').weights.kernel!;
    await assertReadError(() => kernel.load(), 'missing-weights', file, /external data file, which LeakLint does not open in an untrusted workspace/);
  });

  it('an absolute location', async () => {
    const file = writeSpec(convSpec(externalWeight('/etc/passwd')));
    await assertReadError(() => read(file), 'path-escape', file, /absolute path/);
  });

  it('a location climbing out with ..', async () => {
    const outer = tempDir();
    fs.writeFileSync(path.join(outer, 'weights.bin'), new Uint8Array(216));
    const dir = path.join(outer, 'model');
    fs.mkdirSync(dir);
    const file = writeSpec(convSpec(externalWeight('../weights.bin')), dir);
    await assertReadError(() => read(file), 'path-escape', file, /leaves the model's folder/);
  });

  it('a symlink leading out of the folder', async () => {
    const outside = tempDir();
    fs.writeFileSync(path.join(outside, 'secret.bin'), new Uint8Array(216));
    const dir = tempDir();
    fs.symlinkSync(path.join(outside, 'secret.bin'), path.join(dir, 'weights.bin'));
    const file = writeSpec(convSpec(externalWeight('weights.bin')), dir);
    await assertReadError(() => read(file), 'path-escape', file, /link that leads outside/);
  });

  it('a data file replaced by a link leading outside after the model was read is never opened', async () => {
    const outside = tempDir();
    const secret = writeFile(outside, 'secret.bin', float32Bytes(new Array(54).fill(7)));
    const dir = tempDir();
    const data = writeFile(dir, 'weights.bin', float32Bytes(new Array(54).fill(0.5)));
    const file = writeSpec(convSpec(externalWeight('weights.bin')), dir);
    const kernel = findNode(await read(file), (n) => n.id === 'conv').weights.kernel!;
    fs.rmSync(data);
    fs.symlinkSync(secret, data);
    // The bytes were read (by real path, refusing a final link) while the model was read: the link is never followed.
    assert.deepEqual([...new Set(kernel.load())], [0.5]);
    fs.rmSync(data);
    assert.deepEqual([...new Set(kernel.load())], [0.5]);
  });

  it('a missing external file', async () => {
    const file = writeSpec(convSpec(externalWeight('weights.bin')));
    const error = await assertReadError(() => read(file), 'missing-weights', file, /"weights.bin", which does not exist/);
    assert.match(error.where, /initializer 0 \("w"\)/);
  });

  it('a region beyond the end of the external file', async () => {
    const dir = tempDir();
    const data = writeFile(dir, 'weights.bin', new Uint8Array(300));
    const file = writeSpec(convSpec(externalWeight('weights.bin', 100)), dir);
    const error = await assertReadError(() => read(file), 'missing-weights', fs.realpathSync(data), /bytes 100\.\.316 but the file has only 300 bytes/);
    assert.equal(error.where, 'bytes 100..316');
  });

  it('a length that disagrees with the dims', async () => {
    const dir = tempDir();
    writeFile(dir, 'weights.bin', new Uint8Array(300));
    const file = writeSpec(convSpec(externalWeight('weights.bin', 0, 200)), dir);
    await assertReadError(() => read(file), 'bad-weights', file, /needs 216 bytes but its external data length is 200/);
  });
});

describe('ONNX reader: mutated real models never crash', () => {
  const original = fs.readFileSync(MNIST);
  const dir = tempDir();

  /** Reading either succeeds or throws a ModelReadError; anything else is a crash. */
  async function assertNoCrash(bytes: Uint8Array, label: string): Promise<void> {
    const file = writeFile(dir, 'mutant.onnx', bytes);
    try {
      const graph = await read(file);
      for (const n of graph.nodes) for (const w of Object.values(n.weights)) w?.load();
    } catch (e) {
      assert.ok(isModelReadError(e), `${label}: ${e instanceof Error ? e.stack : String(e)}`);
    }
  }

  it('truncated at many lengths', async () => {
    for (let length = 1; length < original.length; length += 97) await assertNoCrash(original.subarray(0, length), `length ${length}`);
  });

  it('with random bytes overwritten', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const bytes = Uint8Array.from(original);
      const positions = noise(16, seed);
      const values = noise(8, seed * 7919);
      for (let k = 0; k < 8; k++) {
        const at = ((positions[2 * k] << 8) | positions[2 * k + 1]) % bytes.length;
        bytes[at] = values[k];
      }
      await assertNoCrash(bytes, `seed ${seed}`);
    }
  });
});
