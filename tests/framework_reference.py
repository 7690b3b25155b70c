#!/usr/bin/env python3
"""The crate against the frameworks it ports from, computing in float64, on every backend.

Through the C ABI (capi/, built here as a shared library) and ctypes, on random f32 inputs
that reach saturated logits (scales up to 200), hard and soft targets, gamma from 0 to 4.7,
ignored rows and per-class alpha:

* PyTorch: `torchvision.ops.sigmoid_focal_loss` (alpha 0.25, 0.8 or none; mean and sum)
  against the crate's torchvision preset (form MODULATED_BCE); the softmax focal loss
  `-alpha_k (1 - p_k)^gamma log p_k` from `torch.log_softmax` (ignore index -100, mean over
  valid rows, per-class alpha or none) against the torch preset with MEAN_VALID; gradients
  by autograd;
* optax (when installed): `optax.losses.sigmoid_focal_loss` in JAX with x64, summed,
  against the optax preset (gradient by `jax.grad`);
* Keras 3 on JAX (when installed): `BinaryFocalCrossentropy(from_logits=True)` and
  `CategoricalFocalCrossentropy(from_logits=True)` with floatx float64, against the keras
  presets (sigmoid: no alpha, MEAN; softmax: alpha 0.25, MEAN), on logits of at most 8 in
  size, where Keras' clipping of probabilities at 1e-7 does not act.

PyTorch computes on the same f32 values in f64. Fails if a loss is further than 2e-6
relative, or a gradient element further than 2e-6 of the largest gradient magnitude of the
call, from the framework's, where the framework's is finite, or if the crate gives a
non-finite gradient anywhere (it must stay finite where PyTorch's is NaN: counted and
printed). Needs torch, torchvision and numpy, and for the other two optax, keras and jax
(not part of CI, which cannot install them in its budget):

    python3 -m venv /root/.venvs/torch
    /root/.venvs/torch/bin/pip install torch torchvision numpy jax optax keras
    /root/.venvs/torch/bin/python tests/framework_reference.py [--trials 300] [--seed 5]
"""
import argparse
import ctypes as C
import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
import torch
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOSS_TOL, GRAD_TOL = 2e-6, 2e-6


sys.path.insert(0, os.path.join(ROOT, "capi"))
from focal_loss_capi import (  # noqa: E402
    BACKEND_UNAVAILABLE, BACKENDS, MEAN, MEAN_VALID, SUM, Error, fp, i64p, load as load_library)


def load():
    target = os.path.join(ROOT, "target", "framework_reference")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--target-dir", target],
                   cwd=os.path.join(ROOT, "capi"), check=True)
    return load_library(os.path.join(target, "release", "libfocal_loss_capi.so"))


def call(rc, err):
    """Whether the call ran: False when the backend is not on this CPU; raises on any other
    error."""
    if rc == BACKEND_UNAVAILABLE:
        return False
    if rc != 0:
        raise RuntimeError(f"status {rc}, argument {err.arg}")
    return True


def crate_sigmoid(lib, backend, x, t, gamma, alpha, reduction, preset="default"):
    p = getattr(lib, f"focal_sigmoid_params_{preset}")()
    p.gamma, p.backend = gamma, backend
    if alpha is None:
        p.has_alpha = 0
    else:
        p.has_alpha, p.alpha = 1, alpha
    g, loss, err = np.zeros_like(x), np.zeros(1, np.float32), Error()
    rc = lib.focal_sigmoid_loss_and_grad(C.byref(p), fp(x), x.size, fp(t), t.size, 0,
                                         reduction, 0.0, fp(g), g.size, fp(loss), C.byref(err))
    return (float(loss[0]), g) if call(rc, err) else None


def crate_softmax(lib, backend, z, c, labels, gamma, class_alpha, preset="torch",
                  reduction=MEAN_VALID):
    p = getattr(lib, f"focal_softmax_params_{preset}")()
    p.gamma, p.backend = gamma, backend
    if class_alpha is not None:
        p.alpha_kind, p.class_alpha, p.class_alpha_len = 2, fp(class_alpha), c
    g, loss, err = np.zeros_like(z), np.zeros(1, np.float32), Error()
    rc = lib.focal_softmax_loss_and_grad_i64(
        C.byref(p), fp(z), z.size, c, i64p(labels),
        labels.size, reduction, 0.0, fp(g), g.size, fp(loss), C.byref(err))
    return (float(loss[0]), g) if call(rc, err) else None


def torch_sigmoid(x, t, gamma, alpha, reduction):
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    loss = torchvision.ops.sigmoid_focal_loss(
        xt, torch.tensor(t, dtype=torch.float64), alpha=-1 if alpha is None else alpha,
        gamma=gamma, reduction="sum" if reduction == SUM else "mean")
    loss.backward()
    return loss.item(), xt.grad.numpy()


def torch_softmax(z, c, labels, gamma, class_alpha):
    zt = torch.tensor(z, dtype=torch.float64).reshape(-1, c).requires_grad_(True)
    valid = torch.tensor(labels != -100)
    k = torch.tensor(np.where(labels < 0, 0, labels))
    logp = torch.log_softmax(zt, 1).gather(1, k.unsqueeze(1)).squeeze(1)
    w = (1 - logp.exp()).clamp(min=0) ** gamma
    if class_alpha is not None:
        w = w * torch.tensor(class_alpha, dtype=torch.float64)[k]
    per_row = -(w * logp) * valid
    loss = per_row.sum() / max(int(valid.sum()), 1)
    loss.backward()
    return loss.item(), zt.grad.numpy().ravel()


# JAX compiles a function for every shape it meets: the JAX references take their sizes
# from a few fixed ones, and each (function, gamma, shape) is compiled once.
JAX_SIZES = (1, 17, 333, 2048)
JAX_ROWS = (1, 7, 64)
_compiled = {}


def optax_sigmoid(x, t, gamma):
    import jax
    import optax
    key = ("optax", gamma, x.size)
    if key not in _compiled:
        f = lambda v, t: optax.losses.sigmoid_focal_loss(v, t, alpha=None, gamma=gamma).sum()
        _compiled[key] = jax.jit(jax.value_and_grad(f))
    value, grad = _compiled[key](np.asarray(x, np.float64), np.asarray(t, np.float64))
    return float(value), np.asarray(grad)


def jax_x64():
    import jax
    jax.config.update("jax_enable_x64", True)


def keras_losses():
    import keras
    keras.config.set_floatx("float64")
    return keras


def keras_sigmoid(keras, x, t, gamma):
    import jax
    key = ("keras sigmoid", gamma, x.size)
    if key not in _compiled:
        loss = keras.losses.BinaryFocalCrossentropy(from_logits=True, gamma=gamma)
        _compiled[key] = jax.jit(jax.value_and_grad(lambda v, t: loss(t[None, :], v[None, :])))
    value, grad = _compiled[key](np.asarray(x, np.float64), np.asarray(t, np.float64))
    return float(value), np.asarray(grad)


def keras_softmax(keras, z, c, labels, gamma):
    import jax
    key = ("keras softmax", gamma, z.size, c)
    if key not in _compiled:
        loss = keras.losses.CategoricalFocalCrossentropy(from_logits=True, alpha=0.25,
                                                         gamma=gamma)
        _compiled[key] = jax.jit(jax.value_and_grad(lambda v, y: loss(y, v.reshape(-1, c))))
    value, grad = _compiled[key](np.asarray(z, np.float64), np.eye(c)[labels])
    return float(value), np.asarray(grad)


class Worst:
    def __init__(self):
        self.loss, self.grad, self.ref_nonfinite, self.failures = {}, {}, {}, []

    def compare(self, kernel, backend, got, want, case):
        (gl, gg), (wl, wg) = got, want
        key = (kernel, BACKENDS[backend])
        rel = abs(gl - wl) / abs(wl) if wl != 0 else abs(gl)
        fin = np.isfinite(wg)
        top = float(np.max(np.abs(wg[fin]))) if fin.any() else 0.0
        err = float(np.max(np.abs(gg[fin] - wg[fin]))) / top if top > 0 else 0.0
        self.loss[key] = max(self.loss.get(key, 0.0), rel)
        self.grad[key] = max(self.grad.get(key, 0.0), err)
        self.ref_nonfinite[key] = self.ref_nonfinite.get(key, 0) + int((~fin).sum())
        if rel > LOSS_TOL or err > GRAD_TOL or not np.all(np.isfinite(gg)):
            self.failures.append(f"{key} {case}: loss rel {rel:.2e}, grad {err:.2e}, "
                                 f"finite {bool(np.all(np.isfinite(gg)))}")

    def every_backend(self, kernel, want, case, crate):
        """Compares `crate(backend)` with `want` on every backend this CPU has."""
        for b in BACKENDS:
            got = crate(b)
            if got is not None:
                self.compare(kernel, b, got, want, case)


def draw_targets(rng, n, soft, positives):
    """Soft targets uniform in [0, 1], or hard ones with this share of positives."""
    if soft:
        return rng.random(n).astype(np.float32)
    return (rng.random(n) < positives).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    lib, rng, worst = load(), np.random.default_rng(a.seed), Worst()
    for trial in range(a.trials):
        n = int(rng.integers(1, 3000))
        x = (rng.standard_normal(n) * [1, 5, 20, 60, 200][trial % 5]).astype(np.float32)
        t = draw_targets(rng, n, trial % 3 == 0, 0.1)
        gamma = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.7][trial % 8]
        alpha = [0.25, None, 0.8][trial % 3]
        reduction = SUM if trial % 4 == 0 else MEAN
        want = torch_sigmoid(x, t, gamma, alpha, reduction)
        case = f"n={n} gamma={gamma} alpha={alpha} trial={trial}"
        worst.every_backend("torchvision sigmoid", want, case,
                            lambda b: crate_sigmoid(lib, b, x, t, gamma, alpha, reduction))
    for trial in range(a.trials):
        rows = int(rng.integers(1, 200))
        c = [2, 3, 4, 5, 16, 17, 80, 1000, 5000][trial % 9]
        z = (rng.standard_normal(rows * c) * [1, 5, 30, 100][trial % 4]).astype(np.float32)
        labels = rng.integers(0, c, rows).astype(np.int64)
        labels[rng.random(rows) < 0.1] = -100
        gamma = [0.0, 0.5, 1.0, 2.0, 2.5, 3.0][trial % 6]
        class_alpha = rng.random(c).astype(np.float32) if trial % 2 else None
        want = torch_softmax(z, c, labels, gamma, class_alpha)
        case = f"{rows}x{c} gamma={gamma} trial={trial}"
        worst.every_backend("torch softmax", want, case,
                            lambda b: crate_softmax(lib, b, z, c, labels, gamma, class_alpha))
    try:
        import optax  # noqa: F401
        jax_x64()
        have_optax = True
    except ImportError:
        have_optax = False
        print("optax not installed: its comparison skipped")
    for trial in range(a.trials if have_optax else 0):
        n = JAX_SIZES[trial % len(JAX_SIZES)]
        x = (rng.standard_normal(n) * [1, 5, 20, 60, 200][trial % 5]).astype(np.float32)
        t = draw_targets(rng, n, trial % 2 == 0, 0.1)
        gamma = [0.0, 0.5, 1.0, 2.0, 2.5, 3.0][trial % 6]
        want = optax_sigmoid(x, t, gamma)
        worst.every_backend("optax sigmoid", want, f"n={n} gamma={gamma}",
                            lambda b: crate_sigmoid(lib, b, x, t, gamma, None, SUM, "optax"))
    try:
        jax_x64()
        keras = keras_losses()
    except ImportError:
        keras = None
        print("keras not installed: its comparison skipped")
    for trial in range(a.trials // 3 if keras else 0):
        n = JAX_SIZES[trial % len(JAX_SIZES)]
        x = np.clip(rng.standard_normal(n) * 4, -8, 8).astype(np.float32)
        t = draw_targets(rng, n, trial % 2 == 0, 0.2)
        gamma = [0.0, 1.0, 2.0, 2.5][trial % 4]
        want = keras_sigmoid(keras, x, t, gamma)
        # The C ABI has no keras preset: optax's is the same (no alpha, form (A)).
        worst.every_backend("keras sigmoid", want, f"n={n} gamma={gamma}",
                            lambda b: crate_sigmoid(lib, b, x, t, gamma, None, MEAN, "optax"))
        rows, c = JAX_ROWS[trial % len(JAX_ROWS)], [2, 5, 17, 80][trial % 4]
        z = (rng.standard_normal(rows * c) * 1.5).astype(np.float32)
        labels = rng.integers(0, c, rows).astype(np.int64)
        want = keras_softmax(keras, z, c, labels, gamma)
        # Keras' softmax preset is mmcv's (alpha 0.25 for every class).
        worst.every_backend(
            "keras softmax", want, f"{rows}x{c} gamma={gamma}",
            lambda b: crate_softmax(lib, b, z, c, labels, gamma, None, "mmcv", MEAN))
    versions = [f"torch {torch.__version__}", f"torchvision {torchvision.__version__}"]
    if have_optax:
        versions.append(f"optax {sys.modules['optax'].__version__}")
    if keras:
        versions.append(f"keras {keras.__version__} on jax {sys.modules['jax'].__version__}")
    print(f"{', '.join(versions)}; {a.trials} calls per torch and optax kernel, "
          f"{a.trials // 3 if keras else 0} per keras one; seed {a.seed}")
    print("| reference | backend | worst loss, relative | worst gradient, of the largest "
          "| elements where the reference's gradient is not finite |")
    print("|---|---|---:|---:|---:|")
    for key in sorted(worst.loss):
        print(f"| {key[0]} | {key[1]} | {worst.loss[key]:.2e} | {worst.grad[key]:.2e} "
              f"| {worst.ref_nonfinite[key]} |")
    for f in worst.failures[:20]:
        print("FAIL", f)
    sys.exit(1 if worst.failures else 0)


if __name__ == "__main__":
    main()
