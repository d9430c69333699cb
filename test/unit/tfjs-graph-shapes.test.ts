// TF.js graph models in the configurations of published MediaPipe / TF Hub models (BlazeFace, FaceMesh, selfie
// segmentation, BlazePose, MoveNet, SSR-Net, onnx-tf conversions) that the graph reader used to reject: each is
// generated here as a tiny model.json + shard, and its shapes are checked against TensorFlow's documented rules.
import { files } from './files';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { convAttrs, type LayerGraph, type LayerNode } from '../../src/engine/ir';
import { analyseModel } from '../../src/engine/analysis/analyseModel';
import { resolveReadOptions } from '../../src/engine/options';
import { readTfjs } from '../../src/engine/readers/tfjs';

const tempDirs: string[] = [];
after(() => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

type Attr = Record<string, unknown>;
interface Node {
  name: string;
  op: string;
  input: string[];
  attr: Attr;
}

const s = (text: string) => ({ s: Buffer.from(text).toString('base64') });
const ints = (...values: number[]) => ({ list: { i: values.map(String) } });
const NHWC = { data_format: s('NHWC') };
const NCHW = { data_format: s('NCHW') };
const node = (name: string, op: string, input: string[], attr: Attr = {}): Node => ({ name, op, input, attr: { T: { type: 'DT_FLOAT' }, ...attr } });
const placeholder = (name: string, dims: number[], dtype = 'DT_FLOAT'): Node =>
  node(name, 'Placeholder', [], { dtype: { type: dtype }, shape: { shape: { dim: dims.map((d) => ({ size: String(d) })) } } });
/** An int32 constant written inline in model.json, as the converter writes shape arguments. */
const intConst = (name: string, dims: number[], values: number[]): Node =>
  node(name, 'Const', [], {
    dtype: { type: 'DT_INT32' },
    value: { tensor: { dtype: 'DT_INT32', tensorShape: { dim: dims.map((d) => ({ size: String(d) })) }, intVal: values } },
  });
const conv = (name: string, input: string, filter: string, strides: number[], padding: string, extra: Attr = {}) =>
  node(name, 'Conv2D', [input, filter], { strides: ints(...strides), padding: s(padding), dilations: ints(1, 1, 1, 1), ...NHWC, ...extra });

/** Writes model.json with `nodes` and one float32 shard holding the Const weights listed in `weights`. */
function writeGraphModel(nodes: Node[], weights: [string, number[]][]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaklint-graph-shapes-'));
  tempDirs.push(dir);
  const consts = weights.map(([name]) => node(name, 'Const', [], { dtype: { type: 'DT_FLOAT' } }));
  const data = weights.map(([, shape], k) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(k * 3.1 + i * 0.7) * 0.5));
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(data.map((values) => Buffer.from(values.buffer))));
  const manifest = [{ paths: ['weights.bin'], weights: weights.map(([name, shape]) => ({ name, shape, dtype: 'float32' })) }];
  const model = { format: 'graph-model', modelTopology: { node: [...consts, ...nodes], versions: { producer: 1 } }, weightsManifest: manifest };
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify(model));
  return file;
}

function read(file: string): Promise<LayerGraph> {
  return readTfjs(files, file, resolveReadOptions({}));
}

function byId(graph: LayerGraph, id: string): LayerNode {
  const found = graph.nodes.find((n) => n.id === id);
  assert.ok(found, `no node "${id}" in ${graph.nodes.map((n) => n.id).join(', ')}`);
  return found;
}

/** Every node's input shapes are its producers' output shapes, and no shape was guessed. */
function assertConsistent(graph: LayerGraph): void {
  const shapes = new Map<string, number[]>(graph.inputs.map((i) => [i.name, i.shape]));
  for (const n of graph.nodes) {
    n.inputs.forEach((t, i) => assert.deepEqual(n.inputShapes[i], shapes.get(t), `${n.id} reads ${t}`));
    n.outputs.forEach((t, i) => shapes.set(t, n.outputShapes[i]!));
  }
  assert.deepEqual(
    graph.warnings.filter((w) => /guessed/.test(w)),
    [],
  );
}

const shapeOf = (graph: LayerGraph, id: string) => byId(graph, id).outputShapes[0];

describe('channel padding on a residual branch (BlazeFace, FaceMesh, Iris)', () => {
  // x[1,8,8,4] → depthwise 3x3/2 SAME → 1x1 conv to 8 channels; skip: MaxPool 2x2/2 → Pad channels 4 → 8; AddV2.
  const file = writeGraphModel(
    [
      placeholder('x', [1, 8, 8, 4]),
      node('dw', 'DepthwiseConv2dNative', ['x', 'dw_filter'], { strides: ints(1, 2, 2, 1), padding: s('SAME'), dilations: ints(1, 1, 1, 1), ...NHWC }),
      node('pw', '_FusedConv2D', ['dw', 'pw_filter', 'pw_bias'], {
        strides: ints(1, 1, 1, 1),
        padding: s('VALID'),
        num_args: { i: '1' },
        fused_ops: { list: { s: [s('BiasAdd').s] } },
        ...NHWC,
      }),
      node('pool', 'MaxPool', ['x'], { ksize: ints(1, 2, 2, 1), strides: ints(1, 2, 2, 1), padding: s('VALID'), ...NHWC }),
      intConst('paddings', [4, 2], [0, 0, 0, 0, 0, 0, 0, 4]),
      node('channel_pad', 'Pad', ['pool', 'paddings']),
      node('add', 'AddV2', ['pw', 'channel_pad']),
      node('relu', 'Relu', ['add']),
    ],
    [
      ['dw_filter', [3, 3, 4, 1]],
      ['pw_filter', [1, 1, 4, 8]],
      ['pw_bias', [8]],
    ],
  );

  it('pads every axis by paddings[D] (tf.raw_ops.Pad): [1,4,4,4] becomes [1,4,4,8], and the Add reads both branches', async () => {
    const graph = await read(file);
    assertConsistent(graph);
    const pad = byId(graph, 'channel_pad');
    assert.deepEqual([pad.status, pad.outputShapes[0]], ['unsupported', [1, 8, 4, 4]]);
    assert.match(pad.note ?? '', /batch or channel axis/);
    assert.deepEqual([byId(graph, 'add').status, shapeOf(graph, 'relu')], ['ok', [1, 8, 4, 4]]);
    assert.deepEqual(convAttrs(byId(graph, 'dw')).pads, [0, 0, 1, 1], 'SAME with stride 2 on 8: the odd pixel after');
  });
});

describe('upsampling and transposed convolutions on a decoder path (selfie segmentation, BlazePose, Meet)', () => {
  // x[1,8,8,3] → conv 3x3/2 SAME → [1,4,4,6]; ResizeBilinear to 8x8 + 1x1 conv of x → Add;
  // ResizeNearestNeighbor ‖ x → Concat; Conv2DBackpropInput (stride 2) back to [1,8,8,6] + Add.
  const file = writeGraphModel(
    [
      placeholder('x', [1, 8, 8, 3]),
      conv('down', 'x', 'down_filter', [1, 2, 2, 1], 'SAME'),
      intConst('size', [2], [8, 8]),
      node('up', 'ResizeBilinear', ['down', 'size'], { align_corners: { b: false }, half_pixel_centers: { b: true } }),
      conv('skip', 'x', 'skip_filter', [1, 1, 1, 1], 'VALID'),
      node('sum', 'AddV2', ['up', 'skip']),
      node('nearest', 'ResizeNearestNeighbor', ['down', 'size']),
      intConst('axis', [], [3]),
      node('cat', 'ConcatV2', ['nearest', 'x', 'axis'], { N: { i: '2' } }),
      intConst('input_sizes', [4], [1, 8, 8, 6]),
      node('deconv', 'Conv2DBackpropInput', ['input_sizes', 'deconv_filter', 'down'], { strides: ints(1, 2, 2, 1), padding: s('SAME'), ...NHWC }),
      node('sum2', 'AddV2', ['deconv', 'sum']),
      conv('head', 'cat', 'head_filter', [1, 1, 1, 1], 'VALID'),
    ],
    [
      ['down_filter', [3, 3, 3, 6]],
      ['skip_filter', [1, 1, 3, 6]],
      ['deconv_filter', [2, 2, 6, 6]],
      ['head_filter', [1, 1, 9, 2]],
    ],
  );

  it('a resize outputs [batch, new_height, new_width, channels] from its size input', async () => {
    const graph = await read(file);
    assertConsistent(graph);
    assert.deepEqual(shapeOf(graph, 'up'), [1, 6, 8, 8]);
    assert.deepEqual(shapeOf(graph, 'sum'), [1, 6, 8, 8]);
    assert.deepEqual(shapeOf(graph, 'cat'), [1, 9, 8, 8]);
    assert.deepEqual(byId(graph, 'head').inputShapes[0], [1, 9, 8, 8]);
  });

  it('Conv2DBackpropInput outputs the input_sizes it is given', async () => {
    const graph = await read(file);
    assert.deepEqual([byId(graph, 'deconv').status, shapeOf(graph, 'deconv'), shapeOf(graph, 'sum2')], ['unsupported', [1, 6, 8, 8], [1, 6, 8, 8]]);
  });
});

describe('an int32 image unpacked and re-batched before the first conv (MoveNet)', () => {
  const file = writeGraphModel(
    [
      placeholder('input', [1, 8, 8, 3], 'DT_INT32'),
      node('cast', 'Cast', ['input'], { SrcT: { type: 'DT_INT32' }, DstT: { type: 'DT_FLOAT' } }),
      node('unstack', 'Unpack', ['cast'], { num: { i: '1' }, axis: { i: '0' } }),
      intConst('dim', [], [0]),
      node('batch', 'ExpandDims', ['unstack', 'dim']),
      node('conv1', '_FusedConv2D', ['batch', 'conv1_filter', 'conv1_bias'], {
        strides: ints(1, 2, 2, 1),
        padding: s('SAME'),
        num_args: { i: '1' },
        fused_ops: { list: { s: [s('BiasAdd').s, s('Relu6').s] } },
        ...NHWC,
      }),
    ],
    [
      ['conv1_filter', [3, 3, 3, 4]],
      ['conv1_bias', [4]],
    ],
  );

  it('Cast is an identity and Unpack of one slice drops its axis: the conv reads [1,3,8,8]', async () => {
    const graph = await read(file);
    assertConsistent(graph);
    assert.deepEqual(
      graph.nodes.filter((n) => n.status !== 'ok').map((n) => n.id),
      [],
    );
    const conv1 = byId(graph, 'conv1');
    assert.deepEqual([conv1.inputShapes[0], conv1.outputShapes[0], convAttrs(conv1).groups], [[1, 3, 8, 8], [1, 4, 4, 4], 1]);
  });
});

describe('DepthToSpace on a detector head (BlazePose detector, FaceMesh detector)', () => {
  const file = writeGraphModel(
    [
      placeholder('x', [1, 8, 8, 4]),
      conv('down', 'x', 'down_filter', [1, 2, 2, 1], 'SAME'),
      node('d2s', 'DepthToSpace', ['down'], { block_size: { i: '2' }, ...NHWC }),
      node('add', 'AddV2', ['d2s', 'x']),
    ],
    [['down_filter', [3, 3, 4, 16]]],
  );

  it('[batch, h, w, c] becomes [batch, h·b, w·b, c/b²]', async () => {
    const graph = await read(file);
    assertConsistent(graph);
    assert.deepEqual(
      [shapeOf(graph, 'down'), shapeOf(graph, 'd2s'), shapeOf(graph, 'add')],
      [
        [1, 16, 4, 4],
        [1, 4, 8, 8],
        [1, 4, 8, 8],
      ],
    );
  });
});

describe('per-node data_format: an NCHW conv inside an NHWC graph (layout-optimised and onnx-tf graphs)', () => {
  // NHWC conv → Transpose to NCHW → Conv2D NCHW 3x3 stride [1,1,2,2], EXPLICIT pads in NCHW order → back → NHWC conv.
  const file = writeGraphModel(
    [
      placeholder('x', [1, 8, 8, 3]),
      conv('c1', 'x', 'c1_filter', [1, 1, 1, 1], 'SAME'),
      intConst('to_nchw', [4], [0, 3, 1, 2]),
      node('t1', 'Transpose', ['c1', 'to_nchw']),
      conv('c2', 't1', 'c2_filter', [1, 1, 2, 2], 'EXPLICIT', { ...NCHW, explicit_paddings: ints(0, 0, 0, 0, 1, 0, 1, 0) }),
      intConst('to_nhwc', [4], [0, 2, 3, 1]),
      node('t2', 'Transpose', ['c2', 'to_nhwc']),
      conv('c3', 't2', 'c3_filter', [1, 1, 1, 1], 'VALID'),
    ],
    [
      ['c1_filter', [3, 3, 3, 4]],
      ['c2_filter', [3, 3, 4, 6]],
      ['c3_filter', [1, 1, 6, 2]],
    ],
  );

  it("reads strides and explicit paddings in the node's own layout and wraps it in transposes", async () => {
    const graph = await read(file);
    assertConsistent(graph);
    const c2 = byId(graph, 'c2');
    assert.deepEqual(
      [convAttrs(c2).strides, convAttrs(c2).pads, c2.inputShapes[0], c2.outputShapes[0]],
      [
        [2, 2],
        [1, 1, 0, 0],
        [1, 4, 8, 8],
        [1, 6, 4, 4],
      ],
    );
    assert.deepEqual(
      graph.nodes.map((n) => n.id),
      ['c1', 't1', 'c2/to_NHWC', 'c2', 'c2/to_NCHW', 't2', 'c3'],
    );
    assert.deepEqual(shapeOf(graph, 'c3'), [1, 2, 4, 4]);
  });
});

describe('per-node data_format: an NHWC pooling inside an NCHW graph', () => {
  const file = writeGraphModel(
    [
      placeholder('x', [1, 4, 8, 8]),
      conv('c1', 'x', 'c1_filter', [1, 1, 1, 1], 'SAME', NCHW),
      intConst('to_nhwc', [4], [0, 2, 3, 1]),
      node('t1', 'Transpose', ['c1', 'to_nhwc']),
      // No data_format: NHWC, TensorFlow's default.
      node('pool', 'MaxPool', ['t1'], { ksize: ints(1, 2, 2, 1), strides: ints(1, 2, 2, 1), padding: s('VALID') }),
      intConst('to_nchw', [4], [0, 3, 1, 2]),
      node('t2', 'Transpose', ['pool', 'to_nchw']),
      conv('c2', 't2', 'c2_filter', [1, 1, 1, 1], 'VALID', NCHW),
    ],
    [
      ['c1_filter', [3, 3, 4, 5]],
      ['c2_filter', [1, 1, 5, 2]],
    ],
  );

  it('a MaxPool without data_format pools H and W of its NHWC input, 2x2/2', async () => {
    const graph = await read(file);
    assertConsistent(graph);
    const pool = byId(graph, 'pool');
    assert.deepEqual(pool.attrs.kind === 'pool' && [pool.attrs.kernel, pool.attrs.strides], [
      [2, 2],
      [2, 2],
    ]);
    assert.deepEqual(
      [pool.inputShapes[0], pool.outputShapes[0], shapeOf(graph, 'c2')],
      [
        [1, 5, 8, 8],
        [1, 5, 4, 4],
        [1, 2, 4, 4],
      ],
    );
  });
});

describe('StridedSlice of an activation (SSR-Net age and gender heads)', () => {
  const file = writeGraphModel(
    [
      placeholder('x', [1, 10]),
      node('fc1', 'MatMul', ['x', 'fc1_w'], { transpose_a: { b: false }, transpose_b: { b: false } }),
      intConst('begin', [2], [0, 2]),
      intConst('end', [2], [0, 7]),
      intConst('stride', [2], [1, 1]),
      node('slice', 'StridedSlice', ['fc1', 'begin', 'end', 'stride'], { begin_mask: { i: '1' }, end_mask: { i: '1' } }),
      node('fc2', 'MatMul', ['slice', 'fc2_w'], { transpose_a: { b: false }, transpose_b: { b: false } }),
    ],
    [
      ['fc1_w', [10, 8]],
      ['fc2_w', [5, 3]],
    ],
  );

  it('slices columns 2..7 of [1,8] to [1,5] (masked batch axis), and the next dense reads 5 features', async () => {
    const graph = await read(file);
    assertConsistent(graph);
    assert.deepEqual(
      [shapeOf(graph, 'slice'), byId(graph, 'fc2').inputShapes[0]],
      [
        [1, 5],
        [1, 5],
      ],
    );
  });
});

describe('a TF1 while loop (tf.while_loop frames: Enter, Merge, Switch, LoopCond, NextIteration, Exit)', () => {
  // fc → a loop applying Relu three times to it (counter i < 3) → fc2 → softmax. The loop is a cycle through NextIteration.
  const frame = { frame_name: s('loop'), is_constant: { b: false }, parallel_iterations: { i: '10' } };
  const file = writeGraphModel(
    [
      placeholder('x', [1, 4]),
      node('fc', 'MatMul', ['x', 'fc_w']),
      intConst('i0', [], [0]),
      intConst('limit', [], [3]),
      intConst('one', [], [1]),
      node('i_enter', 'Enter', ['i0'], frame),
      node('limit_enter', 'Enter', ['limit'], { ...frame, is_constant: { b: true } }),
      node('one_enter', 'Enter', ['one'], { ...frame, is_constant: { b: true } }),
      node('i_merge', 'Merge', ['i_enter', 'i_next'], { N: { i: '2' } }),
      node('less', 'Less', ['i_merge', 'limit_enter']),
      node('cond', 'LoopCond', ['less']),
      node('i_switch', 'Switch', ['i_merge', 'cond']),
      node('i_add', 'AddV2', ['i_switch:1', 'one_enter']),
      node('i_next', 'NextIteration', ['i_add']),
      node('i_exit', 'Exit', ['i_switch']),
      node('enter', 'Enter', ['fc'], frame),
      node('merge', 'Merge', ['enter', 'next'], { N: { i: '2' } }),
      node('switch', 'Switch', ['merge', 'cond']),
      node('body', 'Relu', ['switch:1']),
      node('next', 'NextIteration', ['body']),
      node('exit', 'Exit', ['switch']),
      node('fc2', 'MatMul', ['exit', 'fc2_w']),
      node('out', 'Softmax', ['fc2']),
      // A layer fed only by a value the reader cannot follow (the loop counter): it has no node, but a warning.
      node('lost', 'MatMul', ['i_exit', 'fc2_w']),
    ],
    [
      ['fc_w', [4, 3]],
      ['fc2_w', [3, 2]],
    ],
  );

  it('reads: the frame is a set of unsupported nodes, not a cycle, and the layers around it are modelled', async () => {
    const graph = await read(file);
    const status = new Map(graph.nodes.map((n) => [n.id, n.status]));
    assert.deepEqual(
      ['fc', 'enter', 'merge', 'switch', 'exit', 'fc2', 'out'].map((id) => status.get(id)),
      ['ok', 'unsupported', 'unsupported', 'unsupported', 'unsupported', 'ok', 'ok'],
    );
    assert.ok(graph.warnings.some((w) => /^1 conv\/dense layer\(s\) read values computed by ops LeakLint does not follow .* not analysed: "lost"$/.test(w)));
    assert.match(byId(graph, 'enter').note ?? '', /TF1 control flow \(Enter of loop "loop"\) is not analysed/);
    assert.deepEqual(
      [shapeOf(graph, 'exit'), byId(graph, 'fc2').inputShapes[0], shapeOf(graph, 'out')],
      [
        [1, 3],
        [1, 3],
        [1, 2],
      ],
    );
  });

  it('the analysis reports the frame as not analysed (LL005) and still analyses the dense layers', async () => {
    const report = analyseModel(await read(file), { fixes: false });
    const rule = new Map(report.layers.map((l) => [l.nodeId, l]));
    assert.equal(rule.get('enter')?.ruleId, 'LL005');
    for (const id of ['fc', 'fc2']) assert.notEqual(rule.get(id)?.status, 'not-analysed', id);
  });
});

describe('an image input with a dynamic height and width ([1,?,?,3], TF Hub and MediaPipe models)', () => {
  function model(metadata?: object): string {
    const file = writeGraphModel([placeholder('image', [1, -1, -1, 3]), conv('c1', 'image', 'c1_filter', [1, 2, 2, 1], 'SAME')], [['c1_filter', [3, 3, 3, 4]]]);
    if (metadata) {
      const json = JSON.parse(fs.readFileSync(file, 'utf8'));
      fs.writeFileSync(file, JSON.stringify({ ...json, userDefinedMetadata: metadata }));
    }
    return file;
  }

  it('is read at 224x224 with a warning naming the assumed shape (it used to stop the model)', async () => {
    const graph = await read(model());
    assert.deepEqual(
      [graph.inputs[0]!.shape, shapeOf(graph, 'c1')],
      [
        [1, 3, 224, 224],
        [1, 4, 112, 112],
      ],
    );
    assert.ok(
      graph.warnings.some((w) =>
        w.startsWith('input "image" [1, ?, ?, 3] has a dynamic image size; assuming [1, 224, 224, 3] (the usual image-classifier size'),
      ),
    );
  });

  it("takes the size from model.json's userDefinedMetadata, or from a named input shape", async () => {
    assert.deepEqual((await read(model({ imageSize: 96 }))).inputs[0]!.shape, [1, 3, 96, 96]);
    const named = await readTfjs(files, model(), resolveReadOptions({ inputShape: { named: { image: [1, 64, 48, 3] } } }));
    assert.deepEqual(named.inputs[0]!.shape, [1, 3, 64, 48]);
  });
});
