// `leaklint layers <model>`: the layer graph as the reader understood it (no analysis).
import * as path from 'path';
import { displayPath, layersOfFile, writeLayersJson, writeLayersTable, type InputShapeOption } from '../engine';
import { nodeFileAccess } from '../node/nodeFileAccess';
import { describeFailure, ExitCode, printLine, type CliContext } from './context';

export interface LayersOptions {
  format: 'table' | 'json';
  inputShape?: InputShapeOption;
}

export async function runLayers(model: string, options: LayersOptions, context: CliContext): Promise<ExitCode> {
  const file = path.resolve(context.cwd, model);
  const outcome = await layersOfFile(file, { inputShape: options.inputShape }, { files: nodeFileAccess, trusted: true });
  if (outcome.kind === 'failure') {
    printLine(context, describeFailure(outcome.failure, context.cwd));
    return ExitCode.error;
  }
  // Warnings on stderr (the JSON listing also has them), never inside the table.
  for (const warning of outcome.listing.warnings) printLine(context, `${displayPath(file, context.cwd)}: warning: ${warning}`);
  context.stdout(options.format === 'json' ? writeLayersJson(outcome.listing) : writeLayersTable(outcome.listing, context.cwd, { warnings: false }));
  return ExitCode.clean;
}
