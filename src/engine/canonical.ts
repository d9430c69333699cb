// One canonical form for the layer graph, whatever the file format: the same network exported as ONNX,
// as a TF.js layers model or as a TF.js graph model reads to the same nodes.
// - identity and dropout nodes (inference no-ops) are removed;
// - a zero padding whose only reader is a convolution or pooling window is folded into that op's pads
//   (Keras writes ZeroPadding2D + 'valid' conv where ONNX writes pads on the Conv);
// - global pooling outputs [N, C]: the Flatten that ONNX needs after its [N, C, 1, 1] is dropped.
import type { LayerGraph, LayerNode } from './ir';

const NO_OPS = new Set(['identity', 'dropout']);

export function canonicalize(graph: LayerGraph): LayerGraph {
  let nodes = graph.nodes;
  let outputs = graph.outputs;
  const readers = (tensor: string) => nodes.filter((n) => n.inputs.includes(tensor));
  const rename = (from: string, to: string) => {
    nodes = nodes.map((n) => (n.inputs.includes(from) ? { ...n, inputs: n.inputs.map((t) => (t === from ? to : t)) } : n));
    outputs = outputs.map((o) => (o.name === from ? { ...o, name: to } : o));
  };

  for (const node of graph.nodes) {
    if (node.status !== 'ok' || node.inputs.length !== 1 || node.outputs.length !== 1) continue;
    if (NO_OPS.has(node.op)) {
      nodes = nodes.filter((n) => n !== node);
      rename(node.outputs[0], node.inputs[0]);
      continue;
    }
    if ((node.op === 'flatten' || node.op === 'reshape') && isGlobalPoolOutput(node, nodes)) {
      const pool = nodes.find((n) => n.outputs.includes(node.inputs[0]))!;
      const flat = [pool.outputShapes[0][0], pool.outputShapes[0][1]];
      nodes = nodes.filter((n) => n !== node).map((n) => (n === pool ? { ...pool, outputShapes: [flat] } : n));
      rename(node.outputs[0], node.inputs[0]);
      continue;
    }
    if (node.op === 'pad' && node.attrs.kind === 'pad' && node.attrs.mode === 'constant' && node.attrs.value === 0) {
      const consumers = readers(node.outputs[0]);
      const target = consumers.length === 1 ? consumers[0] : undefined;
      if (!target || graph.outputs.some((o) => o.name === node.outputs[0])) continue;
      const folded = foldPads(target, node);
      if (!folded) continue;
      nodes = nodes.filter((n) => n !== node).map((n) => (n === target ? folded : n));
    }
  }
  return { ...graph, nodes, outputs };
}

/** A flatten of a [N, C, 1, 1] global pooling output, read by nobody else. */
function isGlobalPoolOutput(node: LayerNode, nodes: LayerNode[]): boolean {
  const pool = nodes.find((n) => n.outputs.includes(node.inputs[0]));
  if (!pool || (pool.op !== 'globalAvgPool' && pool.op !== 'globalMaxPool')) return false;
  const shape = pool.outputShapes[0];
  const out = node.outputShapes[0];
  const readers = nodes.filter((n) => n.inputs.includes(node.inputs[0]));
  return readers.length === 1 && shape?.length === 4 && shape[2] === 1 && shape[3] === 1 && out?.length === 2 && out[1] === shape[1];
}

function foldPads(target: LayerNode, pad: LayerNode): LayerNode | undefined {
  if (pad.attrs.kind !== 'pad') return undefined;
  const extra = pad.attrs.pads;
  const attrs = target.attrs;
  // Max pooling pads with −∞, not zeros: folding a zero pad into it would change the function.
  const windowed = attrs.kind === 'conv' || (attrs.kind === 'pool' && target.op === 'avgPool' && attrs.countIncludePad);
  if (!windowed || (attrs.kind !== 'conv' && attrs.kind !== 'pool')) return undefined;
  const pads = attrs.pads.map((p, i) => p + extra[i]) as typeof attrs.pads;
  return {
    ...target,
    inputs: [pad.inputs[0], ...target.inputs.slice(1)],
    inputShapes: [pad.inputShapes[0], ...target.inputShapes.slice(1)],
    attrs: { ...attrs, pads },
    note: target.note ? `${target.note}; zero padding ${pad.id} folded in` : `zero padding ${pad.id} folded in`,
  };
}
