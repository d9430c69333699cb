// The layer listing of `leaklint layers`: what the reader understood of a model, before any analysis.
import { parameterCount, type LayerGraph, type LayerNode, type NodeAttrs, type Shape, type SourceLocation } from '../ir';
import { displayPath, formatNumber, formatShapes, jsonText, plainText, renderTextTable, type Alignment } from './format';

export interface LayerListingNode {
  id: string;
  name: string;
  op: string;
  sourceOp: string;
  inputs: string[];
  outputs: string[];
  inputShapes: Shape[];
  outputShapes: Shape[];
  attrs: NodeAttrs;
  /** Weight tensors by role, without their values. */
  weights: Record<string, { name: string; shape: Shape; storage: string }>;
  parameterCount: number;
  status: string;
  note?: string;
  location: SourceLocation;
}

export interface LayerListing {
  file: string;
  format: string;
  producer?: string;
  opset?: number;
  inputs: { name: string; shape: Shape }[];
  outputs: { name: string; shape: Shape }[];
  parameterCount: number;
  nodes: LayerListingNode[];
  warnings: string[];
}

export function buildLayerListing(graph: LayerGraph): LayerListing {
  const nodes = graph.nodes.map(toListingNode);
  return {
    file: graph.file,
    format: graph.format,
    ...(graph.producer !== undefined ? { producer: graph.producer } : {}),
    ...(graph.opset !== undefined ? { opset: graph.opset } : {}),
    inputs: graph.inputs.map(({ name, shape }) => ({ name, shape })),
    outputs: graph.outputs.map(({ name, shape }) => ({ name, shape })),
    parameterCount: nodes.reduce((sum, node) => sum + node.parameterCount, 0),
    nodes,
    warnings: graph.warnings,
  };
}

function toListingNode(node: LayerNode): LayerListingNode {
  const weights: LayerListingNode['weights'] = {};
  for (const [role, tensor] of Object.entries(node.weights)) {
    if (tensor) weights[role] = { name: tensor.name, shape: tensor.shape, storage: tensor.storage };
  }
  return {
    id: node.id,
    name: node.name,
    op: node.op,
    sourceOp: node.sourceOp,
    inputs: node.inputs,
    outputs: node.outputs,
    inputShapes: node.inputShapes,
    outputShapes: node.outputShapes,
    attrs: node.attrs,
    weights,
    parameterCount: parameterCount(node),
    status: node.status,
    ...(node.note !== undefined ? { note: node.note } : {}),
    location: node.location,
  };
}

export function writeLayersJson(listing: LayerListing): string {
  return jsonText(listing);
}

/** The listing as a terminal table; the reader's warnings as a footer unless `warnings` is false (the CLI prints them on stderr). */
export function writeLayersTable(listing: LayerListing, baseDir: string, { warnings = true } = {}): string {
  const describeTensors = (tensors: { name: string; shape: Shape }[]): string => tensors.map((t) => `${t.name} ${formatShapes([t.shape])}`).join(', ') || '-';
  const header = [
    `${displayPath(listing.file, baseDir)}  (${listing.format}${listing.producer ? `, ${listing.producer}` : ''}${listing.opset !== undefined ? `, opset ${listing.opset}` : ''})`,
    `inputs: ${describeTensors(listing.inputs)}`,
    `outputs: ${describeTensors(listing.outputs)}`,
  ];
  const headers = ['#', 'id', 'op', 'source op', 'input -> output', 'params', 'status'];
  const align: Alignment[] = ['right', 'left', 'left', 'left', 'left', 'right', 'left'];
  const rows = listing.nodes.map((node, i) => [
    String(i),
    node.id,
    node.op,
    node.sourceOp,
    `${formatShapes(node.inputShapes)} -> ${formatShapes(node.outputShapes)}`,
    formatNumber(node.parameterCount),
    node.note ? `${node.status}: ${node.note}` : node.status,
  ]);
  const footer = [
    `${listing.nodes.length} node(s), ${formatNumber(listing.parameterCount)} parameter(s)`,
    ...(warnings ? listing.warnings.map((w) => `warning: ${w}`) : []),
  ];
  return [header.map(plainText).join('\n'), renderTextTable(headers, rows, align), footer.map(plainText).join('\n')].join('\n\n') + '\n';
}
