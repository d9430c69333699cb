// Typed errors for unreadable models: every one names the file, the place in it and a one-line reason.

export type ReadErrorCode =
  | 'empty-file'
  | 'not-a-model' // garbage, text, TFLite or another format under a model's name
  | 'truncated'
  | 'unsupported-version'
  | 'cyclic-graph'
  | 'bad-shape' // absurd, negative or inconsistent declared shapes
  | 'too-large' // over the configured allocation cap
  | 'missing-weights' // missing or short shard / external data file
  | 'path-escape' // a referenced file would leave the model's folder
  | 'bad-weights' // weights manifest inconsistent with the data
  | 'weights-only' // a TF.js manifest without topology
  | 'invalid-model'; // structurally broken (dangling inputs, missing attributes, ...)

export class ModelReadError extends Error {
  constructor(
    readonly code: ReadErrorCode,
    /** The file the problem is in (model file, shard, external data file). */
    readonly file: string,
    /** Where in the file: "node 12 (conv1)", "byte 1024", "weightsManifest[0].paths[1]", ... */
    readonly where: string,
    readonly reason: string,
  ) {
    super(`${file}${where ? ` (${where})` : ''}: ${reason}`);
    this.name = 'ModelReadError';
  }
}

export function isModelReadError(e: unknown): e is ModelReadError {
  return e instanceof ModelReadError;
}
