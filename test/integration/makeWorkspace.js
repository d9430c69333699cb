// Fills a folder with the integration tests' workspace: a copy of test/fixtures/generated/cnn6d (model.onnx and
// tfjs/model.json + its shard), tfjs-min/ (the same model.json minified to one line, as converters often write it)
// cnn6.onnx (test/fixtures/generated/cnn6, fully recoverable), bad.onnx, bytes that are not a model, and shared/: the
// gradients of one training step of cnn6 as a client would share them (PyTorch's, test/fixtures/torch/cnn6.safetensors)
// with the image they came from. Used by run.sh and runTestElectron.js.
// Usage as a script: node makeWorkspace.js <empty folder>
'use strict';
const fs = require('fs');
const path = require('path');

const FIXTURE = path.resolve(__dirname, '../fixtures/generated/cnn6d');
/** R-GAP's CNN6, fully recoverable: the model whose reconstructions come back. */
const LEAKY_MODEL = path.resolve(__dirname, '../fixtures/generated/cnn6/model.onnx');
/** One training step of cnn6 on chelsea.png with label 3 (test/fixtures/torch/README.md), and that image. */
const SHARED_GRADIENTS = path.resolve(__dirname, '../fixtures/torch/cnn6.safetensors');
const SHARED_IMAGE = path.resolve(__dirname, '../fixtures/sample-images/32x32/chelsea.png');

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
  fs.mkdirSync(path.join(folder, 'shared'));
  fs.copyFileSync(SHARED_GRADIENTS, path.join(folder, 'shared', 'cnn6-step.safetensors'));
  fs.copyFileSync(SHARED_IMAGE, path.join(folder, 'shared', 'chelsea.png'));
  return folder;
}

module.exports = { makeWorkspace };

if (require.main === module) {
  const folder = process.argv[2];
  if (!folder) throw new Error('usage: node makeWorkspace.js <folder>');
  makeWorkspace(path.resolve(folder));
}
