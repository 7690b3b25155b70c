"""ctypes declarations of the crate's C library (include/focal_loss.h) for the Python scripts
of the repository (tests/framework_reference.py, benches/side_by_side.py): the structs, the
codes they use, and the signatures of the functions they call. Not a Python package; the
scripts put this directory on `sys.path`.
"""

import ctypes as C


class SigmoidParams(C.Structure):
    _fields_ = [("alpha", C.c_float), ("has_alpha", C.c_int32), ("gamma", C.c_float),
                ("form", C.c_int32), ("backend", C.c_int32)]


class SoftmaxParams(C.Structure):
    _fields_ = [("alpha_kind", C.c_int32), ("alpha", C.c_float),
                ("class_alpha", C.POINTER(C.c_float)), ("class_alpha_len", C.c_size_t),
                ("gamma", C.c_float), ("has_ignore_index", C.c_int32),
                ("ignore_index", C.c_int64), ("backend", C.c_int32)]


class Error(C.Structure):
    _fields_ = [("status", C.c_int32), ("arg", C.c_int32), ("code", C.c_int32),
                ("value", C.c_float), ("index", C.c_size_t), ("expected", C.c_size_t),
                ("found", C.c_size_t), ("num_classes", C.c_size_t), ("label", C.c_int64)]


PF = C.POINTER(C.c_float)
SUM, MEAN, MEAN_VALID, NORMALIZE = 0, 1, 2, 3
AUTO = 0
BACKENDS = {1: "scalar", 2: "portable", 3: "avx2", 4: "avx512"}
BACKEND_UNAVAILABLE = 12


def load(path):
    """The library at `path` with the signatures of the functions these scripts call."""
    lib = C.CDLL(str(path))
    for preset in ("default", "optax", "mmcv"):
        getattr(lib, f"focal_sigmoid_params_{preset}").restype = SigmoidParams
    for preset in ("default", "torch", "mmcv"):
        getattr(lib, f"focal_softmax_params_{preset}").restype = SoftmaxParams
    lib.focal_sigmoid_loss_and_grad.argtypes = [
        C.POINTER(SigmoidParams), PF, C.c_size_t, PF, C.c_size_t, C.c_int32, C.c_int32,
        C.c_float, PF, C.c_size_t, PF, C.POINTER(Error)]
    lib.focal_softmax_loss_and_grad_i64.argtypes = [
        C.POINTER(SoftmaxParams), PF, C.c_size_t, C.c_size_t, C.POINTER(C.c_int64),
        C.c_size_t, C.c_int32, C.c_float, PF, C.c_size_t, PF, C.POINTER(Error)]
    for f in (lib.focal_sigmoid_loss_and_grad, lib.focal_softmax_loss_and_grad_i64,
              lib.focal_backend_detect):
        f.restype = C.c_int32
    lib.focal_status_name.restype = C.c_char_p
    return lib


def fp(a):
    """A numpy float32 array's data as `float *`."""
    return a.ctypes.data_as(PF)


def i64p(a):
    """A numpy int64 array's data as `int64_t *`."""
    return a.ctypes.data_as(C.POINTER(C.c_int64))
