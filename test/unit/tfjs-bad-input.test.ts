// TF.js reader on broken input: every failure is a typed ModelReadError naming the file, the place and a one-line
// reason. Broken copies live in a temp dir; the committed fixtures are never touched.
import { files } from './files';
import { FileAccessError, type FileAccess } from '../../src/engine/files/fileAccess';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it, mock } from 'node:test';
import { ModelReadError, type ReadErrorCode } from '../../src/engine/errors';
import type { LayerGraph } from '../../src/engine/ir';
import { resolveReadOptions, type ReadOptions } from '../../src/engine/options';
import { readModelFile } from './files';
import { readTfjs } from '../../src/engine/readers/tfjs';

const MODELS = path.resolve(__dirname, '../fixtures/third-party');
const LAYERS_DIR = path.join(MODELS, 'tensorspace-mnist-tf-layers');
const GRAPH_DIR = path.join(MODELS, 'tensorspace-mnist-tf-graph');
const SHARD = 'group1-shard1of1';

const tempDirs: string[] = [];
after(() => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-tfjs-bad-'));
  tempDirs.push(dir);
  return dir;
}

function read(file: string, options: ReadOptions = {}): Promise<LayerGraph> {
  return readTfjs(files, file, resolveReadOptions(options));
}

/** A copy of a real model in a temp dir, its model.json changed by `edit` (and its shard copied unless told not to). */
function brokenCopy(sourceDir: string, edit: (model: any) => void, copyShard = true): { dir: string; file: string } {
  const dir = tempDir();
  const model = JSON.parse(fs.readFileSync(path.join(sourceDir, 'model.json'), 'utf8'));
  edit(model);
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify(model));
  if (copyShard) fs.copyFileSync(path.join(sourceDir, SHARD), path.join(dir, SHARD));
  return { dir, file };
}

function writeText(text: string | Buffer, name = 'model.json'): string {
  const file = path.join(tempDir(), name);
  fs.writeFileSync(file, text);
  return file;
}

async function expectError(file: string, code: ReadErrorCode, check: (e: ModelReadError) => void = () => {}, options: ReadOptions = {}): Promise<void> {
  await assert.rejects(
    () => read(file, options),
    (e: unknown) => {
      assert.ok(e instanceof ModelReadError, `expected a ModelReadError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.ok(path.isAbsolute(e.file), `file should be absolute: ${e.file}`);
      assert.ok(!e.reason.includes('\n') && e.reason.length > 0, 'one-line reason');
      check(e);
      return true;
    },
  );
}

const graphNode = (name: string, op: string, input: string[] = []) => ({ name, op, input, attr: {} });
const placeholder = (name: string, dims: number[]) => ({
  name,
  op: 'Placeholder',
  attr: { shape: { shape: { dim: dims.map((d) => ({ size: String(d) })) } } },
});

describe('not JSON, or not a TF.js model', () => {
  it('invalid JSON: not-a-model with the line and column', async () => {
    const file = writeText('{\n  "modelTopology": {\n    "node": [1, 2,, 3]\n  }\n}\n');
    await expectError(file, 'not-a-model', (e) => {
      assert.equal(e.where, 'line 3, column 19');
      assert.match(e.reason, /invalid JSON: value expected/);
    });
  });

  it('binary garbage and truncated JSON', async () => {
    await expectError(writeText(Buffer.from([0x08, 0x01, 0x12, 0x00, 0xff, 0x7f])), 'not-a-model', (e) => assert.match(e.where, /^line 1, column \d+$/));
    await expectError(writeText('{"modelTopology": {"node": ['), 'not-a-model');
  });

  it('JSON that is not a TF.js model', async () => {
    for (const text of ['{"hello": "world"}', '[1, 2, 3]', '"model"', '42', '{"modelTopology": {"foo": 1}}', '{"modelTopology": [1]}']) {
      await expectError(writeText(text), 'not-a-model', (e) => assert.match(e.reason, /TF\.js model|Keras|not an object|neither/));
    }
  });

  it('a bare Keras model config is named as such', async () => {
    const file = writeText(JSON.stringify({ class_name: 'Sequential', config: { layers: [] } }));
    await expectError(file, 'not-a-model', (e) => assert.match(e.reason, /bare Keras model config/));
  });

  it('an empty file and a deeply nested one', async () => {
    await expectError(writeText(''), 'empty-file');
    await expectError(writeText('['.repeat(200_000) + ']'.repeat(200_000)), 'not-a-model');
  });

  it('comments and trailing commas are not JSON', async () => {
    await expectError(writeText('{"modelTopology": {"node": []}, // weights\n "weightsManifest": []}'), 'not-a-model');
    await expectError(writeText('{"modelTopology": {"node": [],}}'), 'not-a-model');
  });
});

describe('weights manifest', () => {
  it('weights-only manifests: "has weights but no topology"', async () => {
    const { file } = brokenCopy(LAYERS_DIR, (m) => delete m.modelTopology);
    await expectError(file, 'weights-only', (e) => assert.match(e.reason, /has weights but no topology/));
    const manifest = JSON.parse(fs.readFileSync(path.join(LAYERS_DIR, 'model.json'), 'utf8')).weightsManifest;
    await expectError(writeText(JSON.stringify(manifest), 'weights_manifest.json'), 'weights-only', (e) =>
      assert.match(e.reason, /has weights but no topology/),
    );
  });

  it('a missing shard names the shard and its manifest entry', async () => {
    const { dir, file } = brokenCopy(LAYERS_DIR, () => {}, false);
    await expectError(file, 'missing-weights', (e) => {
      assert.equal(e.file, path.join(dir, SHARD));
      assert.equal(e.where, 'weightsManifest[0].paths[0]');
    });
  });

  it('a short shard is refused before any value is read, with both sizes', async () => {
    const { dir, file } = brokenCopy(LAYERS_DIR, () => {});
    const shard = path.join(dir, SHARD);
    fs.truncateSync(shard, fs.statSync(shard).size - 100);
    await expectError(file, 'truncated', (e) => {
      assert.equal(e.file, fs.realpathSync(shard));
      assert.equal(e.where, 'weightsManifest[0].paths[0]');
      assert.match(e.reason, /177604 bytes.*177704 bytes/);
      assert.match(e.reason, /"softmax\/kernel" would end at byte 177664/);
    });
  });

  it('shard paths that leave the model folder: path-escape', async () => {
    const outside = tempDir();
    fs.copyFileSync(path.join(LAYERS_DIR, SHARD), path.join(outside, SHARD));
    const sibling = `${path.basename(outside)}/${SHARD}`;
    for (const escape of [`../${sibling}`, `sub/../../${sibling}`, path.join(outside, SHARD), 'C:\\Windows\\weights.bin']) {
      const { file } = brokenCopy(LAYERS_DIR, (m) => (m.weightsManifest[0].paths = [escape]));
      await expectError(file, 'path-escape', (e) => assert.equal(e.where, 'weightsManifest[0].paths[0]'));
    }
    const { dir, file } = brokenCopy(LAYERS_DIR, (m) => (m.weightsManifest[0].paths = ['link.bin']));
    fs.symlinkSync(path.join(outside, SHARD), path.join(dir, 'link.bin'));
    await expectError(file, 'path-escape', (e) => assert.match(e.reason, /link/));
  });

  it('a shard swapped for a link leading out of the folder after reading is never opened', async () => {
    const outside = tempDir();
    const secret = Buffer.alloc(fs.statSync(path.join(LAYERS_DIR, SHARD)).size, 0x7f);
    fs.writeFileSync(path.join(outside, SHARD), secret);
    const { dir, file } = brokenCopy(LAYERS_DIR, () => {});
    const graph = await read(file);
    const conv = graph.nodes.find((n) => n.op === 'conv')!;
    const before = Array.from(conv.weights.kernel!.load());
    fs.rmSync(path.join(dir, SHARD));
    fs.symlinkSync(path.join(outside, SHARD), path.join(dir, SHARD));
    // The shard was read (by real path, refusing a final link) while the model was read: the link is never followed.
    assert.deepEqual(Array.from(conv.weights.kernel!.load()), before);
    fs.rmSync(path.join(dir, SHARD));
    assert.deepEqual(Array.from(conv.weights.kernel!.load()), before);
  });

  it('absurd or negative weight shapes are refused before reading', async () => {
    const { file } = brokenCopy(LAYERS_DIR, (m) => (m.weightsManifest[0].weights[0].shape = [100000, 100000, 1000]));
    await expectError(file, 'bad-shape', (e) => assert.equal(e.where, 'weightsManifest[0].weights[0]'));
    const negative = brokenCopy(LAYERS_DIR, (m) => (m.weightsManifest[0].weights[1].shape = [-6]));
    await expectError(negative.file, 'bad-shape');
  });

  it('unknown dtypes and malformed entries: bad-weights', async () => {
    await expectError(brokenCopy(LAYERS_DIR, (m) => (m.weightsManifest[0].weights[0].dtype = 'string')).file, 'bad-weights');
    await expectError(brokenCopy(LAYERS_DIR, (m) => (m.weightsManifest[0].weights[0].quantization = { dtype: 'int4', scale: 1, min: 0 })).file, 'bad-weights');
    await expectError(brokenCopy(LAYERS_DIR, (m) => (m.weightsManifest = { paths: [] })).file, 'bad-weights');
    await expectError(brokenCopy(LAYERS_DIR, (m) => delete m.weightsManifest[0].weights[2].name).file, 'bad-weights', (e) =>
      assert.equal(e.where, 'weightsManifest[0].weights[2]'),
    );
  });

  it('a kernel whose shape does not fit the layer config: bad-weights at the layer', async () => {
    // Same element count, so the shard sizes still match.
    const { file } = brokenCopy(LAYERS_DIR, (m) => (m.weightsManifest[0].weights[2].shape = [5, 5, 16, 6]));
    await expectError(file, 'bad-weights', (e) => assert.match(e.where, /^modelTopology\.model_config\.config\.layers\[4\] \(conv_2\)$/));
  });

  it('a layer weight missing from the manifest: bad-weights', async () => {
    const { file } = brokenCopy(LAYERS_DIR, (m) => (m.weightsManifest[0].weights[9].name = 'renamed/bias'));
    await expectError(file, 'bad-weights', (e) => assert.match(e.reason, /softmax\/bias/));
  });
});

describe('topology', () => {
  it('a cyclic GraphDef: cyclic-graph', async () => {
    const file = writeText(
      JSON.stringify({ modelTopology: { node: [placeholder('x', [1, 4]), graphNode('a', 'Relu', ['b']), graphNode('b', 'Relu', ['a:0'])] } }),
    );
    await expectError(file, 'cyclic-graph', (e) => assert.match(e.where, /^modelTopology\.node\[\d\] \((a|b)\)$/));
  });

  it('a cycle through control inputs is a cycle too', async () => {
    const file = writeText(
      JSON.stringify({ modelTopology: { node: [placeholder('x', [1, 4]), graphNode('a', 'Relu', ['x', '^b']), graphNode('b', 'Relu', ['a'])] } }),
    );
    await expectError(file, 'cyclic-graph');
  });

  it('cyclic inbound_nodes: cyclic-graph', async () => {
    const { file } = brokenCopy(LAYERS_DIR, (m) => {
      const layers = m.modelTopology.model_config.config.layers;
      layers[2].inbound_nodes = [[['maxpool_1', 0, 0, {}]]]; // conv_1 ← maxpool_1 ← conv_1
    });
    await expectError(file, 'cyclic-graph', (e) => assert.match(e.reason, /depends on its own output/));
  });

  it('dangling references and duplicate names: invalid-model', async () => {
    const dangling = writeText(JSON.stringify({ modelTopology: { node: [placeholder('x', [1, 4]), graphNode('r', 'Relu', ['nowhere:0'])] } }));
    await expectError(dangling, 'invalid-model', (e) => assert.match(e.reason, /nowhere/));
    const duplicate = writeText(JSON.stringify({ modelTopology: { node: [placeholder('x', [1, 4]), graphNode('x', 'Relu', ['x'])] } }));
    await expectError(duplicate, 'invalid-model', (e) => assert.equal(e.where, 'modelTopology.node[1]'));
    const unknownLayer = brokenCopy(LAYERS_DIR, (m) => (m.modelTopology.model_config.config.layers[3].inbound_nodes = [[['ghost', 0, 0, {}]]]));
    await expectError(unknownLayer.file, 'invalid-model', (e) => assert.match(e.reason, /ghost/));
  });

  it('a graph over the node limit: too-large', async () => {
    await expectError(path.join(GRAPH_DIR, 'model.json'), 'too-large', () => {}, { maxNodes: 10 });
  });

  it('an unknown op is kept as an unsupported node, never an error', async () => {
    const file = writeText(
      JSON.stringify({ modelTopology: { node: [placeholder('x', [1, 4]), graphNode('weird', 'Erfinv', ['x']), graphNode('r', 'Relu', ['weird'])] } }),
    );
    const graph = await read(file);
    assert.deepEqual(
      graph.nodes.map((n) => [n.op, n.status]),
      [
        ['unsupported', 'unsupported'],
        ['activation', 'ok'],
      ],
    );
    assert.match(graph.nodes[0]!.note ?? '', /Erfinv/);
  });
});

describe('shapes', () => {
  it('absurd input shapes are refused before anything is allocated', async () => {
    const { file } = brokenCopy(LAYERS_DIR, (m) => (m.modelTopology.model_config.config.layers[0].config.batch_input_shape = [null, 1_000_000, 1_000_000]));
    await expectError(file, 'bad-shape', (e) => assert.match(e.reason, /over the \d+-element limit/));
    const negative = writeText(JSON.stringify({ modelTopology: { node: [placeholder('x', [1, -7, 0, 3])] } }));
    await expectError(negative, 'bad-shape');
  });

  it('a dynamic image size is assumed (224), and an input shape (given in the file’s NHWC layout) sets it', async () => {
    const { file } = brokenCopy(GRAPH_DIR, (m) => (m.modelTopology.node[0].attr.shape.shape.dim[1].size = '-1'));
    // The assumed 224x28 image does not fit the flatten + dense head: the error names the assumption.
    await expectError(file, 'bad-shape', (e) => assert.match(e.reason, /input "MyInput" was assumed to be \[1, 224, 28, 1\]: pass an input shape$/));
    assert.deepEqual((await read(file, { inputShape: [2, 28, 28, 1] })).inputs[0]!.shape, [2, 1, 28, 28]);
    assert.deepEqual((await read(file, { inputShape: [28, 28, 1] })).inputs[0]!.shape, [1, 1, 28, 28], 'a missing batch dim defaults to 1');
    await expectError(file, 'bad-shape', (e) => assert.match(e.reason, /conflicts/), { inputShape: [1, 28, 28, 3] });
  });

  it('a window that does not fit its input: bad-shape at the layer', async () => {
    const { file } = brokenCopy(LAYERS_DIR, (m) => {
      const [input, reshape] = m.modelTopology.model_config.config.layers;
      input.config.batch_input_shape = [null, 6, 6];
      reshape.config.target_shape = [6, 6, 1];
    });
    // conv_1 (5x5) leaves 2x2, maxpool_1 leaves 1x1: conv_2's 5x5 window does not fit.
    await expectError(file, 'bad-shape', (e) => assert.match(e.where, /\(conv_2\)$/));
  });
});

/** A Const node with its values written inline (the dtype's list field, TF's "repeat the last value" applies). */
const inlineConst = (name: string, dims: number[], values: number[], dtype = 'DT_FLOAT') => ({
  name,
  op: 'Const',
  attr: {
    dtype: { type: dtype },
    value: { tensor: { dtype, tensorShape: { dim: dims.map((d) => ({ size: String(d) })) }, [dtype === 'DT_INT32' ? 'intVal' : 'floatVal']: values } },
  },
});
const graphModel = (nodes: object[]) => writeText(JSON.stringify({ format: 'graph-model', modelTopology: { node: nodes }, weightsManifest: [] }));

describe('hostile constants and constant folding', () => {
  /** x [1, 4] reshaped by StridedSlice(v, begin, end, stride) (the crafted review file ss/model.json, generalised). */
  const slicedReshape = (v: number[], begin: number, end: number, stride: number) =>
    graphModel([
      placeholder('x', [1, 4]),
      inlineConst('v', [v.length], v),
      inlineConst('b', [1], [begin]),
      inlineConst('e', [1], [end]),
      inlineConst('s', [1], [stride]),
      { ...graphNode('ss', 'StridedSlice', ['v', 'b', 'e', 's']) },
      graphNode('r', 'Reshape', ['x', 'ss']),
    ]);

  it('a StridedSlice with a fractional, zero or non-integer stride is left unfolded (it used to loop forever)', async () => {
    for (const [begin, end, stride] of [
      [0, 4, 1e-20],
      [0, 4, 0],
      [0, 4, 0.5],
      [0.5, 4, 1],
      [0, 1e300, 1],
      [0, 4, -1e-20],
    ] as const) {
      const graph = await read(slicedReshape([1, 2, 3, 4], begin, end, stride));
      assert.deepEqual(
        graph.nodes.map((n) => [n.id, n.status]),
        [['r', 'unsupported']],
        `stride ${stride}, begin ${begin}, end ${end}`,
      );
      assert.match(graph.nodes[0]!.note ?? '', /StridedSlice "ss" of constants was not evaluated/);
    }
  });

  it('a well-formed StridedSlice still folds into the Reshape target', async () => {
    for (const [v, begin, end, stride] of [
      [[4, 1, 7, 9], 0, 2, 1],
      [[1, 0, 4], 2, -4, -2],
      [[9, 4, 8, 1], 1, 9, 2],
    ] as const) {
      const graph = await read(slicedReshape([...v], begin, end, stride));
      assert.deepEqual(
        graph.nodes.map((n) => [n.op, n.status]),
        [['reshape', 'ok']],
        `${JSON.stringify(v)}[${begin}:${end}:${stride}]`,
      );
      assert.deepEqual(
        graph.outputs.map((t) => t.shape),
        [[4, 1]],
      );
    }
  });

  it('a Reshape of a constant to an impossible target is left unfolded, never NaN or Infinity dims', async () => {
    for (const target of [
      [0, -1],
      [2.5, -1],
      [3, -1],
      [-1, -1],
    ]) {
      const file = graphModel([
        placeholder('x', [1, 4]),
        inlineConst('c', [4], [1, 2, 3, 4]),
        inlineConst('t', [2], target, 'DT_INT32'),
        graphNode('rc', 'Reshape', ['c', 't']),
        graphNode('y', 'AddV2', ['x', 'rc']),
      ]);
      const graph = await read(file);
      assert.deepEqual(
        graph.nodes.map((n) => [n.id, n.status]),
        [['y', 'unsupported']],
        `target ${JSON.stringify(target)}`,
      );
      for (const tensor of graph.outputs) assert.ok(tensor.shape.every(Number.isSafeInteger), JSON.stringify(tensor.shape));
    }
  });

  it('Squeeze of an axis that is not 1 and ExpandDims out of range: bad-shape at the node', async () => {
    const squeeze = { ...graphNode('sq', 'Squeeze', ['x']), attr: { squeeze_dims: { list: { i: ['1'] } } } };
    await expectError(graphModel([placeholder('x', [1, 4]), squeeze]), 'bad-shape', (e) => assert.match(e.where, /\(sq\)$/));
    const expand = graphModel([placeholder('x', [1, 4]), inlineConst('d', [], [5], 'DT_INT32'), graphNode('ex', 'ExpandDims', ['x', 'd'])]);
    await expectError(expand, 'bad-shape', (e) => assert.match(e.where, /\(ex\)$/));
  });

  it('a huge inline Const with one listed value is not materialised while reading (fill/model.json: V8 used to abort)', async () => {
    const file = graphModel([placeholder('x', [1, 4]), inlineConst('big', [4, 100_000_000], [1]), graphNode('m', 'MatMul', ['x', 'big'])]);
    const heapBefore = process.memoryUsage().heapUsed;
    const graph = await read(file);
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 256 * 2 ** 20, 'no boxed 4e8-element array');
    assert.deepEqual(graph.nodes[0]!.weights.kernel?.shape, [100_000_000, 4]);
    await expectError(file, 'bad-shape', (e) => assert.match(e.reason, /400000000 elements, over the 1000000-element limit/), { maxTensorElements: 1_000_000 });
  });

  it('"repeat the last value" is applied when the weight is loaded', async () => {
    const file = graphModel([placeholder('x', [1, 2]), inlineConst('w', [2, 3], [1, 2]), graphNode('m', 'MatMul', ['x', 'w'])]);
    const kernel = (await read(file)).nodes[0]!.weights.kernel!;
    assert.deepEqual([...kernel.load()].sort(), [1, 2, 2, 2, 2, 2]);
  });

  it('half-float constants decode through the shared float16 decoder', async () => {
    // 0x3c00 = 1, 0xc000 = -2, 0x3800 = 0.5
    const half = {
      name: 'w',
      op: 'Const',
      attr: { value: { tensor: { dtype: 'DT_HALF', tensorShape: { dim: [{ size: '2' }, { size: '2' }] }, halfVal: [0x3c00, 0xc000, 0x3800] } } },
    };
    const kernel = (await read(graphModel([placeholder('x', [1, 2]), half, graphNode('m', 'MatMul', ['x', 'w'])]))).nodes[0]!.weights.kernel!;
    assert.deepEqual([...kernel.load()].sort(), [-2, 0.5, 0.5, 1]);
  });
});

describe('reading the model file', () => {
  it('a model.json too long for a JS string: too-large, not a raw ERR_STRING_TOO_LONG', async () => {
    const file = writeText('{}');
    const tooLong = Object.assign(new Error('Cannot create a string longer than 0x1fffffe8 characters'), { code: 'ERR_STRING_TOO_LONG' });
    const decode = mock.method(TextDecoder.prototype, 'decode', () => {
      throw tooLong;
    });
    try {
      await expectError(file, 'too-large', (e) => assert.match(e.reason, /too large to read as text/));
    } finally {
      decode.mock.restore();
    }
  });

  it('an unreadable model.json: invalid-model with the system reason, not a raw errno error', async () => {
    const file = writeText('{}');
    // The file system refuses the read (as Node's fs does for EACCES): the reason says so in one line.
    const denying: FileAccess = { ...files, readFile: async (f) => Promise.reject(new FileAccessError('denied', f, 'permission denied')) };
    await assert.rejects(readTfjs(denying, file, resolveReadOptions()), (e: unknown) => {
      assert.ok(e instanceof ModelReadError && e.code === 'invalid-model', String(e));
      assert.match(e.reason, /cannot read the file: permission denied/);
      return true;
    });
    // A folder under a model's name used to reach readFileSync and fail with a raw EISDIR.
    const folder = path.join(tempDir(), 'model.json');
    fs.mkdirSync(folder);
    await expectError(folder, 'invalid-model', (e) => assert.match(e.reason, /not a regular file/));
  });

  it('readModel and readTfjs share one set of file checks', async () => {
    const empty = writeText('');
    for (const open of [() => read(empty), () => readModelFile(empty)]) {
      await assert.rejects(open, (e: unknown) => e instanceof ModelReadError && e.code === 'empty-file' && e.reason === 'the file is empty');
    }
    const file = writeText('{"modelTopology": {"node": []}}');
    for (const open of [() => read(file, { maxFileBytes: 10 }), () => readModelFile(file, { maxFileBytes: 10 })]) {
      await assert.rejects(open, (e: unknown) => e instanceof ModelReadError && e.code === 'too-large' && /over the 10-byte limit/.test(e.reason));
    }
  });
});
