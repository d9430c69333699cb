// The gradient-matching objective as an ONNX graph (pure TypeScript; the worker runs it on onnxruntime-node).
export {
  buildInvertingGradientsGraph,
  GRADIENT_GRAPH_GRADIENT,
  GRADIENT_GRAPH_INPUT,
  GRADIENT_GRAPH_LOSS,
  type GradientGraph,
  type InvertingGradientsOptions,
} from './invertingGradients';
export { buildJacobianTransposeGraph, type JacobianTransposeGraph, type JacobianTransposeOptions } from './jacobianTranspose';
