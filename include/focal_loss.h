/*
 * focal_loss.h: the C interface of the focal-loss crate (Rust, cargo feature `capi`).
 *
 * Fused, exact sigmoid and softmax focal losses and their gradients over caller-owned
 * float buffers, and TorchBlocks' BinaryFocalLoss and FocalLoss. C99; link with
 * libfocal_loss_capi.a (hosted targets: also -lm -lpthread -ldl, or libfocal_loss_capi.so),
 * built by `cargo build --release` in capi/ (for firmware: `--target thumbv7em-none-eabihf`).
 * The formulas, reductions and accuracy bounds are the crate's; see its README.
 *
 * CONVENTIONS (every function below)
 *
 * Buffers.  Each buffer is a pointer and a length counted in elements (not bytes). The caller
 *   owns every buffer; nothing is retained after a call returns, nothing is allocated.
 *   A NULL pointer with length 0 is an empty buffer. A NULL pointer with a non-zero length is
 *   FOCAL_NULL_POINTER. A pointer not aligned for its element type, or a length whose byte
 *   size exceeds PTRDIFF_MAX, is FOCAL_INVALID_BUFFER. Input buffers are only read.
 *
 * Aliasing.  Output buffers (out, grad) must not overlap any input buffer (logits, targets,
 *   probs, labels, upstream, the per-class alpha array): an overlap is detected and is
 *   FOCAL_OVERLAP. Only the *_in_place functions write over the logits (the gradient replaces
 *   them). Inputs may overlap each other. `params` and `plan` are only read; `out_loss`,
 *   `out_plan`, `out_partial` and `err` are written last and must not point into any buffer
 *   of the call. The structs and the `out_loss` float are accessed unaligned, so any address
 *   works for them.
 *
 * Results.  Every function with buffers returns an int32_t status: FOCAL_OK (0) or one of the
 *   enum focal_status codes. `err` may be NULL; otherwise the full focal_error is written
 *   there on every call (all fields 0 and status FOCAL_OK on success). On error NOTHING else
 *   is written: no output buffer, not the logits of an in-place call, not *out_loss.
 *   `out_loss`, `out_plan` and `out_partial`, where present, must not be NULL
 *   (FOCAL_NULL_POINTER).
 *
 * Order of checks.  The params (or plan) pointer and its codes (form, alpha kind, backend;
 *   a plan's parameters and num_classes too), the reduction code, the buffers (NULL,
 *   alignment, overlap), the out pointers (out_loss, out_plan, out_partial); then the
 *   library's own checks: parameters (alpha, gamma, normaliser, epsilon, backend), shapes
 *   (lengths, num_classes), data (targets, labels, probabilities). The first failure is
 *   reported; for data, the first offending index.
 *
 * Thread safety.  Every function is pure apart from its outputs: reentrant, safe to call from
 *   several threads at once on disjoint outputs, usable from interrupt handlers. The only
 *   shared state is the backend detected for FOCAL_BACKEND_AUTO, computed once and cached in
 *   an atomic (a race computes the same value twice).
 *
 * Panics.  The library does not panic on any input. Nothing unwinds across this interface:
 *   the functions are Rust `extern "C"`, which aborts the process instead of unwinding, and
 *   the library is built with panic=abort.
 *
 * Reproducibility.  FOCAL_BACKEND_SCALAR gives the same bits on every target (x86_64,
 *   Cortex-M4F, ...): a host run predicts a firmware run bit for bit. AUTO picks the fastest
 *   backend this CPU has (AVX-512, AVX2+FMA, portable SIMD, else scalar); results agree with
 *   scalar within the documented error bounds.
 *
 * Reductions (argument `reduction`, `normalizer` used only by NORMALIZE):
 *   SUM: the sum. MEAN: sigmoid / elements; softmax / rows, ignored rows included (mmcv,
 *   TorchBlocks); 0 for an empty input. MEAN_VALID: sigmoid as MEAN; softmax / rows not
 *   ignored (PyTorch ignore_index), loss and gradient 0 when every row is ignored.
 *   NORMALIZE: / normalizer, finite and > 0 (RetinaNet: the number of positive anchors).
 *   The gradient functions scale by the same factor.
 *
 * Softmax logits are row-major [rows x num_classes], rows = logits_len / num_classes, one
 * label per row (one function per label type: _u8, _u16, _i32, _i64).
 */
#ifndef FOCAL_LOSS_H
#define FOCAL_LOSS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: one per library error variant (1-12), then the C layer's own (13-16). */
enum focal_status {
    FOCAL_OK = 0,
    /* A buffer's length disagrees: err.arg names it, err.expected/err.found its lengths. */
    FOCAL_LENGTH_MISMATCH = 1,
    /* num_classes is 0 or does not divide logits_len: err.num_classes, err.found = logits_len. */
    FOCAL_INVALID_NUM_CLASSES = 2,
    /* alpha is NaN or outside [0, 1]: err.value. */
    FOCAL_INVALID_ALPHA = 3,
    /* class_alpha_len != num_classes: err.expected = num_classes, err.found. */
    FOCAL_CLASS_ALPHA_LENGTH = 4,
    /* A per-class alpha is NaN or outside [0, 1]: err.index (the class), err.value. */
    FOCAL_INVALID_CLASS_ALPHA = 5,
    /* gamma is negative, NaN or infinite: err.value. */
    FOCAL_INVALID_GAMMA = 6,
    /* The NORMALIZE divisor is not finite and > 0: err.value. */
    FOCAL_INVALID_NORMALIZER = 7,
    /* A TorchBlocks epsilon is negative or not finite: err.value. */
    FOCAL_INVALID_EPSILON = 8,
    /* A label is neither in [0, num_classes) nor the ignore index:
       err.index (the first such row), err.label, err.num_classes. */
    FOCAL_LABEL_OUT_OF_RANGE = 9,
    /* A target is NaN or outside [0, 1]: err.index (the first), err.value. */
    FOCAL_TARGET_OUT_OF_RANGE = 10,
    /* A probability (TorchBlocks binary) is NaN or outside [0, 1]: err.index, err.value. */
    FOCAL_PROBABILITY_OUT_OF_RANGE = 11,
    /* The forced backend cannot run on this CPU/target: err.code = its FOCAL_BACKEND_*. */
    FOCAL_BACKEND_UNAVAILABLE = 12,
    /* NULL params, plan or out pointer, or a NULL buffer with a non-zero length: err.arg. */
    FOCAL_NULL_POINTER = 13,
    /* A misaligned buffer, or a length too large for any object: err.arg. */
    FOCAL_INVALID_BUFFER = 14,
    /* An output buffer overlaps an input buffer: err.arg names the output. */
    FOCAL_OVERLAP = 15,
    /* An unknown reduction, form, backend or alpha kind code: err.arg, err.code = the value. */
    FOCAL_INVALID_CODE = 16
};

/* Which argument an error is about (focal_error.arg). */
enum focal_arg {
    FOCAL_ARG_NONE = 0,
    FOCAL_ARG_PARAMS = 1,      /* the params pointer, or its alpha/gamma/epsilon */
    FOCAL_ARG_LOGITS = 2,
    FOCAL_ARG_TARGETS = 3,
    FOCAL_ARG_PROBS = 4,
    FOCAL_ARG_LABELS = 5,
    FOCAL_ARG_UPSTREAM = 6,
    FOCAL_ARG_GRAD = 7,
    FOCAL_ARG_OUT = 8,
    FOCAL_ARG_OUT_LOSS = 9,
    FOCAL_ARG_CLASS_ALPHA = 10,
    FOCAL_ARG_REDUCTION = 11,  /* the reduction code, or the normaliser */
    FOCAL_ARG_FORM = 12,
    FOCAL_ARG_BACKEND = 13,
    FOCAL_ARG_ALPHA_KIND = 14,
    FOCAL_ARG_PLAN = 15,       /* a chunk plan pointer (plan, out_plan) */
    FOCAL_ARG_PARTIAL = 16     /* a chunk function's out_partial */
};

/* Backends (params.backend). */
enum focal_backend {
    FOCAL_BACKEND_AUTO = 0,     /* the fastest this CPU has, detected once */
    FOCAL_BACKEND_SCALAR = 1,   /* one float at a time, no FMA: same bits on every target */
    FOCAL_BACKEND_PORTABLE = 2, /* 4 lanes: SSE2 / NEON / wasm simd128 */
    FOCAL_BACKEND_AVX2 = 3,     /* 8 lanes, AVX2+FMA (x86_64) */
    FOCAL_BACKEND_AVX512 = 4    /* 16 lanes, AVX-512F (x86_64) */
};

/* Reductions (the `reduction` argument). */
enum focal_reduction {
    FOCAL_REDUCTION_SUM = 0,
    FOCAL_REDUCTION_MEAN = 1,
    FOCAL_REDUCTION_MEAN_VALID = 2,
    FOCAL_REDUCTION_NORMALIZE = 3
};

/* Sigmoid forms (focal_sigmoid_params.form); they agree for hard targets (0 or 1).
   MODULATED_BCE: L = a_t*(1-p_t)^g*BCE(x,t) (torchvision, fvcore, optax, Keras, mmdet).
   PER_TERM: L = a*t*q^g*(-ln p) + (1-a)*(1-t)*p^g*(-ln q) (mmcv, Detectron, kornia). */
enum focal_form {
    FOCAL_FORM_MODULATED_BCE = 0,
    FOCAL_FORM_PER_TERM = 1
};

/* Class weights of the softmax losses (alpha_kind). */
enum focal_alpha_kind {
    FOCAL_ALPHA_NONE = 0,     /* weight 1 for every class */
    FOCAL_ALPHA_SCALAR = 1,   /* `alpha` for every class (a pure scale, as mmcv) */
    FOCAL_ALPHA_PER_CLASS = 2 /* class_alpha[k] for rows labelled k (Keras, TorchBlocks) */
};

/* Sigmoid focal loss parameters. Presets: focal_sigmoid_params_default() (torchvision,
   detectron2's call of fvcore), _optax() (optax, Keras, fvcore's defaults), _mmcv() (mmcv,
   kornia). */
typedef struct focal_sigmoid_params {
    float alpha;       /* in [0, 1]; used when has_alpha != 0 */
    int32_t has_alpha; /* != 0: positives weighted alpha, negatives 1 - alpha; 0: both 1 */
    float gamma;       /* finite, >= 0; 0..4 exact by multiplication */
    int32_t form;      /* enum focal_form */
    int32_t backend;   /* enum focal_backend */
} focal_sigmoid_params;

/* Softmax focal loss parameters. Presets: focal_softmax_params_default(), _mmcv() (mmcv,
   Keras), _torch() (ignore index -100). */
typedef struct focal_softmax_params {
    int32_t alpha_kind;         /* enum focal_alpha_kind */
    float alpha;                /* FOCAL_ALPHA_SCALAR: in [0, 1] */
    const float *class_alpha;   /* FOCAL_ALPHA_PER_CLASS: num_classes weights in [0, 1],
                                   caller-owned, read during each call, input buffer rules */
    size_t class_alpha_len;     /* its length, must equal num_classes */
    float gamma;                /* finite, >= 0 */
    int32_t has_ignore_index;   /* != 0: rows labelled ignore_index get loss 0, gradient 0 */
    int64_t ignore_index;       /* any value, compared with the label's value */
    int32_t backend;            /* enum focal_backend */
} focal_softmax_params;

/* TorchBlocks BinaryFocalLoss(gamma, alpha, epsilon); default 2, 0.25, 1e-9. */
typedef struct focal_torchblocks_binary_params {
    float gamma;   /* finite, >= 0 */
    float alpha;   /* in [0, 1] */
    float epsilon; /* finite, >= 0 */
} focal_torchblocks_binary_params;

/* TorchBlocks FocalLoss(gamma, alpha, epsilon); default 2, no weights (1), 1e-9. */
typedef struct focal_torchblocks_softmax_params {
    int32_t alpha_kind;       /* enum focal_alpha_kind */
    float alpha;              /* FOCAL_ALPHA_SCALAR */
    const float *class_alpha; /* FOCAL_ALPHA_PER_CLASS, as in focal_softmax_params */
    size_t class_alpha_len;
    float gamma;              /* finite, >= 0 */
    float epsilon;            /* finite, >= 0 */
} focal_torchblocks_softmax_params;

/* The error of a call (fields that do not apply to its status are 0). */
typedef struct focal_error {
    int32_t status;     /* enum focal_status */
    int32_t arg;        /* enum focal_arg: the argument at fault */
    int32_t code;       /* BACKEND_UNAVAILABLE: the backend; INVALID_CODE: the code given */
    float value;        /* the offending alpha, class alpha, gamma, normaliser, epsilon,
                           target or probability */
    size_t index;       /* the first offending element, row or class */
    size_t expected;    /* LENGTH_MISMATCH, CLASS_ALPHA_LENGTH: the length required */
    size_t found;       /* ... the length given (INVALID_NUM_CLASSES: logits_len) */
    size_t num_classes; /* INVALID_NUM_CLASSES, LABEL_OUT_OF_RANGE */
    int64_t label;      /* LABEL_OUT_OF_RANGE: the label */
} focal_error;

/* ---- Presets, backends, names -------------------------------------------------------- */

/* alpha 0.25, gamma 2, MODULATED_BCE, AUTO: torchvision.ops.sigmoid_focal_loss, fvcore's
   sigmoid_focal_loss with alpha=0.25 (as detectron2 calls it). */
focal_sigmoid_params focal_sigmoid_params_default(void);
/* no alpha, gamma 2, MODULATED_BCE, AUTO: optax sigmoid_focal_loss, Keras
   BinaryFocalCrossentropy(from_logits=True), fvcore sigmoid_focal_loss's defaults. */
focal_sigmoid_params focal_sigmoid_params_optax(void);
/* alpha 0.25, gamma 2, PER_TERM, AUTO: mmcv sigmoid_focal_loss (its "mean" is NORMALIZE by
   the number of rows), kornia binary_focal_loss_with_logits. */
focal_sigmoid_params focal_sigmoid_params_mmcv(void);
/* ALPHA_NONE, gamma 2, no ignore index (ignore_index preset to -100), AUTO. */
focal_softmax_params focal_softmax_params_default(void);
/* ALPHA_SCALAR 0.25, gamma 2, no ignore index, AUTO: mmcv softmax_focal_loss, Keras
   CategoricalFocalCrossentropy. */
focal_softmax_params focal_softmax_params_mmcv(void);
/* ALPHA_NONE, gamma 2, ignore index -100, AUTO: pair with FOCAL_REDUCTION_MEAN_VALID for
   PyTorch's cross_entropy "mean". */
focal_softmax_params focal_softmax_params_torch(void);
/* gamma 2, alpha 0.25, epsilon 1e-9. */
focal_torchblocks_binary_params focal_torchblocks_binary_params_default(void);
/* ALPHA_NONE, gamma 2, epsilon 1e-9. */
focal_torchblocks_softmax_params focal_torchblocks_softmax_params_default(void);

/* The backend FOCAL_BACKEND_AUTO runs on this CPU (a FOCAL_BACKEND_* other than AUTO). */
int32_t focal_backend_detect(void);
/* 1 if `backend` can run here (AUTO always can), 0 if it cannot or is no backend code. */
int32_t focal_backend_available(int32_t backend);
/* The name of a status code ("FOCAL_OK", "FOCAL_LENGTH_MISMATCH", ...): a static string,
   never NULL, "FOCAL_UNKNOWN_STATUS" for other values. */
const char *focal_status_name(int32_t status);

/* Checks every target is in [0, 1] (NaN is not): FOCAL_OK or FOCAL_TARGET_OUT_OF_RANGE with
   the first offending index. Targets that passed can be given to the sigmoid functions with
   targets_checked = 1, for several calls (a training step's forward and backward), as long
   as they do not change in between. */
int32_t focal_check_targets(const float *targets, size_t len, focal_error *err);

/* ---- Sigmoid focal loss: logits and targets in [0, 1] (soft targets allowed) ----------
 *
 * Elementwise over n = logits_len elements; targets_len (and out_len, upstream_len, grad_len)
 * must equal n (FOCAL_LENGTH_MISMATCH). targets_checked: 0 = the call checks the targets;
 * != 0 = the caller promises they passed focal_check_targets and have not changed, and the
 * call does not check them again (one pass over the targets less). The promise is never
 * trusted for memory safety: a broken one gives unspecified numbers, never undefined
 * behaviour. Results are the same bits either way.
 */

/* *out_loss = the reduced loss. Writes nothing else. */
int32_t focal_sigmoid_loss(const focal_sigmoid_params *params,
                           const float *logits, size_t logits_len,
                           const float *targets, size_t targets_len, int32_t targets_checked,
                           int32_t reduction, float normalizer,
                           float *out_loss, focal_error *err);

/* out[i] = the loss of element i. out_len == n; out overlaps no input. */
int32_t focal_sigmoid_loss_elementwise(const focal_sigmoid_params *params,
                                       const float *logits, size_t logits_len,
                                       const float *targets, size_t targets_len,
                                       int32_t targets_checked,
                                       float *out, size_t out_len, focal_error *err);

/* grad[i] = upstream * d(reduced loss)/d logits[i] (the backward pass of
   focal_sigmoid_loss). grad_len == n; grad overlaps no input. */
int32_t focal_sigmoid_grad(const focal_sigmoid_params *params,
                           const float *logits, size_t logits_len,
                           const float *targets, size_t targets_len, int32_t targets_checked,
                           int32_t reduction, float normalizer, float upstream,
                           float *grad, size_t grad_len, focal_error *err);

/* grad[i] = upstream[i] * dL_i/d logits[i] (the backward pass of
   focal_sigmoid_loss_elementwise). upstream_len == grad_len == n; grad overlaps no input. */
int32_t focal_sigmoid_grad_elementwise(const focal_sigmoid_params *params,
                                       const float *logits, size_t logits_len,
                                       const float *targets, size_t targets_len,
                                       int32_t targets_checked,
                                       const float *upstream, size_t upstream_len,
                                       float *grad, size_t grad_len, focal_error *err);

/* The reduced loss (*out_loss) and its gradient (grad, upstream 1) in one pass.
   grad_len == n; grad overlaps no input. */
int32_t focal_sigmoid_loss_and_grad(const focal_sigmoid_params *params,
                                    const float *logits, size_t logits_len,
                                    const float *targets, size_t targets_len,
                                    int32_t targets_checked,
                                    int32_t reduction, float normalizer,
                                    float *grad, size_t grad_len,
                                    float *out_loss, focal_error *err);

/* As focal_sigmoid_loss_and_grad, the gradient written over the logits (same bits). The
   logits must not overlap the targets. On error the logits are unchanged. */
int32_t focal_sigmoid_loss_and_grad_in_place(const focal_sigmoid_params *params,
                                             float *logits, size_t logits_len,
                                             const float *targets, size_t targets_len,
                                             int32_t targets_checked,
                                             int32_t reduction, float normalizer,
                                             float *out_loss, focal_error *err);

/* ---- Softmax focal loss: logits [rows x num_classes], one label per row ----------------
 *
 * num_classes > 0 must divide logits_len (FOCAL_INVALID_NUM_CLASSES); labels_len == rows;
 * every label is in [0, num_classes) or equals params->ignore_index when has_ignore_index
 * (FOCAL_LABEL_OUT_OF_RANGE with the first bad row). A FOCAL_ALPHA_PER_CLASS array must have
 * num_classes entries. Computed in log space: exact where ln(softmax) would underflow.
 * Each function exists for uint8_t, uint16_t, int32_t and int64_t labels; the four compute
 * the same bits for the same label values.
 */

/* *out_loss = the reduced loss over rows. Writes nothing else. */
int32_t focal_softmax_loss_u8(const focal_softmax_params *params,
                              const float *logits, size_t logits_len, size_t num_classes,
                              const uint8_t *labels, size_t labels_len,
                              int32_t reduction, float normalizer,
                              float *out_loss, focal_error *err);
int32_t focal_softmax_loss_u16(const focal_softmax_params *params,
                               const float *logits, size_t logits_len, size_t num_classes,
                               const uint16_t *labels, size_t labels_len,
                               int32_t reduction, float normalizer,
                               float *out_loss, focal_error *err);
int32_t focal_softmax_loss_i32(const focal_softmax_params *params,
                               const float *logits, size_t logits_len, size_t num_classes,
                               const int32_t *labels, size_t labels_len,
                               int32_t reduction, float normalizer,
                               float *out_loss, focal_error *err);
int32_t focal_softmax_loss_i64(const focal_softmax_params *params,
                               const float *logits, size_t logits_len, size_t num_classes,
                               const int64_t *labels, size_t labels_len,
                               int32_t reduction, float normalizer,
                               float *out_loss, focal_error *err);

/* out[r] = the loss of row r (0 for ignored rows). out_len == rows; out overlaps no input. */
int32_t focal_softmax_loss_per_row_u8(const focal_softmax_params *params,
                                      const float *logits, size_t logits_len,
                                      size_t num_classes,
                                      const uint8_t *labels, size_t labels_len,
                                      float *out, size_t out_len, focal_error *err);
int32_t focal_softmax_loss_per_row_u16(const focal_softmax_params *params,
                                       const float *logits, size_t logits_len,
                                       size_t num_classes,
                                       const uint16_t *labels, size_t labels_len,
                                       float *out, size_t out_len, focal_error *err);
int32_t focal_softmax_loss_per_row_i32(const focal_softmax_params *params,
                                       const float *logits, size_t logits_len,
                                       size_t num_classes,
                                       const int32_t *labels, size_t labels_len,
                                       float *out, size_t out_len, focal_error *err);
int32_t focal_softmax_loss_per_row_i64(const focal_softmax_params *params,
                                       const float *logits, size_t logits_len,
                                       size_t num_classes,
                                       const int64_t *labels, size_t labels_len,
                                       float *out, size_t out_len, focal_error *err);

/* grad = upstream * d(reduced loss)/d logits (ignored rows: 0). grad_len == logits_len;
   grad overlaps no input. */
int32_t focal_softmax_grad_u8(const focal_softmax_params *params,
                              const float *logits, size_t logits_len, size_t num_classes,
                              const uint8_t *labels, size_t labels_len,
                              int32_t reduction, float normalizer, float upstream,
                              float *grad, size_t grad_len, focal_error *err);
int32_t focal_softmax_grad_u16(const focal_softmax_params *params,
                               const float *logits, size_t logits_len, size_t num_classes,
                               const uint16_t *labels, size_t labels_len,
                               int32_t reduction, float normalizer, float upstream,
                               float *grad, size_t grad_len, focal_error *err);
int32_t focal_softmax_grad_i32(const focal_softmax_params *params,
                               const float *logits, size_t logits_len, size_t num_classes,
                               const int32_t *labels, size_t labels_len,
                               int32_t reduction, float normalizer, float upstream,
                               float *grad, size_t grad_len, focal_error *err);
int32_t focal_softmax_grad_i64(const focal_softmax_params *params,
                               const float *logits, size_t logits_len, size_t num_classes,
                               const int64_t *labels, size_t labels_len,
                               int32_t reduction, float normalizer, float upstream,
                               float *grad, size_t grad_len, focal_error *err);

/* grad[r*C + j] = upstream[r] * dL_r/d logits[r*C + j] (the backward pass of
   focal_softmax_loss_per_row). upstream_len == rows, grad_len == logits_len; grad overlaps
   no input. */
int32_t focal_softmax_grad_per_row_u8(const focal_softmax_params *params,
                                      const float *logits, size_t logits_len,
                                      size_t num_classes,
                                      const uint8_t *labels, size_t labels_len,
                                      const float *upstream, size_t upstream_len,
                                      float *grad, size_t grad_len, focal_error *err);
int32_t focal_softmax_grad_per_row_u16(const focal_softmax_params *params,
                                       const float *logits, size_t logits_len,
                                       size_t num_classes,
                                       const uint16_t *labels, size_t labels_len,
                                       const float *upstream, size_t upstream_len,
                                       float *grad, size_t grad_len, focal_error *err);
int32_t focal_softmax_grad_per_row_i32(const focal_softmax_params *params,
                                       const float *logits, size_t logits_len,
                                       size_t num_classes,
                                       const int32_t *labels, size_t labels_len,
                                       const float *upstream, size_t upstream_len,
                                       float *grad, size_t grad_len, focal_error *err);
int32_t focal_softmax_grad_per_row_i64(const focal_softmax_params *params,
                                       const float *logits, size_t logits_len,
                                       size_t num_classes,
                                       const int64_t *labels, size_t labels_len,
                                       const float *upstream, size_t upstream_len,
                                       float *grad, size_t grad_len, focal_error *err);

/* The reduced loss (*out_loss) and its gradient (grad, upstream 1); each row read twice.
   grad_len == logits_len; grad overlaps no input. */
int32_t focal_softmax_loss_and_grad_u8(const focal_softmax_params *params,
                                       const float *logits, size_t logits_len,
                                       size_t num_classes,
                                       const uint8_t *labels, size_t labels_len,
                                       int32_t reduction, float normalizer,
                                       float *grad, size_t grad_len,
                                       float *out_loss, focal_error *err);
int32_t focal_softmax_loss_and_grad_u16(const focal_softmax_params *params,
                                        const float *logits, size_t logits_len,
                                        size_t num_classes,
                                        const uint16_t *labels, size_t labels_len,
                                        int32_t reduction, float normalizer,
                                        float *grad, size_t grad_len,
                                        float *out_loss, focal_error *err);
int32_t focal_softmax_loss_and_grad_i32(const focal_softmax_params *params,
                                        const float *logits, size_t logits_len,
                                        size_t num_classes,
                                        const int32_t *labels, size_t labels_len,
                                        int32_t reduction, float normalizer,
                                        float *grad, size_t grad_len,
                                        float *out_loss, focal_error *err);
int32_t focal_softmax_loss_and_grad_i64(const focal_softmax_params *params,
                                        const float *logits, size_t logits_len,
                                        size_t num_classes,
                                        const int64_t *labels, size_t labels_len,
                                        int32_t reduction, float normalizer,
                                        float *grad, size_t grad_len,
                                        float *out_loss, focal_error *err);

/* As focal_softmax_loss_and_grad_*, the gradient written over the logits (same bits). The
   logits must not overlap the labels or the per-class alpha. On error they are unchanged. */
int32_t focal_softmax_loss_and_grad_in_place_u8(const focal_softmax_params *params,
                                                float *logits, size_t logits_len,
                                                size_t num_classes,
                                                const uint8_t *labels, size_t labels_len,
                                                int32_t reduction, float normalizer,
                                                float *out_loss, focal_error *err);
int32_t focal_softmax_loss_and_grad_in_place_u16(const focal_softmax_params *params,
                                                 float *logits, size_t logits_len,
                                                 size_t num_classes,
                                                 const uint16_t *labels, size_t labels_len,
                                                 int32_t reduction, float normalizer,
                                                 float *out_loss, focal_error *err);
int32_t focal_softmax_loss_and_grad_in_place_i32(const focal_softmax_params *params,
                                                 float *logits, size_t logits_len,
                                                 size_t num_classes,
                                                 const int32_t *labels, size_t labels_len,
                                                 int32_t reduction, float normalizer,
                                                 float *out_loss, focal_error *err);
int32_t focal_softmax_loss_and_grad_in_place_i64(const focal_softmax_params *params,
                                                 float *logits, size_t logits_len,
                                                 size_t num_classes,
                                                 const int64_t *labels, size_t labels_len,
                                                 int32_t reduction, float normalizer,
                                                 float *out_loss, focal_error *err);

/* ---- Chunks: one call split across cores or threads, with the single call's bits -------
 *
 * A caller with threads of its own (the second core of a microcontroller, a framework's
 * pool) makes a plan of the whole call once, cuts the logits, targets or labels and grad at
 * the same element (sigmoid) or row (softmax) indices, runs a chunk function on each chunk
 * wherever it likes, joins the chunks' partials and finishes them into the reduced loss:
 *
 *     focal_sigmoid_plan plan;
 *     focal_partial a, b;
 *     size_t cut = n / 2 / FOCAL_SIGMOID_CHUNK * FOCAL_SIGMOID_CHUNK;
 *     focal_sigmoid_chunks(&params, n, FOCAL_REDUCTION_MEAN, 0.0f, &plan, &err);
 *     focal_sigmoid_chunk_loss_and_grad(&plan, x, cut, t, cut, 0, g, cut, &a, &err);
 *     // on the other core:
 *     focal_sigmoid_chunk_loss_and_grad(&plan, x + cut, n - cut, t + cut, n - cut, 0,
 *                                       g + cut, n - cut, &b, &err);
 *     focal_sigmoid_chunks_finish(&plan, focal_partial_join(a, b), &loss, &err);
 *
 * With every chunk but the last a multiple of FOCAL_SIGMOID_CHUNK elements (sigmoid) or of
 * focal_softmax_rows_per_chunk(&plan) rows (softmax), every gradient element and the
 * finished loss are the bits of the single call with the same params and reduction
 * (focal_sigmoid_loss_and_grad, focal_softmax_grad_*, ...). Partials join exactly, in any
 * order and grouping. FOCAL_BACKEND_SCALAR (every microcontroller) sums a call in one pass,
 * not in blocks: its gradient is the same bits however the call is cut, its loss the same
 * bits when the input is one chunk and otherwise within the accuracy bound (and the same
 * bits on every target). Cut elsewhere, the loss is within the bound on every backend.
 *
 * Plans and partials are plain structs: copy them by value, share them between cores
 * read-only. A plan copies the params; a softmax plan keeps the params' class_alpha
 * pointer, which must stay valid and unchanged while the plan is used. Every chunk function
 * checks the plan's codes and parameters again (a NULL plan: FOCAL_NULL_POINTER,
 * FOCAL_ARG_PLAN), then its buffers as the other functions do, then its own lengths and
 * data. A plan whose fields were changed by hand gives unspecified numbers, never undefined
 * behaviour; so does a partial that no chunk function or focal_partial_join made.
 */

/* Every sigmoid chunk but the last is a multiple of this many elements. */
#define FOCAL_SIGMOID_CHUNK 16384

/* The exact sum of the losses of some chunks: 52 bytes, alignment 4, opaque.
   `focal_partial p = {0};` is the partial of no chunk. */
typedef struct focal_partial {
    uint32_t words[13];
} focal_partial;

/* A sigmoid call of n elements planned for chunks (focal_sigmoid_chunks). */
typedef struct focal_sigmoid_plan {
    focal_sigmoid_params params; /* a copy, checked again by every chunk function */
    float divisor;               /* what the reduction divides the sum by (0: loss 0) */
} focal_sigmoid_plan;

/* A softmax call planned for chunks of rows (focal_softmax_chunks_*). */
typedef struct focal_softmax_plan {
    focal_softmax_params params; /* a copy; class_alpha must outlive the plan, unchanged */
    size_t num_classes;
    float divisor;               /* what the reduction divides the sum by (0: loss 0) */
} focal_softmax_plan;

/* The partial of both partials' chunks (exact: any order, any grouping). */
focal_partial focal_partial_join(focal_partial a, focal_partial b);

/* *out_plan = the plan of a sigmoid call of n = len elements with this reduction. Checks the
   params and the reduction as focal_sigmoid_loss does. */
int32_t focal_sigmoid_chunks(const focal_sigmoid_params *params, size_t len,
                             int32_t reduction, float normalizer,
                             focal_sigmoid_plan *out_plan, focal_error *err);

/* *out_partial = the partial of a chunk (the single call: focal_sigmoid_loss). Lengths and
   targets_checked as for focal_sigmoid_loss, for the chunk. */
int32_t focal_sigmoid_chunk_loss(const focal_sigmoid_plan *plan,
                                 const float *logits, size_t logits_len,
                                 const float *targets, size_t targets_len,
                                 int32_t targets_checked,
                                 focal_partial *out_partial, focal_error *err);

/* *out_partial = the partial of a chunk, and grad = its part of the gradient of the reduced
   loss (focal_sigmoid_loss_and_grad). grad_len == logits_len; grad overlaps no input. */
int32_t focal_sigmoid_chunk_loss_and_grad(const focal_sigmoid_plan *plan,
                                          const float *logits, size_t logits_len,
                                          const float *targets, size_t targets_len,
                                          int32_t targets_checked,
                                          float *grad, size_t grad_len,
                                          focal_partial *out_partial, focal_error *err);

/* grad = a chunk's part of the gradient of upstream * reduced loss (focal_sigmoid_grad).
   grad_len == logits_len; grad overlaps no input. */
int32_t focal_sigmoid_chunk_grad(const focal_sigmoid_plan *plan,
                                 const float *logits, size_t logits_len,
                                 const float *targets, size_t targets_len,
                                 int32_t targets_checked, float upstream,
                                 float *grad, size_t grad_len, focal_error *err);

/* *out_loss = the reduced loss of the whole call, from the join of every chunk's partial. */
int32_t focal_sigmoid_chunks_finish(const focal_sigmoid_plan *plan, focal_partial all,
                                    float *out_loss, focal_error *err);

/* *out_plan = the plan of a softmax call over labels_len rows of num_classes logits with
   this reduction. Checks the params, the reduction, num_classes and every label (it counts
   the rows MEAN_VALID divides by) as focal_softmax_loss_* does. */
int32_t focal_softmax_chunks_u8(const focal_softmax_params *params, size_t num_classes,
                                const uint8_t *labels, size_t labels_len,
                                int32_t reduction, float normalizer,
                                focal_softmax_plan *out_plan, focal_error *err);
int32_t focal_softmax_chunks_u16(const focal_softmax_params *params, size_t num_classes,
                                 const uint16_t *labels, size_t labels_len,
                                 int32_t reduction, float normalizer,
                                 focal_softmax_plan *out_plan, focal_error *err);
int32_t focal_softmax_chunks_i32(const focal_softmax_params *params, size_t num_classes,
                                 const int32_t *labels, size_t labels_len,
                                 int32_t reduction, float normalizer,
                                 focal_softmax_plan *out_plan, focal_error *err);
int32_t focal_softmax_chunks_i64(const focal_softmax_params *params, size_t num_classes,
                                 const int64_t *labels, size_t labels_len,
                                 int32_t reduction, float normalizer,
                                 focal_softmax_plan *out_plan, focal_error *err);

/* Every softmax chunk but the last holds a multiple of this many rows (about 32768 logits'
   worth, at least 1); 0 if plan is NULL or not a valid plan: num_classes 0, or params that
   hold an unknown code or an invalid class_alpha buffer (NULL with a length, misaligned). */
size_t focal_softmax_rows_per_chunk(const focal_softmax_plan *plan);

/* *out_partial = the partial of a chunk of rows (focal_softmax_loss_*): logits_len a
   multiple of the plan's num_classes, labels_len == the chunk's rows, each label checked. */
int32_t focal_softmax_chunk_loss_u8(const focal_softmax_plan *plan,
                                    const float *logits, size_t logits_len,
                                    const uint8_t *labels, size_t labels_len,
                                    focal_partial *out_partial, focal_error *err);
int32_t focal_softmax_chunk_loss_u16(const focal_softmax_plan *plan,
                                     const float *logits, size_t logits_len,
                                     const uint16_t *labels, size_t labels_len,
                                     focal_partial *out_partial, focal_error *err);
int32_t focal_softmax_chunk_loss_i32(const focal_softmax_plan *plan,
                                     const float *logits, size_t logits_len,
                                     const int32_t *labels, size_t labels_len,
                                     focal_partial *out_partial, focal_error *err);
int32_t focal_softmax_chunk_loss_i64(const focal_softmax_plan *plan,
                                     const float *logits, size_t logits_len,
                                     const int64_t *labels, size_t labels_len,
                                     focal_partial *out_partial, focal_error *err);

/* *out_partial = the partial of a chunk of rows, and grad = its part of the gradient of the
   reduced loss (focal_softmax_loss_and_grad_*). grad_len == logits_len; grad overlaps no
   input. */
int32_t focal_softmax_chunk_loss_and_grad_u8(const focal_softmax_plan *plan,
                                             const float *logits, size_t logits_len,
                                             const uint8_t *labels, size_t labels_len,
                                             float *grad, size_t grad_len,
                                             focal_partial *out_partial, focal_error *err);
int32_t focal_softmax_chunk_loss_and_grad_u16(const focal_softmax_plan *plan,
                                              const float *logits, size_t logits_len,
                                              const uint16_t *labels, size_t labels_len,
                                              float *grad, size_t grad_len,
                                              focal_partial *out_partial, focal_error *err);
int32_t focal_softmax_chunk_loss_and_grad_i32(const focal_softmax_plan *plan,
                                              const float *logits, size_t logits_len,
                                              const int32_t *labels, size_t labels_len,
                                              float *grad, size_t grad_len,
                                              focal_partial *out_partial, focal_error *err);
int32_t focal_softmax_chunk_loss_and_grad_i64(const focal_softmax_plan *plan,
                                              const float *logits, size_t logits_len,
                                              const int64_t *labels, size_t labels_len,
                                              float *grad, size_t grad_len,
                                              focal_partial *out_partial, focal_error *err);

/* grad = a chunk's part of the gradient of upstream * reduced loss (focal_softmax_grad_*).
   grad_len == logits_len; grad overlaps no input. */
int32_t focal_softmax_chunk_grad_u8(const focal_softmax_plan *plan,
                                    const float *logits, size_t logits_len,
                                    const uint8_t *labels, size_t labels_len, float upstream,
                                    float *grad, size_t grad_len, focal_error *err);
int32_t focal_softmax_chunk_grad_u16(const focal_softmax_plan *plan,
                                     const float *logits, size_t logits_len,
                                     const uint16_t *labels, size_t labels_len, float upstream,
                                     float *grad, size_t grad_len, focal_error *err);
int32_t focal_softmax_chunk_grad_i32(const focal_softmax_plan *plan,
                                     const float *logits, size_t logits_len,
                                     const int32_t *labels, size_t labels_len, float upstream,
                                     float *grad, size_t grad_len, focal_error *err);
int32_t focal_softmax_chunk_grad_i64(const focal_softmax_plan *plan,
                                     const float *logits, size_t logits_len,
                                     const int64_t *labels, size_t labels_len, float upstream,
                                     float *grad, size_t grad_len, focal_error *err);

/* *out_loss = the reduced loss of the whole call, from the join of every chunk's partial. */
int32_t focal_softmax_chunks_finish(const focal_softmax_plan *plan, focal_partial all,
                                    float *out_loss, focal_error *err);

/* ---- TorchBlocks modules: their epsilon-clamped formulas, computed in double ----------
 *
 * For porting and checking, not speed (always scalar). See the crate's compat::torchblocks
 * docs for where they differ from the exact kernels.
 */

/* BinaryFocalLoss on probabilities p in [0, 1] (FOCAL_PROBABILITY_OUT_OF_RANGE) and targets
   in [0, 1]: *out_loss = mean of -a*t*(1-p)^g*ln(p+e) - (1-a)*(1-t)*p^g*ln(1-p+e).
   targets_len == probs_len. */
int32_t focal_torchblocks_binary_loss(const focal_torchblocks_binary_params *params,
                                      const float *probs, size_t probs_len,
                                      const float *targets, size_t targets_len,
                                      float *out_loss, focal_error *err);

/* The same, and grad = d(mean loss)/d probs. grad_len == probs_len; grad overlaps no input. */
int32_t focal_torchblocks_binary_loss_and_grad(const focal_torchblocks_binary_params *params,
                                               const float *probs, size_t probs_len,
                                               const float *targets, size_t targets_len,
                                               float *grad, size_t grad_len,
                                               float *out_loss, focal_error *err);

/* FocalLoss on logits [rows x num_classes]: softmax per row, L = -a_k*(1-p_k)^g*ln(p_k+e);
   rows labelled 0 are ignored (loss 0), the mean divides by all rows. Labels in
   [0, num_classes). *out_loss = the mean. */
int32_t focal_torchblocks_softmax_loss_u8(const focal_torchblocks_softmax_params *params,
                                          const float *logits, size_t logits_len,
                                          size_t num_classes,
                                          const uint8_t *labels, size_t labels_len,
                                          float *out_loss, focal_error *err);
int32_t focal_torchblocks_softmax_loss_u16(const focal_torchblocks_softmax_params *params,
                                           const float *logits, size_t logits_len,
                                           size_t num_classes,
                                           const uint16_t *labels, size_t labels_len,
                                           float *out_loss, focal_error *err);
int32_t focal_torchblocks_softmax_loss_i32(const focal_torchblocks_softmax_params *params,
                                           const float *logits, size_t logits_len,
                                           size_t num_classes,
                                           const int32_t *labels, size_t labels_len,
                                           float *out_loss, focal_error *err);
int32_t focal_torchblocks_softmax_loss_i64(const focal_torchblocks_softmax_params *params,
                                           const float *logits, size_t logits_len,
                                           size_t num_classes,
                                           const int64_t *labels, size_t labels_len,
                                           float *out_loss, focal_error *err);

/* The same, and grad = d(mean loss)/d logits (rows labelled 0: 0). grad_len == logits_len;
   grad overlaps no input. */
int32_t focal_torchblocks_softmax_loss_and_grad_u8(
    const focal_torchblocks_softmax_params *params,
    const float *logits, size_t logits_len, size_t num_classes,
    const uint8_t *labels, size_t labels_len,
    float *grad, size_t grad_len, float *out_loss, focal_error *err);
int32_t focal_torchblocks_softmax_loss_and_grad_u16(
    const focal_torchblocks_softmax_params *params,
    const float *logits, size_t logits_len, size_t num_classes,
    const uint16_t *labels, size_t labels_len,
    float *grad, size_t grad_len, float *out_loss, focal_error *err);
int32_t focal_torchblocks_softmax_loss_and_grad_i32(
    const focal_torchblocks_softmax_params *params,
    const float *logits, size_t logits_len, size_t num_classes,
    const int32_t *labels, size_t labels_len,
    float *grad, size_t grad_len, float *out_loss, focal_error *err);
int32_t focal_torchblocks_softmax_loss_and_grad_i64(
    const focal_torchblocks_softmax_params *params,
    const float *logits, size_t logits_len, size_t num_classes,
    const int64_t *labels, size_t labels_len,
    float *grad, size_t grad_len, float *out_loss, focal_error *err);

#ifdef __cplusplus
}
#endif

#endif /* FOCAL_LOSS_H */
