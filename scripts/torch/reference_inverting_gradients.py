#!/usr/bin/python3
"""Reference values of the Inverting Gradients objective from PyTorch, for test/unit/gradient-graph-torch.test.ts.

For each fixture ONNX model (run node by node in torch float64 by reference_gradients.py's interpreter):
  1. the shared gradients: d loss / d theta of softmax cross-entropy for one sample image (the truth) and a label,
     every parameter, rounded to float32 (the form a client sends; the objective below uses the rounded values);
  2. a dummy image: torch.randn with a fixed seed, times 0.5, rounded to float32 (what the attack would feed);
  3. the objective at the dummy image, with the parameter gradients of the dummy g (create_graph=True):
       L(x) = 1 - <g, G> / (|g| |G|) + tv_weight * TV(x)       (all parameter tensors as one vector)
       TV(x) = mean |x[:, :, :, 1:] - x[:, :, :, :-1]| + mean |x[:, :, 1:, :] - x[:, :, :-1, :]|
     and its gradient with respect to the image (the second-order pass), in float64.
Writes test/fixtures/torch/inverting-gradients/<model>.safetensors: the shared gradients under the parameter names
(F32), __truth__, __dummy__ (F32 values), __loss__ [1] and __grad_x__ (F64).

Run with Debian's torch (apt-get install python3-torch python3-onnx python3-pil):

    /usr/bin/python3 scripts/torch/reference_inverting_gradients.py
"""
import hashlib
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_gradients import MODELS, PREPROCESSING, REPO, encode_safetensors, load_input, non_trainable, run_node  # noqa: E402

OUTPUT = os.path.join(REPO, 'test', 'fixtures', 'torch', 'inverting-gradients')
TV_WEIGHT = 0.01
DUMMY_SEED = 1234

# model -> (truth image, label)
CASES = {
    'cnn6': ('rocket', 1),
    'lenet-sigmoid': ('coffee', 5),
    'mlp': ('astronaut', 2),
    'bn-maxpool-residual': ('camera', 7),
    'depthwise-net': ('chelsea', 9),
    'vgg-style': ('hubble_deep_field', 3),
    'conv-bn-maxpool': ('astronaut', 0),
    'resnet-small': ('retina', 6),
}


def load_model(path):
    graph = onnx.load(path).graph
    frozen = non_trainable(graph)
    constants = {}
    parameters = {}
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        if init.name in frozen:
            constants[init.name] = torch.from_numpy(array.astype(np.float64) if array.dtype.kind == 'f' else array.copy())
        else:
            parameters[init.name] = torch.from_numpy(array.astype(np.float64)).requires_grad_(True)
    names = {init.name for init in graph.initializer}
    (graph_input,) = [i for i in graph.input if i.name not in names]
    shape = [d.dim_value if d.HasField('dim_value') else 1 for d in graph_input.type.tensor_type.shape.dim]

    def forward(x):
        values = dict(constants)
        values.update(parameters)
        values[graph_input.name] = x
        for node in graph.node:
            (output,) = node.output
            values[output] = run_node(node, values)
        return values[graph.output[0].name]

    return forward, parameters, shape


def total_variation(x):
    return torch.mean(torch.abs(x[:, :, :, 1:] - x[:, :, :, :-1])) + torch.mean(torch.abs(x[:, :, 1:, :] - x[:, :, :-1, :]))


def reference(model_path, image_name, label):
    forward, parameters, shape = load_model(model_path)
    names = list(parameters)
    params = [parameters[n] for n in names]
    target = torch.tensor([label])
    truth, preprocessing = load_input(image_name, shape)
    truth = torch.from_numpy(np.ascontiguousarray(truth))
    shared = torch.autograd.grad(F.cross_entropy(forward(truth), target), params)
    shared = [g.detach().float().double() for g in shared]
    shared_norm = torch.sqrt(sum((t * t).sum() for t in shared))

    generator = torch.Generator().manual_seed(DUMMY_SEED)
    dummy = (torch.randn(shape, generator=generator, dtype=torch.float64) * 0.5).float().double()
    x = dummy.clone().requires_grad_(True)
    gradients = torch.autograd.grad(F.cross_entropy(forward(x), target), params, create_graph=True)
    dot = sum((g * t).sum() for g, t in zip(gradients, shared))
    norm = torch.sqrt(sum((g * g).sum() for g in gradients))
    loss = 1 - dot / (norm * shared_norm) + TV_WEIGHT * total_variation(x)
    (grad_x,) = torch.autograd.grad(loss, x)
    tensors = {name: t for name, t in zip(names, shared)}
    tensors['__truth__'] = truth
    tensors['__dummy__'] = dummy
    tensors['__loss__'] = loss.detach().reshape(1)
    tensors['__grad_x__'] = grad_x
    dtypes = {name: 'F32' for name in names + ['__dummy__']}
    return tensors, dtypes, preprocessing


def main():
    torch.set_num_threads(1)  # one summation order, so reruns give the same bytes
    os.makedirs(OUTPUT, exist_ok=True)
    for model_name, (image_name, label) in CASES.items():
        model_path = os.path.join(MODELS, model_name, 'model.onnx')
        tensors, dtypes, preprocessing = reference(model_path, image_name, label)
        with open(model_path, 'rb') as f:
            model_sha256 = hashlib.sha256(f.read()).hexdigest()
        metadata = {
            'model': f'test/fixtures/generated/{model_name}/model.onnx',
            'model_sha256': model_sha256,
            'truth_image': f'sample-images/32x32/{image_name}.png',
            'preprocessing': PREPROCESSING[preprocessing],
            'label': str(label),
            'tv_weight': repr(TV_WEIGHT),
            'dummy': f'torch.randn(shape, generator=torch.Generator().manual_seed({DUMMY_SEED}), dtype=float64) * 0.5, rounded to float32',
            'objective': '1 - <g, G>/(|g||G|) + tv_weight * TV(x), g = d cross_entropy(model(x), label) / d theta (all parameters as one vector), '
            'G = the same at the truth image rounded to float32, TV(x) = mean|x[..., 1:] - x[..., :-1]| + mean|x[:, :, 1:, :] - x[:, :, :-1, :]|',
            'torch_version': torch.__version__,
            'generator': 'scripts/torch/reference_inverting_gradients.py',
        }
        out = os.path.join(OUTPUT, model_name + '.safetensors')
        with open(out, 'wb') as f:
            f.write(encode_safetensors(tensors, metadata, dtypes))
        print(f'{os.path.relpath(out, REPO)}: loss {tensors["__loss__"].item():.6f}', file=sys.stderr)


if __name__ == '__main__':
    main()
