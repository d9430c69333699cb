// One canonical form for the layer graph, whatever the file format: the same network exported as ONNX,
// as a TF.js layers model or as a TF.js graph model reads to the same nodes.
// - identity and dropout nodes (inference no-ops) are removed;
// - a zero padding whose only reader is a convolution or an average pooling that counts padding is folded into that
//   op's pads (Keras writes ZeroPadding2D + 'valid' conv where ONNX writes pads on the Conv);
// - global pooling outputs [N, C]: the Flatten that ONNX needs after its [N, C, 1, 1] is dropped.
// One pass over the nodes with maps, so a graph of many no-ops stays linear.
import type { LayerGraph, LayerNode } from './ir';

const NO_OPS = new Set(['identity', 'dropout']);

export function canonicalize(graph: LayerGraph): LayerGraph {
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const producer = new Map<string, LayerNode>();
  const readerCount = new Map<string, number>();
  for (const node of graph.nodes) {
    for (const t of node.outputs) producer.set(t, node);
    for (const t of node.inputs) readerCount.set(t, (readerCount.get(t) ?? 0) + 1);
  }
  /** Tensor renames from removed nodes: output → the tensor it stands for. */
  const alias = new Map<string, string>();
  const resolve = (tensor: string): string => {
    let t = tensor;
    while (alias.has(t)) t = alias.get(t)!;
    return t;
  };
  /** Nodes replaced by a changed copy (pad folding, global pooling shape). */
  const replaced = new Map<LayerNode, LayerNode>();
  const current = (node: LayerNode) => replaced.get(node) ?? node;
  const removed = new Set<LayerNode>();
  /** The single node reading `tensor`, found lazily (only for pads). */
  const soleReader = (tensor: string): LayerNode | undefined => {
    if (readerCount.get(tensor) !== 1 || graphOutputs.has(tensor)) return undefined;
    return graph.nodes.find((n) => !removed.has(n) && n.inputs.includes(tensor));
  };

  for (const node of graph.nodes) {
    if (node.status !== 'ok' || node.inputs.length !== 1 || node.outputs.length !== 1) continue;
    const input = resolve(node.inputs[0]);
    if (NO_OPS.has(node.op)) {
      removed.add(node);
      alias.set(node.outputs[0], input);
      continue;
    }
    const source = producer.get(input);
    if ((node.op === 'flatten' || node.op === 'reshape') && source && flattensGlobalPool(current(source), node, readerCount.get(input) ?? 0)) {
      const pool = current(source);
      replaced.set(source, { ...pool, outputShapes: [[pool.outputShapes[0][0], pool.outputShapes[0][1]]] });
      removed.add(node);
      alias.set(node.outputs[0], input);
      continue;
    }
    if (node.op === 'pad' && node.attrs.kind === 'pad' && node.attrs.mode === 'constant' && node.attrs.value === 0) {
      const target = soleReader(node.outputs[0]);
      const folded = target && foldPads(current(target), node, input);
      if (!target || !folded) continue;
      replaced.set(target, folded);
      removed.add(node);
    }
  }

  const nodes = graph.nodes
    .filter((n) => !removed.has(n))
    .map((n) => {
      const node = current(n);
      return node.inputs.some((t) => alias.has(t)) ? { ...node, inputs: node.inputs.map(resolve) } : node;
    });
  const outputs = graph.outputs.map((o) => (alias.has(o.name) ? { ...o, name: resolve(o.name) } : o));
  return { ...graph, nodes, outputs };
}

/** A flatten of a [N, C, 1, 1] global pooling output that nobody else reads. */
function flattensGlobalPool(pool: LayerNode, flatten: LayerNode, readersOfPoolOutput: number): boolean {
  if (pool.op !== 'globalAvgPool' && pool.op !== 'globalMaxPool') return false;
  const shape = pool.outputShapes[0];
  const out = flatten.outputShapes[0];
  return readersOfPoolOutput === 1 && shape?.length === 4 && shape[2] === 1 && shape[3] === 1 && out?.length === 2 && out[1] === shape[1];
}

function foldPads(target: LayerNode, pad: LayerNode, padInput: string): LayerNode | undefined {
  if (pad.attrs.kind !== 'pad') return undefined;
  const extra = pad.attrs.pads;
  const attrs = target.attrs;
  // Max pooling pads with −∞, not zeros: folding a zero pad into it would change the function.
  const windowed = attrs.kind === 'conv' || (attrs.kind === 'pool' && target.op === 'avgPool' && attrs.countIncludePad);
  if (!windowed || (attrs.kind !== 'conv' && attrs.kind !== 'pool')) return undefined;
  const pads = attrs.pads.map((p, i) => p + extra[i]) as typeof attrs.pads;
  return {
    ...target,
    inputs: [padInput, ...target.inputs.slice(1)],
    inputShapes: [pad.inputShapes[0], ...target.inputShapes.slice(1)],
    attrs: { ...attrs, pads },
    note: target.note ? `${target.note}; zero padding ${pad.id} folded in` : `zero padding ${pad.id} folded in`,
  };
}
