// Tests read through the same FileAccess the CLI and the worker hand to the engine.
import type { LayerGraph } from '../../src/engine/ir';
import type { ReadOptions } from '../../src/engine/options';
import { readModel } from '../../src/engine/readers';
import { nodeFileAccess } from '../../src/node/nodeFileAccess';

export const files = nodeFileAccess;

export function readModelFile(file: string, options: ReadOptions = {}): Promise<LayerGraph> {
  return readModel(nodeFileAccess, file, options);
}
