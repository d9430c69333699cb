#!/usr/bin/python3
"""Reference ranks of the gradients' Jacobian J = d(grad_theta loss)/d(image) from PyTorch, in float64.

For each case it rebuilds the fixture network in torch float64 (the interpreter of reference_gradients.py), takes
the parameter gradients of one training step with create_graph=True, and computes n + 16 products J^T u for
standard-normal u (n = the image's unknowns) by reverse-mode differentiation. Their singular values (numpy SVD)
give J's rank, which test/unit/identifiability.test.ts compares with what LeakLint measures from float32 products on
onnxruntime-node. Written to test/fixtures/torch/jacobian-ranks.json with the singular values either side of the gap.

Run with Debian's torch from scripts/torch: /usr/bin/python3 reference_jacobian_ranks.py   (about a minute)
"""
import hashlib
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

import reference_gradients as rg

# model -> (image, label): the preprocessing of reference_gradients.py (RGB CHW, value / 255 - 0.5).
CASES = {
    'conv-bn-maxpool': ('retina', 6),
    'cnn2_c0': ('astronaut', 3),
}
OVERSAMPLING = 16
RELATIVE_TOLERANCE = 1e-6


def jacobian_spectrum(name, image, label):
    model_path = os.path.join(rg.MODELS, name, 'model.onnx')
    x, logits, parameters, _ = rg.forward(model_path, image, image_requires_grad=True)
    loss = F.cross_entropy(logits, torch.tensor([label]))
    gradient = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(parameters.values()), create_graph=True)])
    rng = np.random.default_rng(1)
    columns = []
    for _ in range(x.numel() + OVERSAMPLING):
        u = torch.from_numpy(rng.standard_normal(gradient.numel()))
        (column,) = torch.autograd.grad(gradient, x, grad_outputs=u, retain_graph=True)
        columns.append(column.reshape(-1).numpy().copy())
    singular = np.linalg.svd(np.stack(columns, 1), compute_uv=False)
    relative = singular / singular[0]
    rank = int((relative > RELATIVE_TOLERANCE).sum())
    return {
        'image': image,
        'label': label,
        'unknowns': int(x.numel()),
        'rank': rank,
        'smallestKept': float(relative[rank - 1]),
        'largestDropped': float(relative[rank]) if rank < len(relative) else 0.0,
        'model_sha256': hashlib.sha256(open(model_path, 'rb').read()).hexdigest(),
    }


def main():
    torch.set_num_threads(1)
    out = {
        'tolerance': RELATIVE_TOLERANCE,
        'products': 'n + 16 products J^T u, u standard normal (numpy default_rng(1)), float64',
        'cases': {name: jacobian_spectrum(name, *case) for name, case in CASES.items()},
    }
    path = os.path.join(rg.OUTPUT, 'jacobian-ranks.json')
    with open(path, 'w') as f:
        json.dump(out, f, indent=2)
        f.write('\n')
    print(json.dumps(out, indent=2))


if __name__ == '__main__':
    main()
