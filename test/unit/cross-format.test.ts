// The same network written as ONNX and as TF.js (layers and graph models) reads to the same canonical layer graph
// with the same weights: the readers agree on ops, attributes, NCHW shapes and OIHW / [out, in] weight layouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { readModelFile } from './files';
import type { LayerGraph, LayerNode } from '../../src/engine/ir';

const generated = path.resolve(__dirname, '../fixtures/generated');

/** What must agree between formats: op, attributes (minus format-specific notes), shapes and weight shapes. */
function signature(node: LayerNode) {
  return {
    op: node.op,
    // ONNX stores float attributes (LeakyReLU alpha, epsilon) as float32, JSON as float64.
    attrs: JSON.parse(JSON.stringify(node.attrs, (_k, v) => (typeof v === 'number' ? Math.fround(v) : v))),
    inputShapes: node.inputShapes,
    outputShapes: node.outputShapes,
    weights: Object.fromEntries(Object.entries(node.weights).map(([k, w]) => [k, w!.shape])),
  };
}

function assertSameWeights(a: LayerGraph, b: LayerGraph, tolerance: (name: string) => number) {
  a.nodes.forEach((nodeA, i) => {
    const nodeB = b.nodes[i];
    for (const [key, weightA] of Object.entries(nodeA.weights)) {
      const valuesA = weightA!.load();
      const valuesB = nodeB.weights[key as keyof LayerNode['weights']]!.load();
      assert.equal(valuesB.length, valuesA.length, `${nodeA.id}.${key} length`);
      let worst = 0;
      for (let j = 0; j < valuesA.length; j++) worst = Math.max(worst, Math.abs(valuesA[j] - valuesB[j]));
      assert.ok(worst <= tolerance(`${nodeA.id}.${key}`), `${nodeA.id}.${key}: max difference ${worst}`);
    }
  });
}

const pairs: [string, string[]][] = [
  ['cnn6', ['model.onnx', 'tfjs/model.json', 'tfjs-graph/model.json']],
  ['cnn6d', ['model.onnx', 'tfjs/model.json']],
  ['lenet-sigmoid', ['model.onnx', 'model-constant-nodes.onnx', 'tfjs/model.json', 'tfjs-graph/model.json']],
  ['mlp', ['model.onnx', 'model-float-data.onnx', 'model-matmul.onnx', 'tfjs/model.json']],
  ['bn-maxpool-residual', ['model.onnx', 'model-external-data.onnx', 'tfjs/model.json']],
  ['depthwise-net', ['model.onnx', 'tfjs/model.json']],
  ['relu-net', ['model.onnx', 'tfjs/model.json']],
];

for (const [network, files] of pairs) {
  test(`${network}: ${files.join(', ')} read to the same graph and weights`, async () => {
    const [reference, ...others] = await Promise.all(files.map((f) => readModelFile(path.join(generated, network, f))));
    for (const other of others) {
      assert.deepEqual(other.nodes.map(signature), reference.nodes.map(signature), `${other.file} vs ${reference.file}`);
      // float32 in every file: identical values after conversion to float64.
      assertSameWeights(reference, other, () => 0);
    }
  });
}

test('cnn6 quantized to uint8 over several shards reads to the same graph, weights within one quantization step', async () => {
  const reference = await readModelFile(path.join(generated, 'cnn6', 'model.onnx'));
  const quantized = await readModelFile(path.join(generated, 'cnn6', 'tfjs-quantized', 'model.json'));
  assert.deepEqual(quantized.nodes.map(signature), reference.nodes.map(signature));
  // uint8 quantization of values in [min, max]: step = (max − min)/255, error ≤ step/2.
  const steps = new Map<string, number>();
  for (const node of reference.nodes) {
    for (const [key, w] of Object.entries(node.weights)) {
      const v = w!.load();
      let lo = Infinity;
      let hi = -Infinity;
      for (const x of v) {
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
      steps.set(`${node.id}.${key}`, (hi - lo) / 255);
    }
  }
  assertSameWeights(reference, quantized, (name) => steps.get(name)! * 0.51 + 1e-7);
});
