// Node ordering and graph-size limits: nodes are visited producers-first, cycles and dangling inputs are refused,
// and nested subgraphs count against the node limit without being analysed.
import type { onnx } from 'onnx-proto';
import { ModelReadError } from '../../errors';
import * as topologicalSort from '../../graph/topologicalSort';
import { MAX_SUBGRAPH_DEPTH, subgraphTooDeep } from './nesting';

export function nodeLabel(node: onnx.INodeProto, index: number): string {
  return `node ${index} (${node.name || node.opType || '?'})`;
}

/** Subgraphs a node carries in its attributes (If branches, Loop/Scan bodies). */
export function subgraphsOf(node: onnx.INodeProto): onnx.IGraphProto[] {
  const graphs: onnx.IGraphProto[] = [];
  for (const attr of node.attribute ?? []) {
    if (attr.g) graphs.push(attr.g);
    for (const g of attr.graphs ?? []) graphs.push(g);
  }
  return graphs;
}

/** Counts the nodes of `graph` and all its subgraphs, refusing more than `maxNodes` or absurd nesting. */
export function checkNodeCount(graph: onnx.IGraphProto, maxNodes: number, file: string): number {
  let count = 0;
  const pending: { graph: onnx.IGraphProto; depth: number }[] = [{ graph, depth: 0 }];
  while (pending.length > 0) {
    const { graph: current, depth } = pending.pop()!;
    if (depth > MAX_SUBGRAPH_DEPTH) throw subgraphTooDeep(file, current.name ?? '');
    for (const node of current.node ?? []) {
      if (++count > maxNodes) {
        throw new ModelReadError('too-large', file, '', `the model has more than ${maxNodes} nodes (subgraphs included)`);
      }
      for (const sub of subgraphsOf(node)) pending.push({ graph: sub, depth: depth + 1 });
    }
  }
  return count;
}

/**
 * Indices of `nodes` in an order where every node comes after the producers of its inputs; the file order when it
 * already is one. `available` holds the graph inputs and initializers. Duplicate producers and dangling inputs are
 * refused here; the order itself is the shared topological sort's.
 */
export function topologicalOrder(nodes: readonly onnx.INodeProto[], available: ReadonlySet<string>, file: string): number[] {
  const producer = new Map<string, number>();
  nodes.forEach((node, index) => {
    for (const output of node.output ?? []) {
      if (!output) continue;
      if (producer.has(output) || available.has(output)) {
        throw new ModelReadError('invalid-model', file, nodeLabel(node, index), `tensor "${output}" is produced more than once`);
      }
      producer.set(output, index);
    }
  });

  const dependencies = nodes.map((node, index) => {
    const deps: number[] = [];
    for (const input of node.input ?? []) {
      if (!input || available.has(input)) continue;
      const from = producer.get(input);
      if (from === undefined) {
        const reason = `input "${input}" is not produced by any node, graph input or initializer`;
        throw new ModelReadError('invalid-model', file, nodeLabel(node, index), reason);
      }
      deps.push(from);
    }
    return deps;
  });

  return topologicalSort.topologicalOrder(
    nodes.map((_, index) => index),
    (index) => index,
    (index) => dependencies[index],
    (cycle) => cycleError(nodes, cycle, file),
  );
}

/** The cycle in data-flow order (producer -> consumer), starting and ending at the node where it was found. */
function cycleError(nodes: readonly onnx.INodeProto[], cycle: readonly number[], file: string): ModelReadError {
  const names = [...cycle, cycle[0]].map((index) => nodes[index].name || `#${index}`).reverse();
  return new ModelReadError('cyclic-graph', file, nodeLabel(nodes[cycle[0]], cycle[0]), `the graph has a cycle: ${names.join(' -> ')}`);
}
