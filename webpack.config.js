// Four bundles over one engine: the extension host adapter, the background worker (child process),
// the CLI, and the webview script. onnxruntime-node stays external: its native binary layout must be kept.
const path = require('path');
const webpack = require('webpack');

const tsRule = { test: /\.ts$/, exclude: /node_modules/, use: [{ loader: 'ts-loader', options: { transpileOnly: true } }] };
const nodeBundle = {
  target: 'node',
  devtool: 'nosources-source-map',
  resolve: { extensions: ['.ts', '.js'] },
  module: { rules: [tsRule] },
  externals: { vscode: 'commonjs vscode', 'onnxruntime-node': 'commonjs onnxruntime-node' },
  output: { path: path.resolve(__dirname, 'dist'), filename: '[name].js', libraryTarget: 'commonjs2' },
  optimization: { minimize: false },
  // protobufjs probes for optional modules with a dynamic require; we hand it `long` explicitly (src/engine/readers/onnx).
  ignoreWarnings: [{ module: /@protobufjs[\\/]inquire/ }],
};

module.exports = [
  { ...nodeBundle, name: 'extension', entry: { extension: './src/extension/extension.ts', worker: './src/worker/worker.ts' } },
  {
    ...nodeBundle,
    name: 'cli',
    entry: { cli: './src/cli/main.ts' },
    plugins: [new webpack.BannerPlugin({ banner: '#!/usr/bin/env node', raw: true })],
  },
  {
    name: 'webview',
    target: 'web',
    devtool: 'nosources-source-map',
    entry: { webview: './webview-ui/main.ts' },
    resolve: { extensions: ['.ts', '.js'] },
    module: { rules: [tsRule] },
    output: { path: path.resolve(__dirname, 'dist'), filename: '[name].js' },
  },
];
