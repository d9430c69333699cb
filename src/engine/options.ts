// Options every reader takes. Limits keep a hostile file from making us allocate or loop without bound.

export interface ReadOptions {
  /**
   * Shape to use for the model input when the file leaves dimensions dynamic (ONNX dim_param, TF.js -1/null),
   * in the file's own layout (NCHW for ONNX, NHWC for TF.js). Missing batch dims default to 1.
   */
  inputShape?: number[];
  /** Largest tensor (in elements) any declared shape may have; larger shapes are refused before allocating. */
  maxTensorElements?: number;
  /** Largest model or weight file we agree to read, in bytes. */
  maxFileBytes?: number;
  /** Largest number of nodes in a graph (subgraphs included). */
  maxNodes?: number;
  /**
   * Largest total number of elements of the constants a model computes rather than stores (ONNX ConstantOfShape,
   * Expand, folded arithmetic, transposes...): a few bytes of graph could otherwise declare gigabytes of weights.
   */
  maxDerivedElements?: number;
  /**
   * Whether ONNX external data files may be opened (default true). The extension turns it off in an untrusted
   * workspace: the model file is still read, and a tensor stored outside it fails with a clear message when loaded.
   */
  externalData?: boolean;
}

export const DEFAULT_LIMITS = {
  maxTensorElements: 2 ** 31,
  maxFileBytes: 4 * 2 ** 30,
  maxNodes: 200_000,
  // 2^28: VGG-19 stored as ConstantOfShape (about 144M elements) still reads.
  maxDerivedElements: 2 ** 28,
} as const;

export type ResolvedReadOptions = ReadOptions & typeof DEFAULT_LIMITS;

export function resolveReadOptions(options: ReadOptions = {}): ResolvedReadOptions {
  return {
    ...options,
    maxTensorElements: options.maxTensorElements ?? DEFAULT_LIMITS.maxTensorElements,
    maxFileBytes: options.maxFileBytes ?? DEFAULT_LIMITS.maxFileBytes,
    maxNodes: options.maxNodes ?? DEFAULT_LIMITS.maxNodes,
    maxDerivedElements: options.maxDerivedElements ?? DEFAULT_LIMITS.maxDerivedElements,
  } as ResolvedReadOptions;
}
