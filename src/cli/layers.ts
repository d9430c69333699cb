// `leaklint layers <model>`: the layer graph as the reader understood it (no analysis).
import * as path from 'path';
import { layersOfFile, writeLayersJson, writeLayersTable, type InputShapeOption } from '../engine';
import { nodeFileAccess } from '../node/nodeFileAccess';
import { ExitCode, formatFailure, type CliContext } from './context';

export interface LayersOptions {
  format: 'table' | 'json';
  inputShape?: InputShapeOption;
}

export async function runLayers(model: string, options: LayersOptions, context: CliContext): Promise<ExitCode> {
  const file = path.resolve(context.cwd, model);
  const outcome = await layersOfFile(file, { inputShape: options.inputShape }, { files: nodeFileAccess, trusted: true });
  if (outcome.kind === 'failure') {
    context.stderr(formatFailure(outcome.failure, context.cwd) + '\n');
    return ExitCode.error;
  }
  context.stdout(options.format === 'json' ? writeLayersJson(outcome.listing) : writeLayersTable(outcome.listing, context.cwd));
  return ExitCode.clean;
}
