// A tiny ONNX classifier with one convolution whose attributes (and an optional pooling node's) are set at will: the
// models of the huge-attribute tests (issue 12, fault 1) and of bench/attributes.ts.
import { node, tensor, valueInfo, type ModelSpec } from './onnx-helpers';

export type Attrs = Record<string, number | number[]>;

/** x [1,1,8,8] → Conv(2 filters 3×3, `conv`) [→ Relu] [→ pool] → GlobalAveragePool → Flatten → Gemm(2 → 2). */
export function model(conv: Attrs, options: { relu?: boolean; pool?: { op: string; attrs: Attrs } } = {}): ModelSpec {
  const nodes = [node('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3], ...conv })];
  let last = 'c';
  if (options.relu) {
    nodes.push(node('Relu', [last], ['r']));
    last = 'r';
  }
  if (options.pool) {
    nodes.push(node(options.pool.op, [last], ['p'], options.pool.attrs));
    last = 'p';
  }
  nodes.push(node('GlobalAveragePool', [last], ['g']), node('Flatten', ['g'], ['f']), node('Gemm', ['f', 'd'], ['logits'], { transB: 1 }));
  return {
    nodes,
    inputs: [valueInfo('x', [1, 1, 8, 8])],
    outputs: [valueInfo('logits', [1, 2])],
    initializers: [
      tensor(
        'w',
        [2, 1, 3, 3],
        Array.from({ length: 18 }, (_, i) => Math.sin(i + 1)),
      ),
      tensor('d', [2, 2], [1, -1, 0.5, 2]),
    ],
  };
}
