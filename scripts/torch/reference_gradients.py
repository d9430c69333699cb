#!/usr/bin/python3
"""Reference gradients from PyTorch for the attack's training step (test/unit/attack-torch-reference.test.ts).

For each fixture ONNX model it rebuilds the network in torch float64 by interpreting the ONNX graph node by node,
runs one training step (softmax cross-entropy of one image and a fixed label) and writes the logits, the loss and
the gradient of every trainable initializer to test/fixtures/torch/<model>.safetensors (F64).

Run with Debian's torch (apt-get install python3-torch python3-onnx python3-pil):

    /usr/bin/python3 scripts/torch/reference_gradients.py

Preprocessing (pinned by the test, which decodes the PNG the same way and compares exactly):
  * 3x32x32 models: RGB of test/fixtures/sample-images/32x32/<image>.png as CHW, value / 255 - 0.5.
  * mlp (1x28x28): the centre 28x28 crop (rows and columns 2..29) of that image, gray = (r + g + b) / 765 - 0.5.
Each step is one IEEE double operation on integers, so any language gets the same bits.
"""
import hashlib
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from PIL import Image
import torch
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
MODELS = os.path.join(REPO, 'test', 'fixtures', 'generated')
OUTPUT = os.path.join(REPO, 'test', 'fixtures', 'torch')
IMAGES = os.path.join(REPO, 'test', 'fixtures', 'sample-images', '32x32')

# model -> (image, label): a different image and class per model, fixed so the files are reproducible.
CASES = {
    'cnn6': ('chelsea', 3),
    'lenet-sigmoid': ('astronaut', 7),
    'relu-net': ('coffee', 1),
    'bn-maxpool-residual': ('rocket', 5),
    'depthwise-net': ('hubble_deep_field', 0),
    'mlp': ('camera', 9),
    'vgg-style': ('astronaut', 4),
    'conv-bn-maxpool': ('retina', 6),
    'resnet-small': ('chelsea', 8),
}

PREPROCESSING = {
    'rgb': 'RGB CHW, value / 255 - 0.5',
    'gray-centre-28': 'centre 28x28 crop (rows/cols 2..29), (r + g + b) / 765 - 0.5',
}


def load_input(image_name, shape):
    pixels = np.asarray(Image.open(os.path.join(IMAGES, image_name + '.png')).convert('RGB'), dtype=np.float64)
    assert pixels.shape == (32, 32, 3), pixels.shape
    _, channels, height, width = shape
    if channels == 3 and (height, width) == (32, 32):
        return pixels.transpose(2, 0, 1)[None] / 255 - 0.5, 'rgb'
    if channels == 1 and (height, width) == (28, 28):
        crop = pixels[2:30, 2:30, :]
        total = crop[:, :, 0] + crop[:, :, 1] + crop[:, :, 2]  # exact: integers
        return (total / 765 - 0.5)[None, None], 'gray-centre-28'
    raise ValueError(f'no preprocessing for input shape {shape}')


def attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def symmetric_padding(pads):
    """ONNX pads [top, left, bottom, right] -> (F.pad argument or None, symmetric padding for torch)."""
    top, left, bottom, right = pads
    if (top, left) == (bottom, right):
        return None, (top, left)
    return (left, right, top, bottom), (0, 0)


def conv(node, x, weight, bias):
    a = attributes(node)
    explicit, padding = symmetric_padding(a.get('pads', [0, 0, 0, 0]))
    if explicit is not None:
        x = F.pad(x, explicit)
    return F.conv2d(x, weight, bias, stride=tuple(a.get('strides', [1, 1])), padding=padding,
                    dilation=tuple(a.get('dilations', [1, 1])), groups=a.get('group', 1))


def gemm(node, a_in, b_in, c_in=None):
    a = attributes(node)
    if a.get('transA', 0):
        a_in = a_in.t()
    if a.get('transB', 0):
        b_in = b_in.t()
    y = a.get('alpha', 1.0) * (a_in @ b_in)
    if c_in is not None:
        y = y + a.get('beta', 1.0) * c_in
    return y


def pool(node, x, kind):
    a = attributes(node)
    explicit, padding = symmetric_padding(a.get('pads', [0, 0, 0, 0]))
    assert explicit is None, f'{node.name}: asymmetric pooling pads are not supported here'
    kernel = tuple(a['kernel_shape'])
    strides = tuple(a.get('strides', [1, 1]))
    ceil_mode = bool(a.get('ceil_mode', 0))
    if kind == 'max':
        return F.max_pool2d(x, kernel, strides, padding, dilation=tuple(a.get('dilations', [1, 1])), ceil_mode=ceil_mode)
    return F.avg_pool2d(x, kernel, strides, padding, ceil_mode=ceil_mode, count_include_pad=bool(a.get('count_include_pad', 0)))


def flatten(node, x):
    axis = attributes(node).get('axis', 1)
    outer = int(np.prod(x.shape[:axis]))
    return x.reshape(outer, -1)


def reshape(node, x, shape):
    target = [int(d) for d in shape.tolist()]
    target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
    return x.reshape(target)


def run_node(node, values):
    inputs = [values[name] if name else None for name in node.input]
    op = node.op_type
    a = attributes(node)
    if op == 'Conv':
        return conv(node, inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None)
    if op == 'Gemm':
        return gemm(node, *inputs)
    if op == 'MatMul':
        return inputs[0] @ inputs[1]
    if op == 'Add':
        return inputs[0] + inputs[1]
    if op == 'LeakyRelu':
        return F.leaky_relu(inputs[0], a.get('alpha', 0.01))
    if op == 'Relu':
        return F.relu(inputs[0])
    if op == 'Sigmoid':
        return torch.sigmoid(inputs[0])
    if op == 'Tanh':
        return torch.tanh(inputs[0])
    if op == 'Flatten':
        return flatten(node, inputs[0])
    if op == 'Reshape':
        return reshape(node, inputs[0], inputs[1])
    if op == 'BatchNormalization':
        x, scale, offset, mean, variance = inputs
        return F.batch_norm(x, mean, variance, scale, offset, training=False, eps=a.get('epsilon', 1e-5))
    if op == 'MaxPool':
        return pool(node, inputs[0], 'max')
    if op == 'AveragePool':
        return pool(node, inputs[0], 'average')
    if op == 'GlobalAveragePool':
        return inputs[0].mean(dim=(2, 3), keepdim=True)
    raise NotImplementedError(f'{node.name}: op {op} is not interpreted')


def non_trainable(graph):
    """Initializers that are not parameters: BN running statistics and integer constants (Reshape shapes)."""
    names = set()
    for node in graph.node:
        if node.op_type == 'BatchNormalization':
            names.update(node.input[3:5])
    for init in graph.initializer:
        if init.data_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16):
            names.add(init.name)
    return names


def forward(model_path, image_name, image_requires_grad=False):
    """The ONNX graph run node by node in torch float64 on the documented input: the input, the logits, the trainable
    parameters by initializer name (requiring gradients) and the preprocessing's name."""
    graph = onnx.load(model_path).graph
    frozen = non_trainable(graph)
    values = {}
    parameters = {}
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        if init.name in frozen:
            values[init.name] = torch.from_numpy(array.astype(np.float64) if array.dtype.kind == 'f' else array.copy())
        else:
            tensor = torch.from_numpy(array.astype(np.float64)).requires_grad_(True)
            values[init.name] = parameters[init.name] = tensor
    initializer_names = {init.name for init in graph.initializer}
    (graph_input,) = [i for i in graph.input if i.name not in initializer_names]
    dims = [d.dim_value if d.HasField('dim_value') else 1 for d in graph_input.type.tensor_type.shape.dim]
    x, preprocessing = load_input(image_name, dims)
    values[graph_input.name] = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(image_requires_grad)
    for node in graph.node:
        (output,) = node.output
        values[output] = run_node(node, values)
    return values[graph_input.name], values[graph.output[0].name], parameters, preprocessing


def training_step(model_path, image_name, label):
    x, logits, parameters, preprocessing = forward(model_path, image_name)
    loss = F.cross_entropy(logits, torch.tensor([label]))
    loss.backward()
    gradients = {name: p.grad for name, p in parameters.items()}
    return x, logits.detach(), loss.detach().reshape(1), gradients, preprocessing


def encode_safetensors(tensors, metadata, dtypes=None):
    """safetensors: u64 LE header length, JSON header (padded with spaces to 8 bytes), then little-endian data
    (F64 unless `dtypes` maps a tensor's name to 'F32')."""
    header = {'__metadata__': metadata}
    chunks = []
    offset = 0
    for name, tensor in tensors.items():
        dtype = (dtypes or {}).get(name, 'F64')
        data = np.ascontiguousarray(tensor.detach().numpy(), dtype={'F64': '<f8', 'F32': '<f4'}[dtype]).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(tensor.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + b''.join(chunks)


def main():
    torch.set_num_threads(1)  # one summation order, so reruns give the same bytes
    os.makedirs(OUTPUT, exist_ok=True)
    for model_name, (image_name, label) in CASES.items():
        model_path = os.path.join(MODELS, model_name, 'model.onnx')
        x, logits, loss, gradients, preprocessing = training_step(model_path, image_name, label)
        with open(model_path, 'rb') as f:
            model_sha256 = hashlib.sha256(f.read()).hexdigest()
        tensors = dict(gradients)
        tensors['__input__'] = x
        tensors['__logits__'] = logits
        tensors['__loss__'] = loss
        metadata = {
            'model': f'test/fixtures/generated/{model_name}/model.onnx',
            'model_sha256': model_sha256,
            'image': f'sample-images/32x32/{image_name}.png',
            'label': str(label),
            'loss': 'torch.nn.functional.cross_entropy (softmax cross-entropy, mean over a batch of 1)',
            'preprocessing': PREPROCESSING[preprocessing],
            'torch_version': torch.__version__,
            'generator': 'scripts/torch/reference_gradients.py',
        }
        out = os.path.join(OUTPUT, model_name + '.safetensors')
        with open(out, 'wb') as f:
            f.write(encode_safetensors(tensors, metadata))
        print(f'{os.path.relpath(out, REPO)}: loss {loss.item():.6f}, {len(gradients)} gradients', file=sys.stderr)


if __name__ == '__main__':
    main()
