// Writing what the engine produced: reports and the attack's files. Writing is the adapters' job; this is the Node
// adapters' one way of doing it.
import * as fs from 'fs';
import * as path from 'path';
import type { OutputFile } from '../engine';

/** Writes each file under `folder` (created if needed); names that would leave the folder are refused. */
export async function writeOutputFiles(folder: string, files: readonly OutputFile[]): Promise<void> {
  const root = path.resolve(folder);
  for (const file of files) {
    const target = path.resolve(root, file.path);
    if (target !== root && !target.startsWith(root + path.sep)) throw new Error(`refusing to write ${file.path} outside ${root}`);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    await fs.promises.writeFile(target, file.bytes);
  }
}
