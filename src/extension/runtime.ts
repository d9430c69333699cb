// The one place the extension gets its background runtime from: a child process (src/runtime/runtimeClient) that
// reads, analyses and attacks models, so that the extension host never parses a model nor loads native code itself.
import * as path from 'path';
import type * as vscode from 'vscode';
import { RuntimeClient } from '../runtime/runtimeClient';

export { RuntimeClient, RuntimeError } from '../runtime/runtimeClient';

export function createRuntimeClient(context: vscode.ExtensionContext): RuntimeClient {
  return new RuntimeClient(path.join(context.extensionPath, 'dist', 'worker.js'));
}

/** The sample photos that ship with the extension (media/samples). */
export function bundledSamplesFolder(context: vscode.ExtensionContext): string {
  return path.join(context.extensionPath, 'media', 'samples');
}
