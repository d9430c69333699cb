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
}

export const DEFAULT_LIMITS = {
  maxTensorElements: 2 ** 31,
  maxFileBytes: 4 * 2 ** 30,
  maxNodes: 200_000,
} as const;

export type ResolvedReadOptions = ReadOptions & typeof DEFAULT_LIMITS;

export function resolveReadOptions(options: ReadOptions = {}): ResolvedReadOptions {
  return {
    ...options,
    maxTensorElements: options.maxTensorElements ?? DEFAULT_LIMITS.maxTensorElements,
    maxFileBytes: options.maxFileBytes ?? DEFAULT_LIMITS.maxFileBytes,
    maxNodes: options.maxNodes ?? DEFAULT_LIMITS.maxNodes,
  } as ResolvedReadOptions;
}
