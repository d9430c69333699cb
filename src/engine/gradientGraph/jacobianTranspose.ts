// Jᵀu for the Jacobian J = ∂g/∂x of the parameter-gradient map g(x) (softmax cross-entropy with a label, all or a
// subset of the parameter tensors as one vector): fed x and u, one run gives ∂/∂x ⟨g(x), u⟩ = J(x)ᵀ u. The numerical
// rank of J (is the image locally identifiable from the shared gradients?) comes from such products.
import type { AttackNetwork } from '../attack/network/attackNetwork';
import { lowerNetwork, type LoweredNetwork } from './lowering';
import { GraphWriter, sizeOfShape } from './onnxWriter';
import { GradientPasses, selectBlocks } from './passes';

export interface JacobianTransposeOptions {
  label: number;
  /** Parameter tensors g runs over (default: every trainable tensor the graph computes a gradient for). */
  parameters?: readonly string[];
  /** Start at this unit's input instead of the model input. */
  fromUnit?: string;
  /** The network as lowerNetwork(net, fromUnit) gives it, when the caller has it already (its ops then belong to this graph). */
  lowered?: LoweredNetwork;
}

export interface JacobianTransposeGraph {
  bytes: Uint8Array;
  /** The fed tensors: x (the image, or `fromUnit`'s input) and u (the parameter tensors' entries, concatenated). */
  inputs: { x: { name: string; shape: number[] }; u: { name: string; shape: [number] } };
  /** Jᵀu, x's shape. */
  output: string;
  /** The parameter tensors u is laid out over, in order, with their sizes (engine layout inside each). */
  parameters: { name: string; size: number }[];
  nodeCount: number;
}

export function buildJacobianTransposeGraph(net: AttackNetwork, options: JacobianTransposeOptions): JacobianTransposeGraph {
  if (!Number.isInteger(options.label) || options.label < 0 || options.label >= net.classes) {
    throw new RangeError(`label ${options.label} is not a class index (0…${net.classes - 1})`);
  }
  const lowered = options.lowered ?? lowerNetwork(net, options.fromUnit);
  const blocks = selectBlocks(lowered, options.parameters);
  const sizes = blocks.map((b) => sizeOfShape(b.shape));
  const total = sizes.reduce((a, b) => a + b, 0);
  const w = new GraphWriter();
  const passes = new GradientPasses(w, lowered);
  const x = w.input('x', lowered.slotShapes[lowered.source]);
  const u = w.input('u', [total]);
  passes.forward(x);
  passes.backward(options.label);
  const parts = w.opMulti(
    'Split',
    [u, w.ints(sizes)],
    sizes.map((size) => ({ shape: [size] })),
    { axis: 0 },
  );
  const cotangents = new Map(blocks.map((b, i) => [b.name, w.reshape(parts[i], b.shape)]));
  w.output(passes.gradientOfParameterGradients(cotangents) ?? w.zeros(x.shape), 'jtu');
  return {
    bytes: w.encode('jacobian_transpose', `J(x)ᵀu of the parameter-gradient map for label ${options.label}`),
    inputs: { x: { name: 'x', shape: [...x.shape] }, u: { name: 'u', shape: [total] } },
    output: 'jtu',
    parameters: blocks.map((b, i) => ({ name: b.name, size: sizes[i] })),
    nodeCount: w.nodeCount,
  };
}
