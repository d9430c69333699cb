// Node ordering and graph-size limits: nodes are visited producers-first, cycles and dangling inputs are refused,
// and nested subgraphs count against the node limit without being analysed.
import type { onnx } from 'onnx-proto';
import { ModelReadError } from '../../errors';
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
 * already is one. `available` holds the graph inputs and initializers.
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

  if (dependencies.every((deps, index) => deps.every((from) => from < index))) return nodes.map((_, index) => index);

  // Kahn's algorithm; ready nodes are taken in file order.
  const waiting = dependencies.map((deps) => deps.length);
  const consumers: number[][] = nodes.map(() => []);
  dependencies.forEach((deps, index) => deps.forEach((from) => consumers[from].push(index)));
  const order: number[] = [];
  const ready = waiting.flatMap((count, index) => (count === 0 ? [index] : []));
  for (let head = 0; head < ready.length; head++) {
    const index = ready[head];
    order.push(index);
    for (const next of consumers[index]) if (--waiting[next] === 0) ready.push(next);
  }
  if (order.length < nodes.length) throw cycleError(nodes, dependencies, waiting, file);
  return order;
}

/** Follows unresolved dependencies from a blocked node until one repeats: that loop is the reported cycle. */
function cycleError(nodes: readonly onnx.INodeProto[], dependencies: number[][], waiting: number[], file: string): ModelReadError {
  const seen = new Map<number, number>();
  const path: number[] = [];
  let current = waiting.findIndex((count) => count > 0);
  while (!seen.has(current)) {
    seen.set(current, path.length);
    path.push(current);
    current = dependencies[current].find((from) => waiting[from] > 0)!;
  }
  const cycle = path.slice(seen.get(current));
  const names = [...cycle, current].map((index) => nodes[index].name || `#${index}`).reverse();
  return new ModelReadError('cyclic-graph', file, nodeLabel(nodes[current], current), `the graph has a cycle: ${names.join(' -> ')}`);
}
