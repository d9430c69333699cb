#!/usr/bin/python3
"""PyTorch CPU time of one Inverting Gradients iteration, for bench/gradient-matching.ts (which runs it beside the
same iteration on onnxruntime-node and prints both).

One iteration, as in Geiping et al.'s reference implementation: forward pass of the dummy image, softmax
cross-entropy with the label, the parameter gradients with create_graph=True, the reconstruction loss
1 - cos(all parameter gradients as one vector, shared gradients) + tv_weight * TV(x) (anisotropic mean-absolute
total variation), and its gradient with respect to the image (the second-order pass). float32, one intra-op thread.
The Adam step is left out on both sides (it is a few element-wise operations on 3x32x32 values).

The model is the ONNX file, run node by node with torch.nn.functional (the interpreter of reference_gradients.py,
so every floating-point initializer except batch-norm statistics is a parameter, as torch.nn modules would have it).

Usage: /usr/bin/python3 scripts/torch/bench_inverting_gradients.py [--seconds S] model.onnx [model.onnx ...]
       /usr/bin/python3 scripts/torch/bench_inverting_gradients.py --serve
         (reads "model.onnx seconds" lines on stdin and answers each with one timed run, so that a caller can
         alternate with its own runs on a shared machine)
Prints one JSON object per model: {"model", "torch", "blas", "threads", "parameters", "ms_per_iteration", "runs",
"loss"} (wall clock); "blas" is the BLAS library the process loaded (Debian's torch uses whichever libblas.so.3 the system
provides: the reference BLAS makes it several times slower, so install libopenblas0 for a fair comparison).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_gradients import non_trainable, run_node  # noqa: E402

LABEL = 3
TV_WEIGHT = 1e-2


class OnnxModule:
    """The ONNX graph as a function of the input, with float32 parameters that require gradients."""

    def __init__(self, path):
        model = onnx.load(path)
        self.graph = model.graph
        frozen = non_trainable(self.graph)
        self.constants = {}
        self.parameters = {}
        for init in self.graph.initializer:
            array = numpy_helper.to_array(init)
            if init.name in frozen:
                self.constants[init.name] = torch.from_numpy(array.astype(np.float32) if array.dtype.kind == 'f' else array.copy())
            else:
                self.parameters[init.name] = torch.from_numpy(array.astype(np.float32)).requires_grad_(True)
        names = {init.name for init in self.graph.initializer}
        (graph_input,) = [i for i in self.graph.input if i.name not in names]
        self.input_name = graph_input.name
        self.input_shape = [d.dim_value if d.HasField('dim_value') else 1 for d in graph_input.type.tensor_type.shape.dim]

    def __call__(self, x):
        values = dict(self.constants)
        values.update(self.parameters)
        values[self.input_name] = x
        for node in self.graph.node:
            (output,) = node.output
            values[output] = run_node(node, values)
        return values[self.graph.output[0].name]


def loaded_blas():
    """Path of the BLAS shared library mapped into this process (after torch has run a matrix product)."""
    torch.ones(8, 8) @ torch.ones(8, 8)
    with open('/proc/self/maps') as maps:
        paths = {line.split()[-1] for line in maps if 'blas' in line.split()[-1].lower()}
    return ', '.join(sorted(os.path.realpath(p) for p in paths)) or 'unknown'


def total_variation(x):
    return torch.mean(torch.abs(x[:, :, :, 1:] - x[:, :, :, :-1])) + torch.mean(torch.abs(x[:, :, 1:, :] - x[:, :, :-1, :]))


def iteration(module, params, shared, shared_norm, x, label):
    """Loss and d loss / d x of one Inverting Gradients iteration."""
    loss = F.cross_entropy(module(x), label)
    gradients = torch.autograd.grad(loss, params, create_graph=True)
    dot = 0
    squared = 0
    for g, t in zip(gradients, shared):
        dot = dot + (g * t).sum()
        squared = squared + g.pow(2).sum()
    objective = 1 - dot / (squared.sqrt() * shared_norm) + TV_WEIGHT * total_variation(x)
    (image_gradient,) = torch.autograd.grad(objective, x)
    return objective.detach(), image_gradient


class Case:
    """A model with its shared gradients and dummy image, ready to time."""

    def __init__(self, path):
        self.path = path
        self.module = OnnxModule(path)
        self.params = list(self.module.parameters.values())
        generator = torch.Generator().manual_seed(0)
        self.label = torch.tensor([LABEL])
        truth = torch.rand(self.module.input_shape, generator=generator) - 0.5
        gradients = torch.autograd.grad(F.cross_entropy(self.module(truth), self.label), self.params)
        self.shared = [g.detach() for g in gradients]
        self.shared_norm = torch.sqrt(sum((t * t).sum() for t in self.shared))
        self.x = torch.randn(self.module.input_shape, generator=generator).requires_grad_(True)
        self.objective = None
        for _ in range(10):  # warm-up
            self.objective, _ = self.step()

    def step(self):
        return iteration(self.module, self.params, self.shared, self.shared_norm, self.x, self.label)

    def timed_run(self, seconds):
        """(wall-clock ms, process CPU ms) per iteration over at least `seconds` (and 5 iterations)."""
        count = 0
        start = time.perf_counter()
        cpu_start = time.process_time()
        while True:
            self.step()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds and count >= 5:
                return 1000 * elapsed / count, 1000 * (time.process_time() - cpu_start) / count


def serve():
    cases = {}
    for line in sys.stdin:
        path, seconds = line.rsplit(' ', 1)
        case = cases.get(path) or cases.setdefault(path, Case(path))
        wall, cpu = case.timed_run(float(seconds))
        print(json.dumps({'model': path, 'ms_per_iteration': wall, 'cpu_ms_per_iteration': cpu, 'torch': torch.__version__, 'blas': loaded_blas()}), flush=True)


def bench(path, seconds):
    case = Case(path)
    runs = [case.timed_run(seconds / 3)[0] for _ in range(3)]
    return {
        'model': path,
        'torch': torch.__version__,
        'blas': loaded_blas(),
        'threads': torch.get_num_threads(),
        'parameters': sum(p.numel() for p in case.params),
        'ms_per_iteration': min(runs),
        'runs': runs,
        'loss': float(case.objective),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--seconds', type=float, default=3.0, help='time per model (three runs; the fastest is reported)')
    parser.add_argument('--serve', action='store_true', help='time runs asked for on stdin')
    parser.add_argument('models', nargs='*')
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.serve:
        serve()
        return
    for path in args.models:
        print(json.dumps(bench(path, args.seconds)), flush=True)


if __name__ == '__main__':
    main()
