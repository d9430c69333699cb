// Checks every reader's graph gets, whatever the format: weights must be finite numbers, and the model's output must
// depend on its input. A broken file is a located read error; it must never be analysed into a lower risk (NaN weights
// used to give rank 0, a disconnected output risk 0).
import { ModelReadError } from '../errors';
import type { LayerGraph, LayerNode, SourceLocation, WeightTensor } from '../ir';

export function checkIntegrity(graph: LayerGraph): LayerGraph {
  checkConnected(graph);
  return { ...graph, nodes: graph.nodes.map((node) => withFiniteWeights(node, graph.file)) };
}

/** Loading a weight tensor of this node refuses NaN and ±Infinity, naming the tensor and the first bad index. */
function withFiniteWeights(node: LayerNode, file: string): LayerNode {
  const entries = Object.entries(node.weights) as [keyof LayerNode['weights'], WeightTensor | undefined][];
  if (!entries.some(([, w]) => w)) return node;
  const weights: LayerNode['weights'] = {};
  for (const [role, tensor] of entries) {
    if (!tensor) continue;
    weights[role] = {
      ...tensor,
      load: () => {
        const values = tensor.load();
        for (let i = 0; i < values.length; i++) {
          if (!Number.isFinite(values[i])) {
            const what = Number.isNaN(values[i]) ? 'NaN' : values[i] > 0 ? 'Infinity' : '-Infinity';
            throw new ModelReadError('bad-weights', file, whereOf(node.location, node.name), `tensor "${tensor.name}" holds ${what} at index ${i}`);
          }
        }
        return values;
      },
    };
  }
  return { ...node, weights };
}

/** Some graph output must be computed, through the nodes, from some graph input. */
function checkConnected(graph: LayerGraph): void {
  if (graph.inputs.length === 0 || graph.outputs.length === 0) return;
  const fromInput = new Set(graph.inputs.map((i) => i.name));
  for (const node of graph.nodes) {
    if (node.inputs.some((t) => fromInput.has(t))) for (const t of node.outputs) fromInput.add(t);
  }
  if (graph.outputs.some((o) => fromInput.has(o.name))) return;
  const outputs = graph.outputs.map((o) => `"${o.name}"`).join(', ');
  const inputs = graph.inputs.map((i) => `"${i.name}"`).join(', ');
  throw new ModelReadError(
    'invalid-model',
    graph.file,
    'graph outputs',
    `no output (${outputs}) depends on the model input (${inputs}): the graph is disconnected`,
  );
}

function whereOf(location: SourceLocation, name: string): string {
  if (location.format === 'onnx') return `node ${location.graphPath ?? location.nodeIndex} (${name})`;
  const path = location.jsonPath.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
  return `${path} (${name})`;
}
