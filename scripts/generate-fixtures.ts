// Writes the generated model fixtures (ONNX + TF.js) described in scripts/fixtures/networks.ts.
// Usage: npx tsx scripts/generate-fixtures.ts [outDir]   (default: test/fixtures/generated)
import * as path from 'path';
import { DEFAULT_OUT_DIR, writeFixtures } from './fixtures/generate';

function main(): void {
  const outDir = path.resolve(process.argv[2] ?? DEFAULT_OUT_DIR);
  const { files, stale } = writeFixtures(outDir);
  const totalBytes = files.reduce((n, f) => n + f.bytes.length, 0);
  console.log(`wrote ${files.length} files (${(totalBytes / 1024 / 1024).toFixed(2)} MiB) to ${outDir}`);
  if (stale.length > 0) {
    console.warn(`files in ${outDir} that the generator no longer writes (delete them):\n  ${stale.join('\n  ')}`);
    process.exitCode = 1;
  }
}

main();
