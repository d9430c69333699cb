// Options every reader takes. Limits keep a hostile file from making us allocate or loop without bound.

/** Shapes for several model inputs: one unnamed (the image input) and/or shapes by input name. */
export interface InputShapes {
  /** For the model's first input (the image), unless `named` has an entry for it. */
  unnamed?: number[];
  /** By input name: an ONNX graph input, a TF.js Placeholder or Keras InputLayer. */
  named: Record<string, number[]>;
}

/** A shape for the image input, or shapes by input name. */
export type InputShapeOption = number[] | InputShapes;

/**
 * Height and width assumed for an image input whose spatial dimensions are dynamic when neither the options nor the
 * model's metadata give them: 224x224, the input size of the ImageNet classifiers most image models derive from.
 * The reader says so in a warning that names the assumed shape.
 */
export const DEFAULT_IMAGE_SIZE = 224;

export interface ReadOptions {
  /**
   * Shape to use for model inputs when the file leaves dimensions dynamic (ONNX dim_param, TF.js -1/null), in the
   * file's own layout (NCHW for ONNX, NHWC for TF.js). A plain shape applies to the first (image) input; named
   * shapes to the inputs of those names. Missing batch dims default to 1.
   */
  inputShape?: InputShapeOption;
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

/** The shape `option` gives the input `name` (`first`: the model's first input, the image); undefined if none. */
export function inputShapeFor(option: InputShapeOption | undefined, name: string, first: boolean): number[] | undefined {
  if (!option) return undefined;
  if (Array.isArray(option)) return first ? option : undefined;
  // Own properties only: an input named "constructor" must not find Object.prototype's.
  if (Object.hasOwn(option.named, name)) return option.named[name];
  return first ? option.unnamed : undefined;
}

/** Input names `option` gives a shape for (to warn about those that name no input of the model). */
export function namedInputs(option: InputShapeOption | undefined): string[] {
  return option && !Array.isArray(option) ? Object.keys(option.named) : [];
}

/**
 * Adds one input shape argument to `previous`: "1,3,32,32" (also "1x3x32x32") for the image input,
 * "name=1,3,48,192" for a named input. Throws an Error whose message says what is wrong: a dimension that is not a
 * positive integer ("1,3,x"), an empty one ("1,,3"), a second unnamed shape or a second shape for one name.
 */
export function addInputShape(previous: InputShapeOption | undefined, value: string): InputShapeOption {
  const shapes: InputShapes = Array.isArray(previous) ? { unnamed: previous, named: {} } : { unnamed: previous?.unnamed, named: { ...previous?.named } };
  const equals = value.indexOf('=');
  const shape = parseDims(equals >= 0 ? value.slice(equals + 1) : value);
  if (equals < 0) {
    if (shapes.unnamed) throw new Error(`two input shapes without a name ([${shapes.unnamed.join(',')}] and "${value}"); name the inputs: name=1,3,32,32`);
    shapes.unnamed = shape;
  } else {
    const name = value.slice(0, equals).trim();
    if (!name) throw new Error(`"${value}" has no input name before "="`);
    if (Object.hasOwn(shapes.named, name)) throw new Error(`two input shapes for "${name}"`);
    // fromEntries defines the key as data, so even "__proto__" is an input name like any other.
    shapes.named = Object.fromEntries([...Object.entries(shapes.named), [name, shape]]);
  }
  if (Object.keys(shapes.named).length === 0) return shapes.unnamed!;
  return shapes.unnamed ? shapes : { named: shapes.named };
}

/** Input shape arguments (see addInputShape) as one option. */
export function parseInputShapes(values: readonly string[]): InputShapeOption | undefined {
  return values.reduce<InputShapeOption | undefined>(addInputShape, undefined);
}

function parseDims(text: string): number[] {
  const parts = text.trim().split(/\s*[,x×]\s*|\s+/);
  const shape = parts.map((part) => (/^\d+$/.test(part) ? Number(part) : NaN));
  if (parts.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new Error(`"${text}" is not a shape; write positive integers separated by commas, e.g. 1,3,32,32`);
  }
  return shape;
}
