// Fills a folder with the integration tests' workspace: a copy of test/fixtures/generated/cnn6d (model.onnx and
// tfjs/model.json + its shard), tfjs-min/ (the same model.json minified to one line, as converters often write it)
// cnn6.onnx (test/fixtures/generated/cnn6, fully recoverable) and bad.onnx, bytes that are not a model. Used by run.sh and runTestElectron.js.
// Usage as a script: node makeWorkspace.js <empty folder>
'use strict';
const fs = require('fs');
const path = require('path');

const FIXTURE = path.resolve(__dirname, '../fixtures/generated/cnn6d');
/** R-GAP's CNN6, fully recoverable: the model whose reconstructions come back. */
const LEAKY_MODEL = path.resolve(__dirname, '../fixtures/generated/cnn6/model.onnx');

function makeWorkspace(folder) {
  if (!fs.existsSync(path.join(FIXTURE, 'model.onnx'))) throw new Error(`missing fixture ${FIXTURE} (npm run fixtures)`);
  fs.mkdirSync(folder, { recursive: true });
  fs.cpSync(FIXTURE, folder, { recursive: true });
  fs.copyFileSync(LEAKY_MODEL, path.join(folder, 'cnn6.onnx'));
  // Binary garbage (not protobuf, not text): a fixed pattern so that every run sees the same bytes.
  const garbage = Buffer.alloc(256);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 167 + 13) & 0xff;
  fs.writeFileSync(path.join(folder, 'bad.onnx'), garbage);
  const minified = path.join(folder, 'tfjs-min');
  fs.cpSync(path.join(FIXTURE, 'tfjs'), minified, { recursive: true });
  const modelJson = path.join(minified, 'model.json');
  fs.writeFileSync(modelJson, JSON.stringify(JSON.parse(fs.readFileSync(modelJson, 'utf8'))));
  return folder;
}

module.exports = { makeWorkspace };

if (require.main === module) {
  const folder = process.argv[2];
  if (!folder) throw new Error('usage: node makeWorkspace.js <folder>');
  makeWorkspace(path.resolve(folder));
}
