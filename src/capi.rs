//! The C ABI (cargo feature `capi`): `extern "C"` functions over every method of
//! [`SigmoidFocal`], [`SoftmaxFocal`], their chunk plans ([`SigmoidChunks`],
//! [`SoftmaxChunks`], [`Partial`]) and the TorchBlocks modules, declared for C in
//! `include/focal_loss.h` (hand-written; the header is the reference for C users and documents
//! each function). The crate `capi/` builds these into a static and a shared library.
//!
//! Conventions, for every function:
//!
//! * Buffers are a pointer and a length in elements, owned by the caller and not retained.
//!   A NULL pointer with length 0 is an empty buffer; a NULL pointer with a non-zero length is
//!   [`FOCAL_NULL_POINTER`]; a pointer not aligned for its element type, or a length whose
//!   byte size exceeds `PTRDIFF_MAX`, is [`FOCAL_INVALID_BUFFER`].
//! * Output buffers must not overlap any input buffer ([`FOCAL_OVERLAP`] otherwise); only
//!   the `_in_place` functions write over the logits. The parameter structs, the chunk plans
//!   and partials, and the out-pointers (`out_loss`, `out_plan`, `out_partial`, `err`) are
//!   read and written unaligned.
//! * The return value is a status code (`FOCAL_OK` = 0, or one of the `FOCAL_*` codes below);
//!   when `err` is not NULL the full [`focal_error`] is written there, on success too. On
//!   error nothing else is written: no output buffer, not `out_loss`.
//! * Checks run in this order: the parameter struct or plan pointer and its codes (and a
//!   plan's parameters), the reduction code, the buffers (NULL, alignment, overlap), the
//!   out-pointers, then the library's own checks in their documented order (parameters,
//!   shapes, data).
//! * Nothing unwinds across the boundary: the library does not panic, and an `extern "C"`
//!   function aborts the process rather than unwind if it ever did. Nothing allocates; every
//!   function is reentrant and thread-safe (the only shared state is the detected backend,
//!   cached in an atomic).
#![allow(non_camel_case_types)]
// The C functions take each buffer as a pointer and a length, so they have many arguments.
#![allow(clippy::too_many_arguments)]

use core::ffi::c_char;
use core::mem::size_of;

use crate::compat::torchblocks::{BinaryFocalLoss, FocalLoss};
use crate::exact::Exact;
use crate::{
    Alpha, Backend, ClassIndex, FocalError, Partial, Reduction, SigmoidChunks, SigmoidFocal,
    SigmoidForm, SoftmaxChunks, SoftmaxFocal, Targets,
};

/// Success.
pub const FOCAL_OK: i32 = 0;
/// [`FocalError::LengthMismatch`]: `arg` names the buffer, `expected` and `found` its lengths.
pub const FOCAL_LENGTH_MISMATCH: i32 = 1;
/// [`FocalError::InvalidNumClasses`]: `num_classes`, and the logits' length in `found`.
pub const FOCAL_INVALID_NUM_CLASSES: i32 = 2;
/// [`FocalError::InvalidAlpha`]: `value`.
pub const FOCAL_INVALID_ALPHA: i32 = 3;
/// [`FocalError::ClassAlphaLength`]: `expected` (the number of classes) and `found`.
pub const FOCAL_CLASS_ALPHA_LENGTH: i32 = 4;
/// [`FocalError::InvalidClassAlpha`]: `index` (the class) and `value`.
pub const FOCAL_INVALID_CLASS_ALPHA: i32 = 5;
/// [`FocalError::InvalidGamma`]: `value`.
pub const FOCAL_INVALID_GAMMA: i32 = 6;
/// [`FocalError::InvalidNormalizer`]: `value`.
pub const FOCAL_INVALID_NORMALIZER: i32 = 7;
/// [`FocalError::InvalidEpsilon`]: `value`.
pub const FOCAL_INVALID_EPSILON: i32 = 8;
/// [`FocalError::LabelOutOfRange`]: `index` (the row), `label` and `num_classes`.
pub const FOCAL_LABEL_OUT_OF_RANGE: i32 = 9;
/// [`FocalError::TargetOutOfRange`]: `index` and `value`.
pub const FOCAL_TARGET_OUT_OF_RANGE: i32 = 10;
/// [`FocalError::ProbabilityOutOfRange`]: `index` and `value`.
pub const FOCAL_PROBABILITY_OUT_OF_RANGE: i32 = 11;
/// [`FocalError::BackendUnavailable`]: the backend's code in `code`.
pub const FOCAL_BACKEND_UNAVAILABLE: i32 = 12;
/// A NULL pointer where a value is required (parameters, `out_loss`) or with a non-zero
/// length: `arg` names it.
pub const FOCAL_NULL_POINTER: i32 = 13;
/// A buffer pointer not aligned for its element type, or a length whose byte size exceeds
/// `PTRDIFF_MAX` or wraps the address space: `arg` names it.
pub const FOCAL_INVALID_BUFFER: i32 = 14;
/// An output buffer overlaps an input buffer: `arg` names the output.
pub const FOCAL_OVERLAP: i32 = 15;
/// An unknown code for a reduction, form, backend or alpha kind: `arg` names it, `code` is
/// the value given.
pub const FOCAL_INVALID_CODE: i32 = 16;

/// No argument (the error is not about one).
pub const FOCAL_ARG_NONE: i32 = 0;
/// The parameter struct pointer.
pub const FOCAL_ARG_PARAMS: i32 = 1;
/// The logits.
pub const FOCAL_ARG_LOGITS: i32 = 2;
/// The targets.
pub const FOCAL_ARG_TARGETS: i32 = 3;
/// The probabilities (TorchBlocks binary loss).
pub const FOCAL_ARG_PROBS: i32 = 4;
/// The labels.
pub const FOCAL_ARG_LABELS: i32 = 5;
/// The upstream gradient.
pub const FOCAL_ARG_UPSTREAM: i32 = 6;
/// The gradient output.
pub const FOCAL_ARG_GRAD: i32 = 7;
/// The per-element or per-row loss output.
pub const FOCAL_ARG_OUT: i32 = 8;
/// The reduced-loss out-pointer.
pub const FOCAL_ARG_OUT_LOSS: i32 = 9;
/// The per-class alpha array of a parameter struct.
pub const FOCAL_ARG_CLASS_ALPHA: i32 = 10;
/// The reduction code.
pub const FOCAL_ARG_REDUCTION: i32 = 11;
/// The sigmoid form code.
pub const FOCAL_ARG_FORM: i32 = 12;
/// The backend code.
pub const FOCAL_ARG_BACKEND: i32 = 13;
/// The alpha kind code.
pub const FOCAL_ARG_ALPHA_KIND: i32 = 14;
/// A chunk plan pointer (`plan`, `out_plan`).
pub const FOCAL_ARG_PLAN: i32 = 15;
/// The partial out-pointer of a chunk function (`out_partial`).
pub const FOCAL_ARG_PARTIAL: i32 = 16;

/// Choose the fastest backend this CPU has ([`Backend::detect`]).
pub const FOCAL_BACKEND_AUTO: i32 = 0;
/// [`Backend::Scalar`]: the same bits on every target.
pub const FOCAL_BACKEND_SCALAR: i32 = 1;
/// [`Backend::Portable`].
pub const FOCAL_BACKEND_PORTABLE: i32 = 2;
/// [`Backend::Avx2`].
pub const FOCAL_BACKEND_AVX2: i32 = 3;
/// [`Backend::Avx512`].
pub const FOCAL_BACKEND_AVX512: i32 = 4;

/// [`Reduction::Sum`].
pub const FOCAL_REDUCTION_SUM: i32 = 0;
/// [`Reduction::Mean`].
pub const FOCAL_REDUCTION_MEAN: i32 = 1;
/// [`Reduction::MeanValid`].
pub const FOCAL_REDUCTION_MEAN_VALID: i32 = 2;
/// [`Reduction::Normalize`] by the `normalizer` argument.
pub const FOCAL_REDUCTION_NORMALIZE: i32 = 3;

/// [`SigmoidForm::ModulatedBce`].
pub const FOCAL_FORM_MODULATED_BCE: i32 = 0;
/// [`SigmoidForm::PerTerm`].
pub const FOCAL_FORM_PER_TERM: i32 = 1;

/// [`Alpha::None`].
pub const FOCAL_ALPHA_NONE: i32 = 0;
/// [`Alpha::Scalar`] of the struct's `alpha`.
pub const FOCAL_ALPHA_SCALAR: i32 = 1;
/// [`Alpha::PerClass`] of the struct's `class_alpha` array.
pub const FOCAL_ALPHA_PER_CLASS: i32 = 2;

/// Every sigmoid chunk but the last is a multiple of this many elements
/// ([`SigmoidChunks::CHUNK`]).
pub const FOCAL_SIGMOID_CHUNK: usize = 16384;
const _: () = assert!(FOCAL_SIGMOID_CHUNK == SigmoidChunks::CHUNK);

/// Parameters of the sigmoid functions ([`SigmoidFocal`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct focal_sigmoid_params {
    /// Class balancing weight in `[0, 1]`, used when `has_alpha` is not 0.
    pub alpha: f32,
    /// Not 0: weigh positives by `alpha`, negatives by `1 - alpha`. 0: no balancing.
    pub has_alpha: i32,
    /// Focusing exponent, finite and `>= 0`.
    pub gamma: f32,
    /// `FOCAL_FORM_*`.
    pub form: i32,
    /// `FOCAL_BACKEND_*`.
    pub backend: i32,
}

/// Parameters of the softmax functions ([`SoftmaxFocal`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct focal_softmax_params {
    /// `FOCAL_ALPHA_*`.
    pub alpha_kind: i32,
    /// The weight of every class, for `FOCAL_ALPHA_SCALAR`.
    pub alpha: f32,
    /// One weight per class, for `FOCAL_ALPHA_PER_CLASS` (caller-owned, read during the call).
    pub class_alpha: *const f32,
    /// The length of `class_alpha`.
    pub class_alpha_len: usize,
    /// Focusing exponent, finite and `>= 0`.
    pub gamma: f32,
    /// Not 0: rows whose label equals `ignore_index` have loss 0 and gradient 0.
    pub has_ignore_index: i32,
    /// The ignored label, used when `has_ignore_index` is not 0.
    pub ignore_index: i64,
    /// `FOCAL_BACKEND_*`.
    pub backend: i32,
}

/// Parameters of the TorchBlocks binary loss ([`BinaryFocalLoss`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct focal_torchblocks_binary_params {
    /// Focusing exponent.
    pub gamma: f32,
    /// Weight of the positive term.
    pub alpha: f32,
    /// Added inside the logarithms.
    pub epsilon: f32,
}

/// Parameters of the TorchBlocks softmax loss ([`FocalLoss`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct focal_torchblocks_softmax_params {
    /// `FOCAL_ALPHA_*`.
    pub alpha_kind: i32,
    /// The weight of every class, for `FOCAL_ALPHA_SCALAR`.
    pub alpha: f32,
    /// One weight per class, for `FOCAL_ALPHA_PER_CLASS`.
    pub class_alpha: *const f32,
    /// The length of `class_alpha`.
    pub class_alpha_len: usize,
    /// Focusing exponent.
    pub gamma: f32,
    /// Added inside the logarithm.
    pub epsilon: f32,
}

/// What went wrong: the status and the fields of the error it stands for (0 where a field
/// does not apply).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct focal_error {
    /// `FOCAL_OK` or the error's code.
    pub status: i32,
    /// `FOCAL_ARG_*`: the argument at fault.
    pub arg: i32,
    /// The backend (`FOCAL_BACKEND_UNAVAILABLE`) or the unknown code (`FOCAL_INVALID_CODE`).
    pub code: i32,
    /// The offending value (alpha, class alpha, gamma, normaliser, epsilon, target,
    /// probability).
    pub value: f32,
    /// The first offending element, row or class.
    pub index: usize,
    /// The length a buffer must have.
    pub expected: usize,
    /// The length it has (for `FOCAL_INVALID_NUM_CLASSES`: the logits' length).
    pub found: usize,
    /// The number of classes (`FOCAL_INVALID_NUM_CLASSES`, `FOCAL_LABEL_OUT_OF_RANGE`).
    pub num_classes: usize,
    /// The offending label (`FOCAL_LABEL_OUT_OF_RANGE`).
    pub label: i64,
}

/// The exact sum of the losses of some chunks of one call ([`Partial`]): 13 opaque words
/// (52 bytes, alignment 4). All zero words are the partial of no chunk; it is copied by value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct focal_partial {
    /// The sum and its flags, read only by the chunk functions and [`focal_partial_join`].
    pub words: [u32; 13],
}

impl From<Partial> for focal_partial {
    fn from(p: Partial) -> focal_partial {
        focal_partial {
            words: p.0.to_words(),
        }
    }
}

impl From<focal_partial> for Partial {
    /// Any words are a partial: words no chunk function made give an unspecified loss.
    fn from(p: focal_partial) -> Partial {
        Partial(Exact::from_words(p.words))
    }
}

/// A sigmoid call of a given length and reduction, to be computed in chunks
/// ([`SigmoidChunks`]); made by [`focal_sigmoid_chunks`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct focal_sigmoid_plan {
    /// The parameters, copied; every chunk function checks them again.
    pub params: focal_sigmoid_params,
    /// What the reduction divides the sum of the losses by (0: loss and gradient 0).
    pub divisor: f32,
}

/// A row-major softmax call of given labels and reduction, to be computed in chunks of rows
/// ([`SoftmaxChunks`]); made by the `focal_softmax_chunks_*` functions.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct focal_softmax_plan {
    /// The parameters, copied; every chunk function checks them again. A per-class alpha
    /// array is not copied: it must stay valid and unchanged while the plan is used.
    pub params: focal_softmax_params,
    /// The number of classes.
    pub num_classes: usize,
    /// What the reduction divides the sum of the losses by (0: loss and gradient 0).
    pub divisor: f32,
}

impl focal_error {
    const OK: focal_error = focal_error {
        status: FOCAL_OK,
        arg: FOCAL_ARG_NONE,
        code: 0,
        value: 0.0,
        index: 0,
        expected: 0,
        found: 0,
        num_classes: 0,
        label: 0,
    };

    fn with(status: i32, arg: i32) -> focal_error {
        focal_error {
            status,
            arg,
            ..focal_error::OK
        }
    }
}

/// A failed call: a library error, or one found by the C layer.
enum Fail {
    Focal(FocalError),
    Null(i32),
    Buffer(i32),
    Overlap(i32),
    Code(i32, i32),
}

impl From<FocalError> for Fail {
    fn from(e: FocalError) -> Fail {
        Fail::Focal(e)
    }
}

fn backend_code(b: Backend) -> i32 {
    match b {
        Backend::Scalar => FOCAL_BACKEND_SCALAR,
        Backend::Portable => FOCAL_BACKEND_PORTABLE,
        Backend::Avx2 => FOCAL_BACKEND_AVX2,
        Backend::Avx512 => FOCAL_BACKEND_AVX512,
    }
}

fn arg_of(what: &str) -> i32 {
    match what {
        "targets" => FOCAL_ARG_TARGETS,
        "labels" => FOCAL_ARG_LABELS,
        "upstream" => FOCAL_ARG_UPSTREAM,
        "grad" => FOCAL_ARG_GRAD,
        "out" => FOCAL_ARG_OUT,
        _ => FOCAL_ARG_NONE,
    }
}

impl Fail {
    fn describe(self) -> focal_error {
        let e = match self {
            Fail::Focal(e) => e,
            Fail::Null(arg) => return focal_error::with(FOCAL_NULL_POINTER, arg),
            Fail::Buffer(arg) => return focal_error::with(FOCAL_INVALID_BUFFER, arg),
            Fail::Overlap(arg) => return focal_error::with(FOCAL_OVERLAP, arg),
            Fail::Code(arg, code) => {
                return focal_error {
                    code,
                    ..focal_error::with(FOCAL_INVALID_CODE, arg)
                };
            }
        };
        // Exhaustive (this module is inside the crate, so `#[non_exhaustive]` does not
        // apply): a new error variant fails to compile here until it has a code.
        match e {
            FocalError::LengthMismatch {
                what,
                expected,
                found,
            } => focal_error {
                expected,
                found,
                ..focal_error::with(FOCAL_LENGTH_MISMATCH, arg_of(what))
            },
            FocalError::InvalidNumClasses { num_classes, len } => focal_error {
                num_classes,
                found: len,
                ..focal_error::with(FOCAL_INVALID_NUM_CLASSES, FOCAL_ARG_LOGITS)
            },
            // No C function takes the channels-first layout; the nearest code, should one.
            FocalError::InvalidSpatial { spatial, positions } => focal_error {
                num_classes: spatial,
                found: positions,
                ..focal_error::with(FOCAL_INVALID_NUM_CLASSES, FOCAL_ARG_LOGITS)
            },
            FocalError::InvalidAlpha { value } => focal_error {
                value,
                ..focal_error::with(FOCAL_INVALID_ALPHA, FOCAL_ARG_PARAMS)
            },
            FocalError::ClassAlphaLength { expected, found } => focal_error {
                expected,
                found,
                ..focal_error::with(FOCAL_CLASS_ALPHA_LENGTH, FOCAL_ARG_CLASS_ALPHA)
            },
            FocalError::InvalidClassAlpha { index, value } => focal_error {
                index,
                value,
                ..focal_error::with(FOCAL_INVALID_CLASS_ALPHA, FOCAL_ARG_CLASS_ALPHA)
            },
            FocalError::InvalidGamma { value } => focal_error {
                value,
                ..focal_error::with(FOCAL_INVALID_GAMMA, FOCAL_ARG_PARAMS)
            },
            FocalError::InvalidNormalizer { value } => focal_error {
                value,
                ..focal_error::with(FOCAL_INVALID_NORMALIZER, FOCAL_ARG_REDUCTION)
            },
            FocalError::InvalidEpsilon { value } => focal_error {
                value,
                ..focal_error::with(FOCAL_INVALID_EPSILON, FOCAL_ARG_PARAMS)
            },
            // No C function takes label smoothing yet; the nearest code, should one.
            FocalError::InvalidLabelSmoothing { value } => focal_error {
                value,
                ..focal_error::with(FOCAL_INVALID_EPSILON, FOCAL_ARG_PARAMS)
            },
            FocalError::LabelOutOfRange {
                index,
                label,
                num_classes,
            } => focal_error {
                index,
                num_classes,
                // Labels from C are at most 64 bits wide, so this is exact.
                label: i64::try_from(label).unwrap_or(if label < 0 { i64::MIN } else { i64::MAX }),
                ..focal_error::with(FOCAL_LABEL_OUT_OF_RANGE, FOCAL_ARG_LABELS)
            },
            FocalError::TargetOutOfRange { index, value } => focal_error {
                index,
                value,
                ..focal_error::with(FOCAL_TARGET_OUT_OF_RANGE, FOCAL_ARG_TARGETS)
            },
            FocalError::ProbabilityOutOfRange { index, value } => focal_error {
                index,
                value,
                ..focal_error::with(FOCAL_PROBABILITY_OUT_OF_RANGE, FOCAL_ARG_PROBS)
            },
            FocalError::BackendUnavailable { backend } => focal_error {
                code: backend_code(backend),
                ..focal_error::with(FOCAL_BACKEND_UNAVAILABLE, FOCAL_ARG_BACKEND)
            },
        }
    }
}

/// The status of `r`, with the full error written to `err` unless it is NULL.
///
/// # Safety
/// `err` is NULL or valid for writing a `focal_error` (any alignment).
unsafe fn report(r: Result<(), Fail>, err: *mut focal_error) -> i32 {
    let e = match r {
        Ok(()) => focal_error::OK,
        Err(f) => f.describe(),
    };
    if !err.is_null() {
        // SAFETY: not NULL, and the caller guarantees it is writable; unaligned write.
        unsafe { err.write_unaligned(e) };
    }
    e.status
}

/// A buffer's address range in bytes, after checking it can describe a slice: `Ok(None)`
/// for an empty buffer.
fn span<T>(ptr: *const T, len: usize, arg: i32) -> Result<Option<(usize, usize)>, Fail> {
    if len == 0 {
        return Ok(None);
    }
    if ptr.is_null() {
        return Err(Fail::Null(arg));
    }
    let start = ptr.addr();
    match len.checked_mul(size_of::<T>()) {
        Some(bytes)
            if ptr.is_aligned()
                && bytes <= isize::MAX as usize
                && start.checked_add(bytes).is_some() =>
        {
            Ok(Some((start, start + bytes)))
        }
        _ => Err(Fail::Buffer(arg)),
    }
}

/// An input buffer as a slice.
///
/// # Safety
/// If `len > 0`, `ptr` (when non-NULL and aligned: otherwise this returns an error) points to
/// `len` initialised values that nothing writes to for `'a`.
unsafe fn input<'a, T>(ptr: *const T, len: usize, arg: i32) -> Result<&'a [T], Fail> {
    match span(ptr, len, arg)? {
        None => Ok(&[]),
        // SAFETY: `span` checked non-NULL, aligned, `len·size_of::<T>() <= isize::MAX` and no
        // address wrap; the caller guarantees the `len` values are readable and unchanged
        // for `'a`.
        Some(_) => Ok(unsafe { core::slice::from_raw_parts(ptr, len) }),
    }
}

/// An output buffer as a mutable slice, after checking that it overlaps none of `inputs`.
///
/// # Safety
/// If `len > 0`, `ptr` (when non-NULL and aligned) points to `len` writable `f32` that
/// nothing else reads or writes for `'a` other than through the `inputs`, which this checks.
unsafe fn output<'a>(
    ptr: *mut f32,
    len: usize,
    arg: i32,
    inputs: &[Option<(usize, usize)>],
) -> Result<&'a mut [f32], Fail> {
    let Some((start, end)) = span(ptr, len, arg)? else {
        return Ok(&mut []);
    };
    if inputs.iter().flatten().any(|&(s, e)| start < e && s < end) {
        return Err(Fail::Overlap(arg));
    }
    // SAFETY: `span` checked non-NULL, aligned and the byte size; the caller guarantees
    // `len` writable floats; no input buffer overlaps them (checked above), so this is the
    // only reference to that memory for `'a`. `f32` has no invalid bit patterns, so whatever
    // the caller left there is initialised enough for a `&mut [f32]` that is only written
    // before it is read.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
}

fn range_of(s: &[impl Sized]) -> Option<(usize, usize)> {
    (!s.is_empty()).then(|| {
        let start = s.as_ptr().addr();
        (start, start + size_of_val(s))
    })
}

/// A required out-pointer (`arg` names it when it is NULL).
fn required<T>(p: *mut T, arg: i32) -> Result<*mut T, Fail> {
    if p.is_null() {
        Err(Fail::Null(arg))
    } else {
        Ok(p)
    }
}

/// The reduced-loss out-pointer, required.
fn out_loss_ptr(p: *mut f32) -> Result<*mut f32, Fail> {
    required(p, FOCAL_ARG_OUT_LOSS)
}

/// Writes a result (the loss, a plan, a partial).
///
/// # Safety
/// `p` is valid for writing a `T` (any alignment).
unsafe fn put<T>(p: *mut T, v: T) {
    // SAFETY: by the caller.
    unsafe { p.write_unaligned(v) }
}

#[inline(always)]
fn backend_of(code: i32) -> Result<Option<Backend>, Fail> {
    Ok(Some(match code {
        FOCAL_BACKEND_AUTO => return Ok(None),
        FOCAL_BACKEND_SCALAR => Backend::Scalar,
        FOCAL_BACKEND_PORTABLE => Backend::Portable,
        FOCAL_BACKEND_AVX2 => Backend::Avx2,
        FOCAL_BACKEND_AVX512 => Backend::Avx512,
        _ => return Err(Fail::Code(FOCAL_ARG_BACKEND, code)),
    }))
}

fn reduction_of(code: i32, normalizer: f32) -> Result<Reduction, Fail> {
    Ok(match code {
        FOCAL_REDUCTION_SUM => Reduction::Sum,
        FOCAL_REDUCTION_MEAN => Reduction::Mean,
        FOCAL_REDUCTION_MEAN_VALID => Reduction::MeanValid,
        FOCAL_REDUCTION_NORMALIZE => Reduction::Normalize(normalizer),
        _ => return Err(Fail::Code(FOCAL_ARG_REDUCTION, code)),
    })
}

/// Reads a struct argument (parameters, a plan); `arg` names it when it is NULL.
///
/// # Safety
/// `p` is NULL or valid for reading a `T` (any alignment) whose fields may hold any bits.
///
/// Inlined, as are [`read_params`], [`backend_of`] and [`sigmoid_of`]: out of line, the
/// struct and the `SigmoidFocal` built from it went through memory at unaligned offsets,
/// which on a Cortex-M4F is three calls of the byte-wise `memcpy` (336 of the 966
/// instructions of a `focal_sigmoid_loss_and_grad` call with N = 1; with the target
/// check's error built in place as well, a firmware making that call no longer links
/// `memcpy`'s 730 B). (`softmax_of` stays out of line: inlined into every label width it
/// cost a firmware calling every function 1.7 KB, for 6 instructions a call.)
#[inline(always)]
unsafe fn read_struct<T>(p: *const T, arg: i32) -> Result<T, Fail> {
    if p.is_null() {
        return Err(Fail::Null(arg));
    }
    // SAFETY: not NULL; the caller guarantees it is readable; every field of the parameter
    // structs and plans (integers, floats, a raw pointer, structs of those) is valid for any
    // bits.
    Ok(unsafe { p.read_unaligned() })
}

/// Reads a parameter struct.
///
/// # Safety
/// As [`read_struct`].
#[inline(always)]
unsafe fn read_params<T>(p: *const T) -> Result<T, Fail> {
    // SAFETY: by the caller.
    unsafe { read_struct(p, FOCAL_ARG_PARAMS) }
}

#[inline(always)]
fn sigmoid_of(p: &focal_sigmoid_params) -> Result<SigmoidFocal, Fail> {
    let form = match p.form {
        FOCAL_FORM_MODULATED_BCE => SigmoidForm::ModulatedBce,
        FOCAL_FORM_PER_TERM => SigmoidForm::PerTerm,
        code => return Err(Fail::Code(FOCAL_ARG_FORM, code)),
    };
    let f = SigmoidFocal::new()
        .alpha(if p.has_alpha != 0 {
            Some(p.alpha)
        } else {
            None
        })
        .gamma(p.gamma)
        .form(form);
    Ok(match backend_of(p.backend)? {
        Some(b) => f.backend(b),
        None => f,
    })
}

/// The alpha of a softmax parameter struct.
///
/// # Safety
/// For `FOCAL_ALPHA_PER_CLASS`, `class_alpha` is as [`input`] requires for `'a`.
unsafe fn alpha_of<'a>(kind: i32, a: f32, ptr: *const f32, len: usize) -> Result<Alpha<'a>, Fail> {
    Ok(match kind {
        FOCAL_ALPHA_NONE => Alpha::None,
        FOCAL_ALPHA_SCALAR => Alpha::Scalar(a),
        // SAFETY: by the caller.
        FOCAL_ALPHA_PER_CLASS => {
            Alpha::PerClass(unsafe { input(ptr, len, FOCAL_ARG_CLASS_ALPHA) }?)
        }
        _ => return Err(Fail::Code(FOCAL_ARG_ALPHA_KIND, kind)),
    })
}

fn alpha_range(a: &Alpha<'_>) -> Option<(usize, usize)> {
    match a {
        Alpha::PerClass(v) => range_of(v),
        _ => None,
    }
}

/// A softmax parameter struct as the builder, and the range of its per-class alpha.
///
/// # Safety
/// As [`read_params`], and its `class_alpha` as [`alpha_of`] requires for `'a`.
unsafe fn softmax_of<'a>(
    p: *const focal_softmax_params,
) -> Result<(SoftmaxFocal<'a>, Option<(usize, usize)>), Fail> {
    // SAFETY: by the caller.
    let p = unsafe { read_params(p) }?;
    // SAFETY: by the caller.
    unsafe { softmax_from(&p) }
}

/// [`softmax_of`] of a struct already read.
///
/// # Safety
/// Its `class_alpha` as [`alpha_of`] requires for `'a`.
unsafe fn softmax_from<'a>(
    p: &focal_softmax_params,
) -> Result<(SoftmaxFocal<'a>, Option<(usize, usize)>), Fail> {
    // SAFETY: by the caller.
    let alpha = unsafe { alpha_of(p.alpha_kind, p.alpha, p.class_alpha, p.class_alpha_len) }?;
    let ignore = (p.has_ignore_index != 0).then_some(p.ignore_index);
    let f = SoftmaxFocal::new()
        .alpha(alpha)
        .gamma(p.gamma)
        .ignore_index(ignore);
    let f = match backend_of(p.backend)? {
        Some(b) => f.backend(b),
        None => f,
    };
    Ok((f, alpha_range(&alpha)))
}

/// The targets, checked now when the caller says they were checked (`Targets::checked`).
fn targets_of(t: &[f32], checked: i32) -> Result<Targets<'_>, FocalError> {
    Ok(if checked != 0 {
        Targets::vouched(t)
    } else {
        Targets::from(t)
    })
}

// ---------------------------------------------------------------------------------------
// Presets, backends, status names, target check

/// torchvision's defaults (and detectron2's call of fvcore): alpha 0.25, gamma 2, modulated
/// BCE, auto backend.
#[unsafe(no_mangle)]
pub extern "C" fn focal_sigmoid_params_default() -> focal_sigmoid_params {
    focal_sigmoid_params {
        alpha: 0.25,
        has_alpha: 1,
        gamma: 2.0,
        form: FOCAL_FORM_MODULATED_BCE,
        backend: FOCAL_BACKEND_AUTO,
    }
}

/// optax's and Keras' defaults: no alpha, gamma 2, modulated BCE, auto backend.
#[unsafe(no_mangle)]
pub extern "C" fn focal_sigmoid_params_optax() -> focal_sigmoid_params {
    focal_sigmoid_params {
        has_alpha: 0,
        ..focal_sigmoid_params_default()
    }
}

/// mmcv's and kornia's defaults: alpha 0.25, gamma 2, per-term form, auto backend.
#[unsafe(no_mangle)]
pub extern "C" fn focal_sigmoid_params_mmcv() -> focal_sigmoid_params {
    focal_sigmoid_params {
        form: FOCAL_FORM_PER_TERM,
        ..focal_sigmoid_params_default()
    }
}

/// No class weights, gamma 2, no ignore index, auto backend.
#[unsafe(no_mangle)]
pub extern "C" fn focal_softmax_params_default() -> focal_softmax_params {
    focal_softmax_params {
        alpha_kind: FOCAL_ALPHA_NONE,
        alpha: 0.25,
        class_alpha: core::ptr::null(),
        class_alpha_len: 0,
        gamma: 2.0,
        has_ignore_index: 0,
        ignore_index: -100,
        backend: FOCAL_BACKEND_AUTO,
    }
}

/// mmcv's and Keras' defaults: alpha 0.25 for every class, gamma 2.
#[unsafe(no_mangle)]
pub extern "C" fn focal_softmax_params_mmcv() -> focal_softmax_params {
    focal_softmax_params {
        alpha_kind: FOCAL_ALPHA_SCALAR,
        ..focal_softmax_params_default()
    }
}

/// PyTorch-style labels: ignore index -100, no class weights, gamma 2.
#[unsafe(no_mangle)]
pub extern "C" fn focal_softmax_params_torch() -> focal_softmax_params {
    focal_softmax_params {
        has_ignore_index: 1,
        ..focal_softmax_params_default()
    }
}

/// TorchBlocks `BinaryFocalLoss()` defaults: gamma 2, alpha 0.25, epsilon 1e-9.
#[unsafe(no_mangle)]
pub extern "C" fn focal_torchblocks_binary_params_default() -> focal_torchblocks_binary_params {
    let d = BinaryFocalLoss::default();
    focal_torchblocks_binary_params {
        gamma: d.gamma,
        alpha: d.alpha,
        epsilon: d.epsilon,
    }
}

/// TorchBlocks `FocalLoss()` defaults: gamma 2, no class weights, epsilon 1e-9.
#[unsafe(no_mangle)]
pub extern "C" fn focal_torchblocks_softmax_params_default() -> focal_torchblocks_softmax_params {
    let d = FocalLoss::default();
    focal_torchblocks_softmax_params {
        alpha_kind: FOCAL_ALPHA_NONE,
        alpha: 1.0,
        class_alpha: core::ptr::null(),
        class_alpha_len: 0,
        gamma: d.gamma,
        epsilon: d.epsilon,
    }
}

/// The backend `FOCAL_BACKEND_AUTO` runs here (a `FOCAL_BACKEND_*` code, never AUTO).
#[unsafe(no_mangle)]
pub extern "C" fn focal_backend_detect() -> i32 {
    backend_code(Backend::detect())
}

/// 1 if the backend code can run here (AUTO always can), 0 if not or unknown.
#[unsafe(no_mangle)]
pub extern "C" fn focal_backend_available(backend: i32) -> i32 {
    match backend_of(backend) {
        Ok(None) => 1,
        Ok(Some(b)) => i32::from(b.is_available()),
        Err(_) => 0,
    }
}

/// The name of a status code (`"FOCAL_OK"`, ...), a static NUL-terminated string;
/// `"FOCAL_UNKNOWN_STATUS"` for a code that is none of them.
#[unsafe(no_mangle)]
pub extern "C" fn focal_status_name(status: i32) -> *const c_char {
    let s: &'static core::ffi::CStr = match status {
        FOCAL_OK => c"FOCAL_OK",
        FOCAL_LENGTH_MISMATCH => c"FOCAL_LENGTH_MISMATCH",
        FOCAL_INVALID_NUM_CLASSES => c"FOCAL_INVALID_NUM_CLASSES",
        FOCAL_INVALID_ALPHA => c"FOCAL_INVALID_ALPHA",
        FOCAL_CLASS_ALPHA_LENGTH => c"FOCAL_CLASS_ALPHA_LENGTH",
        FOCAL_INVALID_CLASS_ALPHA => c"FOCAL_INVALID_CLASS_ALPHA",
        FOCAL_INVALID_GAMMA => c"FOCAL_INVALID_GAMMA",
        FOCAL_INVALID_NORMALIZER => c"FOCAL_INVALID_NORMALIZER",
        FOCAL_INVALID_EPSILON => c"FOCAL_INVALID_EPSILON",
        FOCAL_LABEL_OUT_OF_RANGE => c"FOCAL_LABEL_OUT_OF_RANGE",
        FOCAL_TARGET_OUT_OF_RANGE => c"FOCAL_TARGET_OUT_OF_RANGE",
        FOCAL_PROBABILITY_OUT_OF_RANGE => c"FOCAL_PROBABILITY_OUT_OF_RANGE",
        FOCAL_BACKEND_UNAVAILABLE => c"FOCAL_BACKEND_UNAVAILABLE",
        FOCAL_NULL_POINTER => c"FOCAL_NULL_POINTER",
        FOCAL_INVALID_BUFFER => c"FOCAL_INVALID_BUFFER",
        FOCAL_OVERLAP => c"FOCAL_OVERLAP",
        FOCAL_INVALID_CODE => c"FOCAL_INVALID_CODE",
        _ => c"FOCAL_UNKNOWN_STATUS",
    };
    s.as_ptr()
}

/// Checks that every target is in `[0, 1]` ([`Targets::checked`]), for the
/// `targets_checked` flag of the sigmoid functions.
///
/// # Safety
/// `targets` is valid for reading `len` floats (or `len` is 0); `err` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_check_targets(
    targets: *const f32,
    len: usize,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `targets`.
        let t = unsafe { input(targets, len, FOCAL_ARG_TARGETS) }?;
        Targets::checked(t)?;
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

// ---------------------------------------------------------------------------------------
// Sigmoid

/// [`SigmoidFocal::loss`]: the reduced loss, written to `*out_loss`.
///
/// # Safety
/// As documented in `include/focal_loss.h`: each pointer is valid for its length (or NULL
/// with length 0), `out_loss` is writable, `err` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_sigmoid_loss(
    params: *const focal_sigmoid_params,
    logits: *const f32,
    logits_len: usize,
    targets: *const f32,
    targets_len: usize,
    targets_checked: i32,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params`.
        let f = sigmoid_of(&unsafe { read_params(params) }?)?;
        let r = reduction_of(reduction, normalizer)?;
        // SAFETY: the caller's contract for `logits` and `targets` (inputs only).
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let t = unsafe { input(targets, targets_len, FOCAL_ARG_TARGETS) }?;
        let out = out_loss_ptr(out_loss)?;
        let loss = f.loss(x, targets_of(t, targets_checked)?, r)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, loss) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// [`SigmoidFocal::loss_elementwise`]: each element's loss, written to `out`.
///
/// # Safety
/// As documented in `include/focal_loss.h`; `out` overlaps no input.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_sigmoid_loss_elementwise(
    params: *const focal_sigmoid_params,
    logits: *const f32,
    logits_len: usize,
    targets: *const f32,
    targets_len: usize,
    targets_checked: i32,
    out: *mut f32,
    out_len: usize,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params`.
        let f = sigmoid_of(&unsafe { read_params(params) }?)?;
        // SAFETY: the caller's contract for the inputs.
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let t = unsafe { input(targets, targets_len, FOCAL_ARG_TARGETS) }?;
        // SAFETY: the caller's contract for `out`; overlap with the inputs is checked.
        let o = unsafe { output(out, out_len, FOCAL_ARG_OUT, &[range_of(x), range_of(t)]) }?;
        f.loss_elementwise(x, targets_of(t, targets_checked)?, o)?;
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// [`SigmoidFocal::grad`]: the gradient of `upstream · reduced loss`, written to `grad`.
///
/// # Safety
/// As documented in `include/focal_loss.h`; `grad` overlaps no input.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_sigmoid_grad(
    params: *const focal_sigmoid_params,
    logits: *const f32,
    logits_len: usize,
    targets: *const f32,
    targets_len: usize,
    targets_checked: i32,
    reduction: i32,
    normalizer: f32,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params`.
        let f = sigmoid_of(&unsafe { read_params(params) }?)?;
        let r = reduction_of(reduction, normalizer)?;
        // SAFETY: the caller's contract for the inputs.
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let t = unsafe { input(targets, targets_len, FOCAL_ARG_TARGETS) }?;
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &[range_of(x), range_of(t)]) }?;
        f.grad(x, targets_of(t, targets_checked)?, r, upstream, g)?;
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// [`SigmoidFocal::grad_elementwise`]: `grad[i] = upstream[i] · dL_i/dx_i`.
///
/// # Safety
/// As documented in `include/focal_loss.h`; `grad` overlaps no input.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_sigmoid_grad_elementwise(
    params: *const focal_sigmoid_params,
    logits: *const f32,
    logits_len: usize,
    targets: *const f32,
    targets_len: usize,
    targets_checked: i32,
    upstream: *const f32,
    upstream_len: usize,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params`.
        let f = sigmoid_of(&unsafe { read_params(params) }?)?;
        // SAFETY: the caller's contract for the inputs.
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let t = unsafe { input(targets, targets_len, FOCAL_ARG_TARGETS) }?;
        // SAFETY: as above.
        let u = unsafe { input(upstream, upstream_len, FOCAL_ARG_UPSTREAM) }?;
        let inputs = [range_of(x), range_of(t), range_of(u)];
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &inputs) }?;
        f.grad_elementwise(x, targets_of(t, targets_checked)?, u, g)?;
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// [`SigmoidFocal::loss_and_grad`]: the reduced loss and its gradient, in one pass.
///
/// # Safety
/// As documented in `include/focal_loss.h`; `grad` overlaps no input.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_sigmoid_loss_and_grad(
    params: *const focal_sigmoid_params,
    logits: *const f32,
    logits_len: usize,
    targets: *const f32,
    targets_len: usize,
    targets_checked: i32,
    reduction: i32,
    normalizer: f32,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params`.
        let f = sigmoid_of(&unsafe { read_params(params) }?)?;
        let r = reduction_of(reduction, normalizer)?;
        // SAFETY: the caller's contract for the inputs.
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let t = unsafe { input(targets, targets_len, FOCAL_ARG_TARGETS) }?;
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &[range_of(x), range_of(t)]) }?;
        let out = out_loss_ptr(out_loss)?;
        let loss = f.loss_and_grad(x, targets_of(t, targets_checked)?, r, g)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, loss) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// [`SigmoidFocal::loss_and_grad_in_place`]: the reduced loss, and its gradient written over
/// the logits.
///
/// # Safety
/// As documented in `include/focal_loss.h`; `logits` is writable and overlaps no other input.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_sigmoid_loss_and_grad_in_place(
    params: *const focal_sigmoid_params,
    logits: *mut f32,
    logits_len: usize,
    targets: *const f32,
    targets_len: usize,
    targets_checked: i32,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params`.
        let f = sigmoid_of(&unsafe { read_params(params) }?)?;
        let r = reduction_of(reduction, normalizer)?;
        // SAFETY: the caller's contract for `targets`.
        let t = unsafe { input(targets, targets_len, FOCAL_ARG_TARGETS) }?;
        // SAFETY: the caller's contract for `logits` (read and written); overlap with the
        // targets is checked.
        let x = unsafe { output(logits, logits_len, FOCAL_ARG_LOGITS, &[range_of(t)]) }?;
        let out = out_loss_ptr(out_loss)?;
        let loss = f.loss_and_grad_in_place(x, targets_of(t, targets_checked)?, r)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, loss) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

// ---------------------------------------------------------------------------------------
// Softmax: one generic function per method; the exported per-width functions forward to it.

/// # Safety
/// The contract of `focal_softmax_loss_*` in `include/focal_loss.h`.
unsafe fn softmax_loss<L: ClassIndex>(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const L,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params` and its `class_alpha`.
        let (f, _) = unsafe { softmax_of(params) }?;
        let r = reduction_of(reduction, normalizer)?;
        // SAFETY: the caller's contract for the inputs.
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let l = unsafe { input(labels, labels_len, FOCAL_ARG_LABELS) }?;
        let out = out_loss_ptr(out_loss)?;
        let loss = f.loss(x, num_classes, l, r)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, loss) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// # Safety
/// The contract of `focal_softmax_loss_per_row_*` in `include/focal_loss.h`.
unsafe fn softmax_loss_per_row<L: ClassIndex>(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const L,
    labels_len: usize,
    out: *mut f32,
    out_len: usize,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params` and its `class_alpha`.
        let (f, a) = unsafe { softmax_of(params) }?;
        // SAFETY: the caller's contract for the inputs.
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let l = unsafe { input(labels, labels_len, FOCAL_ARG_LABELS) }?;
        let inputs = [range_of(x), range_of(l), a];
        // SAFETY: the caller's contract for `out`; overlap with the inputs is checked.
        let o = unsafe { output(out, out_len, FOCAL_ARG_OUT, &inputs) }?;
        f.loss_per_row(x, num_classes, l, o)?;
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// # Safety
/// The contract of `focal_softmax_grad_*` in `include/focal_loss.h`.
unsafe fn softmax_grad<L: ClassIndex>(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const L,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params` and its `class_alpha`.
        let (f, a) = unsafe { softmax_of(params) }?;
        let r = reduction_of(reduction, normalizer)?;
        // SAFETY: the caller's contract for the inputs.
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let l = unsafe { input(labels, labels_len, FOCAL_ARG_LABELS) }?;
        let inputs = [range_of(x), range_of(l), a];
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &inputs) }?;
        f.grad(x, num_classes, l, r, upstream, g)?;
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// # Safety
/// The contract of `focal_softmax_grad_per_row_*` in `include/focal_loss.h`.
unsafe fn softmax_grad_per_row<L: ClassIndex>(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const L,
    labels_len: usize,
    upstream: *const f32,
    upstream_len: usize,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params` and its `class_alpha`.
        let (f, a) = unsafe { softmax_of(params) }?;
        // SAFETY: the caller's contract for the inputs.
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let l = unsafe { input(labels, labels_len, FOCAL_ARG_LABELS) }?;
        // SAFETY: as above.
        let u = unsafe { input(upstream, upstream_len, FOCAL_ARG_UPSTREAM) }?;
        let inputs = [range_of(x), range_of(l), range_of(u), a];
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &inputs) }?;
        f.grad_per_row(x, num_classes, l, u, g)?;
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// # Safety
/// The contract of `focal_softmax_loss_and_grad_*` in `include/focal_loss.h`.
unsafe fn softmax_loss_and_grad<L: ClassIndex>(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const L,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params` and its `class_alpha`.
        let (f, a) = unsafe { softmax_of(params) }?;
        let r = reduction_of(reduction, normalizer)?;
        // SAFETY: the caller's contract for the inputs.
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let l = unsafe { input(labels, labels_len, FOCAL_ARG_LABELS) }?;
        let inputs = [range_of(x), range_of(l), a];
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &inputs) }?;
        let out = out_loss_ptr(out_loss)?;
        let loss = f.loss_and_grad(x, num_classes, l, r, g)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, loss) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// # Safety
/// The contract of `focal_softmax_loss_and_grad_in_place_*` in `include/focal_loss.h`.
unsafe fn softmax_loss_and_grad_in_place<L: ClassIndex>(
    params: *const focal_softmax_params,
    logits: *mut f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const L,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params` and its `class_alpha`.
        let (f, a) = unsafe { softmax_of(params) }?;
        let r = reduction_of(reduction, normalizer)?;
        // SAFETY: the caller's contract for `labels`.
        let l = unsafe { input(labels, labels_len, FOCAL_ARG_LABELS) }?;
        // SAFETY: the caller's contract for `logits` (read and written); overlap with the
        // other inputs is checked.
        let x = unsafe { output(logits, logits_len, FOCAL_ARG_LOGITS, &[range_of(l), a]) }?;
        let out = out_loss_ptr(out_loss)?;
        let loss = f.loss_and_grad_in_place(x, num_classes, l, r)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, loss) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

// ---------------------------------------------------------------------------------------
// TorchBlocks

fn binary_of(p: &focal_torchblocks_binary_params) -> BinaryFocalLoss {
    BinaryFocalLoss {
        gamma: p.gamma,
        alpha: p.alpha,
        epsilon: p.epsilon,
    }
}

/// [`BinaryFocalLoss::loss`]: the mean loss over probabilities, written to `*out_loss`.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_torchblocks_binary_loss(
    params: *const focal_torchblocks_binary_params,
    probs: *const f32,
    probs_len: usize,
    targets: *const f32,
    targets_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params`.
        let m = binary_of(&unsafe { read_params(params) }?);
        // SAFETY: the caller's contract for the inputs.
        let p = unsafe { input(probs, probs_len, FOCAL_ARG_PROBS) }?;
        // SAFETY: as above.
        let t = unsafe { input(targets, targets_len, FOCAL_ARG_TARGETS) }?;
        let out = out_loss_ptr(out_loss)?;
        let loss = m.loss(p, t)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, loss) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// [`BinaryFocalLoss::loss_and_grad`]: the mean loss, and its gradient with respect to the
/// probabilities written to `grad`.
///
/// # Safety
/// As documented in `include/focal_loss.h`; `grad` overlaps no input.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_torchblocks_binary_loss_and_grad(
    params: *const focal_torchblocks_binary_params,
    probs: *const f32,
    probs_len: usize,
    targets: *const f32,
    targets_len: usize,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params`.
        let m = binary_of(&unsafe { read_params(params) }?);
        // SAFETY: the caller's contract for the inputs.
        let p = unsafe { input(probs, probs_len, FOCAL_ARG_PROBS) }?;
        // SAFETY: as above.
        let t = unsafe { input(targets, targets_len, FOCAL_ARG_TARGETS) }?;
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &[range_of(p), range_of(t)]) }?;
        let out = out_loss_ptr(out_loss)?;
        let loss = m.loss_and_grad(p, t, g)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, loss) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// A TorchBlocks softmax parameter struct as the module, and the range of its per-class
/// alpha.
///
/// # Safety
/// As [`read_params`], and its `class_alpha` as [`alpha_of`] requires for `'a`.
unsafe fn focal_loss_of<'a>(
    p: *const focal_torchblocks_softmax_params,
) -> Result<(FocalLoss<'a>, Option<(usize, usize)>), Fail> {
    // SAFETY: by the caller.
    let p = unsafe { read_params(p) }?;
    // SAFETY: by the caller.
    let alpha = unsafe { alpha_of(p.alpha_kind, p.alpha, p.class_alpha, p.class_alpha_len) }?;
    let m = FocalLoss {
        gamma: p.gamma,
        alpha,
        epsilon: p.epsilon,
    };
    Ok((m, alpha_range(&alpha)))
}

/// # Safety
/// The contract of `focal_torchblocks_softmax_loss_*` in `include/focal_loss.h`.
unsafe fn torchblocks_softmax_loss<L: ClassIndex>(
    params: *const focal_torchblocks_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const L,
    labels_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params` and its `class_alpha`.
        let (m, _) = unsafe { focal_loss_of(params) }?;
        // SAFETY: the caller's contract for the inputs.
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let l = unsafe { input(labels, labels_len, FOCAL_ARG_LABELS) }?;
        let out = out_loss_ptr(out_loss)?;
        let loss = m.loss(x, num_classes, l)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, loss) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// # Safety
/// The contract of `focal_torchblocks_softmax_loss_and_grad_*` in `include/focal_loss.h`.
unsafe fn torchblocks_softmax_loss_and_grad<L: ClassIndex>(
    params: *const focal_torchblocks_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const L,
    labels_len: usize,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params` and its `class_alpha`.
        let (m, a) = unsafe { focal_loss_of(params) }?;
        // SAFETY: the caller's contract for the inputs.
        let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
        // SAFETY: as above.
        let l = unsafe { input(labels, labels_len, FOCAL_ARG_LABELS) }?;
        let inputs = [range_of(x), range_of(l), a];
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &inputs) }?;
        let out = out_loss_ptr(out_loss)?;
        let loss = m.loss_and_grad(x, num_classes, l, g)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, loss) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

// ---------------------------------------------------------------------------------------
// The exported per-label-width functions: thin wrappers over the generic ones above.

/// [`SoftmaxFocal::loss`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_u8(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u8,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_loss,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_u16(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u16,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_loss,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_i32(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i32,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_loss,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_i64(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i64,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_loss,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_per_row`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_per_row_u8(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u8,
    labels_len: usize,
    out: *mut f32,
    out_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_per_row(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            out,
            out_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_per_row`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_per_row_u16(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u16,
    labels_len: usize,
    out: *mut f32,
    out_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_per_row(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            out,
            out_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_per_row`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_per_row_i32(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i32,
    labels_len: usize,
    out: *mut f32,
    out_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_per_row(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            out,
            out_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_per_row`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_per_row_i64(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i64,
    labels_len: usize,
    out: *mut f32,
    out_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_per_row(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            out,
            out_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::grad`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_grad_u8(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u8,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            upstream,
            grad,
            grad_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::grad`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_grad_u16(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u16,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            upstream,
            grad,
            grad_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::grad`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_grad_i32(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i32,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            upstream,
            grad,
            grad_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::grad`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_grad_i64(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i64,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            upstream,
            grad,
            grad_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::grad_per_row`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_grad_per_row_u8(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u8,
    labels_len: usize,
    upstream: *const f32,
    upstream_len: usize,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_grad_per_row(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            upstream,
            upstream_len,
            grad,
            grad_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::grad_per_row`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_grad_per_row_u16(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u16,
    labels_len: usize,
    upstream: *const f32,
    upstream_len: usize,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_grad_per_row(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            upstream,
            upstream_len,
            grad,
            grad_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::grad_per_row`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_grad_per_row_i32(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i32,
    labels_len: usize,
    upstream: *const f32,
    upstream_len: usize,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_grad_per_row(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            upstream,
            upstream_len,
            grad,
            grad_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::grad_per_row`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_grad_per_row_i64(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i64,
    labels_len: usize,
    upstream: *const f32,
    upstream_len: usize,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_grad_per_row(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            upstream,
            upstream_len,
            grad,
            grad_len,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_and_grad`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_and_grad_u8(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u8,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_and_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            grad,
            grad_len,
            out_loss,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_and_grad`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_and_grad_u16(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u16,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_and_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            grad,
            grad_len,
            out_loss,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_and_grad`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_and_grad_i32(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i32,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_and_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            grad,
            grad_len,
            out_loss,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_and_grad`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_and_grad_i64(
    params: *const focal_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i64,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_and_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            grad,
            grad_len,
            out_loss,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_and_grad_in_place`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_and_grad_in_place_u8(
    params: *const focal_softmax_params,
    logits: *mut f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u8,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_and_grad_in_place(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_loss,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_and_grad_in_place`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_and_grad_in_place_u16(
    params: *const focal_softmax_params,
    logits: *mut f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u16,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_and_grad_in_place(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_loss,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_and_grad_in_place`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_and_grad_in_place_i32(
    params: *const focal_softmax_params,
    logits: *mut f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i32,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_and_grad_in_place(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_loss,
            err,
        )
    }
}

/// [`SoftmaxFocal::loss_and_grad_in_place`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_loss_and_grad_in_place_i64(
    params: *const focal_softmax_params,
    logits: *mut f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i64,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_loss_and_grad_in_place(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_loss,
            err,
        )
    }
}

/// [`FocalLoss::loss`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_torchblocks_softmax_loss_u8(
    params: *const focal_torchblocks_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u8,
    labels_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        torchblocks_softmax_loss(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            out_loss,
            err,
        )
    }
}

/// [`FocalLoss::loss`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_torchblocks_softmax_loss_u16(
    params: *const focal_torchblocks_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u16,
    labels_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        torchblocks_softmax_loss(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            out_loss,
            err,
        )
    }
}

/// [`FocalLoss::loss`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_torchblocks_softmax_loss_i32(
    params: *const focal_torchblocks_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i32,
    labels_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        torchblocks_softmax_loss(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            out_loss,
            err,
        )
    }
}

/// [`FocalLoss::loss`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_torchblocks_softmax_loss_i64(
    params: *const focal_torchblocks_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i64,
    labels_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        torchblocks_softmax_loss(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            out_loss,
            err,
        )
    }
}

/// [`FocalLoss::loss_and_grad`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_torchblocks_softmax_loss_and_grad_u8(
    params: *const focal_torchblocks_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u8,
    labels_len: usize,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        torchblocks_softmax_loss_and_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            grad,
            grad_len,
            out_loss,
            err,
        )
    }
}

/// [`FocalLoss::loss_and_grad`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_torchblocks_softmax_loss_and_grad_u16(
    params: *const focal_torchblocks_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const u16,
    labels_len: usize,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        torchblocks_softmax_loss_and_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            grad,
            grad_len,
            out_loss,
            err,
        )
    }
}

/// [`FocalLoss::loss_and_grad`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_torchblocks_softmax_loss_and_grad_i32(
    params: *const focal_torchblocks_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i32,
    labels_len: usize,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        torchblocks_softmax_loss_and_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            grad,
            grad_len,
            out_loss,
            err,
        )
    }
}

/// [`FocalLoss::loss_and_grad`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_torchblocks_softmax_loss_and_grad_i64(
    params: *const focal_torchblocks_softmax_params,
    logits: *const f32,
    logits_len: usize,
    num_classes: usize,
    labels: *const i64,
    labels_len: usize,
    grad: *mut f32,
    grad_len: usize,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        torchblocks_softmax_loss_and_grad(
            params,
            logits,
            logits_len,
            num_classes,
            labels,
            labels_len,
            grad,
            grad_len,
            out_loss,
            err,
        )
    }
}

// ---------------------------------------------------------------------------------------
// Chunks: one call cut by the caller into chunks (its own threads, the second core of a
// microcontroller), with the single call's bits. Plans and partials are plain structs.

impl focal_sigmoid_plan {
    /// The Rust plan, after checking the parameters (their codes first): the plan of an empty
    /// call with these parameters, given this plan's divisor.
    fn chunks(&self) -> Result<SigmoidChunks, Fail> {
        let c = sigmoid_of(&self.params)?.chunks(0, Reduction::Sum)?;
        Ok(c.with_divisor(self.divisor))
    }
}

impl focal_softmax_plan {
    /// The Rust plan, after checking the parameters (their codes first) and the number of
    /// classes: the plan of a call of no rows with these, given this plan's divisor. And the
    /// range of its per-class alpha.
    ///
    /// # Safety
    /// Its `class_alpha` as [`alpha_of`] requires for `'a`.
    unsafe fn chunks<'a>(&self) -> Result<(SoftmaxChunks<'a>, Option<(usize, usize)>), Fail> {
        // SAFETY: by the caller.
        let (f, alpha) = unsafe { softmax_from(&self.params) }?;
        let no_rows: &[u8] = &[];
        let c = f.chunks(self.num_classes, no_rows, Reduction::Sum)?;
        Ok((c.with_divisor(self.divisor), alpha))
    }
}

/// A softmax plan argument as the Rust plan, and the range of its per-class alpha.
///
/// # Safety
/// As [`read_struct`], and its `class_alpha` as [`alpha_of`] requires for `'a`.
unsafe fn softmax_plan<'a>(
    p: *const focal_softmax_plan,
) -> Result<(SoftmaxChunks<'a>, Option<(usize, usize)>), Fail> {
    // SAFETY: by the caller.
    unsafe { read_struct(p, FOCAL_ARG_PLAN)?.chunks() }
}

/// [`Partial::join`]: the partial of both partials' chunks (exact, so in any order).
#[unsafe(no_mangle)]
pub extern "C" fn focal_partial_join(a: focal_partial, b: focal_partial) -> focal_partial {
    Partial::from(a).join(b.into()).into()
}

/// The reduced loss of a plan's joined partials, written to `*out_loss`.
///
/// # Safety
/// `out_loss` and `err` are NULL or writable.
unsafe fn chunks_finish<C>(
    plan: Result<C, Fail>,
    finish: fn(&C, Partial) -> f32,
    all: focal_partial,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        let c = plan?;
        let out = out_loss_ptr(out_loss)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, finish(&c, all.into())) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// [`SigmoidFocal::chunks`]: the plan of a call of `len` elements, written to `*out_plan`.
///
/// # Safety
/// As documented in `include/focal_loss.h`: `params` is readable, `out_plan` writable, `err`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_sigmoid_chunks(
    params: *const focal_sigmoid_params,
    len: usize,
    reduction: i32,
    normalizer: f32,
    out_plan: *mut focal_sigmoid_plan,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params`.
        let p = unsafe { read_params(params) }?;
        let f = sigmoid_of(&p)?;
        let r = reduction_of(reduction, normalizer)?;
        let out = required(out_plan, FOCAL_ARG_PLAN)?;
        let c = f.chunks(len, r)?;
        let plan = focal_sigmoid_plan {
            params: p,
            divisor: c.divisor(),
        };
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, plan) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// A sigmoid chunk function's plan, logits and targets, checked in the documented order.
///
/// # Safety
/// `plan` as [`read_struct`]; the logits and targets as [`input`] requires for `'a`.
unsafe fn sigmoid_chunk<'a>(
    plan: *const focal_sigmoid_plan,
    logits: *const f32,
    logits_len: usize,
    targets: *const f32,
    targets_len: usize,
) -> Result<(SigmoidChunks, &'a [f32], &'a [f32]), Fail> {
    // SAFETY: by the caller.
    let c = unsafe { read_struct(plan, FOCAL_ARG_PLAN) }?.chunks()?;
    // SAFETY: by the caller.
    let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
    // SAFETY: by the caller.
    let t = unsafe { input(targets, targets_len, FOCAL_ARG_TARGETS) }?;
    Ok((c, x, t))
}

/// [`SigmoidChunks::loss`]: the partial of a chunk, written to `*out_partial`.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_sigmoid_chunk_loss(
    plan: *const focal_sigmoid_plan,
    logits: *const f32,
    logits_len: usize,
    targets: *const f32,
    targets_len: usize,
    targets_checked: i32,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for the plan and the inputs.
        let (c, x, t) = unsafe { sigmoid_chunk(plan, logits, logits_len, targets, targets_len) }?;
        let out = required(out_partial, FOCAL_ARG_PARTIAL)?;
        let p = c.loss(x, targets_of(t, targets_checked)?)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, p.into()) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// [`SigmoidChunks::loss_and_grad`]: the partial of a chunk, and its part of the gradient of
/// the reduced loss.
///
/// # Safety
/// As documented in `include/focal_loss.h`; `grad` overlaps no input.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_sigmoid_chunk_loss_and_grad(
    plan: *const focal_sigmoid_plan,
    logits: *const f32,
    logits_len: usize,
    targets: *const f32,
    targets_len: usize,
    targets_checked: i32,
    grad: *mut f32,
    grad_len: usize,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for the plan and the inputs.
        let (c, x, t) = unsafe { sigmoid_chunk(plan, logits, logits_len, targets, targets_len) }?;
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &[range_of(x), range_of(t)]) }?;
        let out = required(out_partial, FOCAL_ARG_PARTIAL)?;
        let p = c.loss_and_grad(x, targets_of(t, targets_checked)?, g)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, p.into()) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// [`SigmoidChunks::grad`]: a chunk's part of the gradient of `upstream · reduced loss`.
///
/// # Safety
/// As documented in `include/focal_loss.h`; `grad` overlaps no input.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_sigmoid_chunk_grad(
    plan: *const focal_sigmoid_plan,
    logits: *const f32,
    logits_len: usize,
    targets: *const f32,
    targets_len: usize,
    targets_checked: i32,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for the plan and the inputs.
        let (c, x, t) = unsafe { sigmoid_chunk(plan, logits, logits_len, targets, targets_len) }?;
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &[range_of(x), range_of(t)]) }?;
        c.grad(x, targets_of(t, targets_checked)?, upstream, g)?;
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// [`SigmoidChunks::finish`]: the reduced loss of the whole call, from the join of all its
/// chunks' partials, written to `*out_loss`.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_sigmoid_chunks_finish(
    plan: *const focal_sigmoid_plan,
    all: focal_partial,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the caller's contract for `plan`.
    let c = unsafe { read_struct(plan, FOCAL_ARG_PLAN) }.and_then(|p| p.chunks());
    // SAFETY: the caller's contract for `out_loss` and `err`.
    unsafe { chunks_finish(c, SigmoidChunks::finish, all, out_loss, err) }
}

/// [`SoftmaxChunks::rows_per_chunk`]: every chunk but the last holds a multiple of this many
/// rows; 0 if `plan` is NULL or is not a valid plan: `num_classes` 0, or params that hold an
/// unknown code or an invalid `class_alpha` buffer.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_rows_per_chunk(plan: *const focal_softmax_plan) -> usize {
    // SAFETY: the caller's contract for `plan` and its `class_alpha`.
    unsafe { softmax_plan(plan) }.map_or(0, |(c, _)| c.rows_per_chunk())
}

/// [`SoftmaxChunks::finish`]: the reduced loss of the whole call, from the join of all its
/// chunks' partials, written to `*out_loss`.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunks_finish(
    plan: *const focal_softmax_plan,
    all: focal_partial,
    out_loss: *mut f32,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the caller's contract for `plan` and its `class_alpha`.
    let c = unsafe { softmax_plan(plan) }.map(|(c, _)| c);
    // SAFETY: the caller's contract for `out_loss` and `err`.
    unsafe { chunks_finish(c, SoftmaxChunks::finish, all, out_loss, err) }
}

/// # Safety
/// The contract of `focal_softmax_chunks_*` in `include/focal_loss.h`.
unsafe fn softmax_chunks<L: ClassIndex>(
    params: *const focal_softmax_params,
    num_classes: usize,
    labels: *const L,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_plan: *mut focal_softmax_plan,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for `params`.
        let p = unsafe { read_params(params) }?;
        // SAFETY: the caller's contract for its `class_alpha`.
        let (f, _) = unsafe { softmax_from(&p) }?;
        let r = reduction_of(reduction, normalizer)?;
        // SAFETY: the caller's contract for `labels`.
        let l = unsafe { input(labels, labels_len, FOCAL_ARG_LABELS) }?;
        let out = required(out_plan, FOCAL_ARG_PLAN)?;
        let c = f.chunks(num_classes, l, r)?;
        let plan = focal_softmax_plan {
            params: p,
            num_classes,
            divisor: c.divisor(),
        };
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, plan) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// A softmax chunk function's plan, logits and labels, and the ranges of its inputs (the
/// logits, the labels, the per-class alpha).
type SoftmaxChunk<'a, L> = (
    SoftmaxChunks<'a>,
    &'a [f32],
    &'a [L],
    [Option<(usize, usize)>; 3],
);

/// A softmax chunk function's [`SoftmaxChunk`], checked in the documented order.
///
/// # Safety
/// `plan` as [`softmax_plan`]; the logits and labels as [`input`] requires for `'a`.
unsafe fn softmax_chunk<'a, L>(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const L,
    labels_len: usize,
) -> Result<SoftmaxChunk<'a, L>, Fail> {
    // SAFETY: by the caller.
    let (c, a) = unsafe { softmax_plan(plan) }?;
    // SAFETY: by the caller.
    let x = unsafe { input(logits, logits_len, FOCAL_ARG_LOGITS) }?;
    // SAFETY: by the caller.
    let l = unsafe { input(labels, labels_len, FOCAL_ARG_LABELS) }?;
    Ok((c, x, l, [range_of(x), range_of(l), a]))
}

/// # Safety
/// The contract of `focal_softmax_chunk_loss_*` in `include/focal_loss.h`.
unsafe fn softmax_chunk_loss<L: ClassIndex>(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const L,
    labels_len: usize,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for the plan and the inputs.
        let (c, x, l, _) = unsafe { softmax_chunk(plan, logits, logits_len, labels, labels_len) }?;
        let out = required(out_partial, FOCAL_ARG_PARTIAL)?;
        let p = c.loss(x, l)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, p.into()) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// # Safety
/// The contract of `focal_softmax_chunk_loss_and_grad_*` in `include/focal_loss.h`.
unsafe fn softmax_chunk_loss_and_grad<L: ClassIndex>(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const L,
    labels_len: usize,
    grad: *mut f32,
    grad_len: usize,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for the plan and the inputs.
        let (c, x, l, ins) =
            unsafe { softmax_chunk(plan, logits, logits_len, labels, labels_len) }?;
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &ins) }?;
        let out = required(out_partial, FOCAL_ARG_PARTIAL)?;
        let p = c.loss_and_grad(x, l, g)?;
        // SAFETY: `out` is not NULL and the caller guarantees it is writable.
        unsafe { put(out, p.into()) };
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

/// # Safety
/// The contract of `focal_softmax_chunk_grad_*` in `include/focal_loss.h`.
unsafe fn softmax_chunk_grad<L: ClassIndex>(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const L,
    labels_len: usize,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    let run = || {
        // SAFETY: the caller's contract for the plan and the inputs.
        let (c, x, l, ins) =
            unsafe { softmax_chunk(plan, logits, logits_len, labels, labels_len) }?;
        // SAFETY: the caller's contract for `grad`; overlap with the inputs is checked.
        let g = unsafe { output(grad, grad_len, FOCAL_ARG_GRAD, &ins) }?;
        c.grad(x, l, upstream, g)?;
        Ok(())
    };
    // SAFETY: the caller's contract for `err`.
    unsafe { report(run(), err) }
}

// The exported per-label-width chunk functions: thin wrappers over the generic ones above.

/// [`SoftmaxFocal::chunks`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunks_u8(
    params: *const focal_softmax_params,
    num_classes: usize,
    labels: *const u8,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_plan: *mut focal_softmax_plan,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunks(
            params,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_plan,
            err,
        )
    }
}

/// [`SoftmaxFocal::chunks`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunks_u16(
    params: *const focal_softmax_params,
    num_classes: usize,
    labels: *const u16,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_plan: *mut focal_softmax_plan,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunks(
            params,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_plan,
            err,
        )
    }
}

/// [`SoftmaxFocal::chunks`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunks_i32(
    params: *const focal_softmax_params,
    num_classes: usize,
    labels: *const i32,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_plan: *mut focal_softmax_plan,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunks(
            params,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_plan,
            err,
        )
    }
}

/// [`SoftmaxFocal::chunks`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunks_i64(
    params: *const focal_softmax_params,
    num_classes: usize,
    labels: *const i64,
    labels_len: usize,
    reduction: i32,
    normalizer: f32,
    out_plan: *mut focal_softmax_plan,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunks(
            params,
            num_classes,
            labels,
            labels_len,
            reduction,
            normalizer,
            out_plan,
            err,
        )
    }
}

/// [`SoftmaxChunks::loss`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_loss_u8(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const u8,
    labels_len: usize,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_loss(
            plan,
            logits,
            logits_len,
            labels,
            labels_len,
            out_partial,
            err,
        )
    }
}

/// [`SoftmaxChunks::loss`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_loss_u16(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const u16,
    labels_len: usize,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_loss(
            plan,
            logits,
            logits_len,
            labels,
            labels_len,
            out_partial,
            err,
        )
    }
}

/// [`SoftmaxChunks::loss`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_loss_i32(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const i32,
    labels_len: usize,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_loss(
            plan,
            logits,
            logits_len,
            labels,
            labels_len,
            out_partial,
            err,
        )
    }
}

/// [`SoftmaxChunks::loss`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_loss_i64(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const i64,
    labels_len: usize,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_loss(
            plan,
            logits,
            logits_len,
            labels,
            labels_len,
            out_partial,
            err,
        )
    }
}

/// [`SoftmaxChunks::loss_and_grad`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_loss_and_grad_u8(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const u8,
    labels_len: usize,
    grad: *mut f32,
    grad_len: usize,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_loss_and_grad(
            plan,
            logits,
            logits_len,
            labels,
            labels_len,
            grad,
            grad_len,
            out_partial,
            err,
        )
    }
}

/// [`SoftmaxChunks::loss_and_grad`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_loss_and_grad_u16(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const u16,
    labels_len: usize,
    grad: *mut f32,
    grad_len: usize,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_loss_and_grad(
            plan,
            logits,
            logits_len,
            labels,
            labels_len,
            grad,
            grad_len,
            out_partial,
            err,
        )
    }
}

/// [`SoftmaxChunks::loss_and_grad`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_loss_and_grad_i32(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const i32,
    labels_len: usize,
    grad: *mut f32,
    grad_len: usize,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_loss_and_grad(
            plan,
            logits,
            logits_len,
            labels,
            labels_len,
            grad,
            grad_len,
            out_partial,
            err,
        )
    }
}

/// [`SoftmaxChunks::loss_and_grad`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_loss_and_grad_i64(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const i64,
    labels_len: usize,
    grad: *mut f32,
    grad_len: usize,
    out_partial: *mut focal_partial,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_loss_and_grad(
            plan,
            logits,
            logits_len,
            labels,
            labels_len,
            grad,
            grad_len,
            out_partial,
            err,
        )
    }
}

/// [`SoftmaxChunks::grad`] with `uint8_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_grad_u8(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const u8,
    labels_len: usize,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_grad(
            plan, logits, logits_len, labels, labels_len, upstream, grad, grad_len, err,
        )
    }
}

/// [`SoftmaxChunks::grad`] with `uint16_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_grad_u16(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const u16,
    labels_len: usize,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_grad(
            plan, logits, logits_len, labels, labels_len, upstream, grad, grad_len, err,
        )
    }
}

/// [`SoftmaxChunks::grad`] with `int32_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_grad_i32(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const i32,
    labels_len: usize,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_grad(
            plan, logits, logits_len, labels, labels_len, upstream, grad, grad_len, err,
        )
    }
}

/// [`SoftmaxChunks::grad`] with `int64_t` labels.
///
/// # Safety
/// As documented in `include/focal_loss.h`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_softmax_chunk_grad_i64(
    plan: *const focal_softmax_plan,
    logits: *const f32,
    logits_len: usize,
    labels: *const i64,
    labels_len: usize,
    upstream: f32,
    grad: *mut f32,
    grad_len: usize,
    err: *mut focal_error,
) -> i32 {
    // SAFETY: the same contract, forwarded.
    unsafe {
        softmax_chunk_grad(
            plan, logits, logits_len, labels, labels_len, upstream, grad, grad_len, err,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigmoid(p: focal_sigmoid_params) -> SigmoidFocal {
        sigmoid_of(&p).ok().unwrap()
    }

    fn softmax(p: focal_softmax_params) -> SoftmaxFocal<'static> {
        // SAFETY: a preset has no per-class alpha.
        unsafe { softmax_of(&p) }.ok().unwrap().0
    }

    #[test]
    fn presets_are_the_builders() {
        assert_eq!(
            sigmoid(focal_sigmoid_params_default()),
            SigmoidFocal::torchvision()
        );
        assert_eq!(
            sigmoid(focal_sigmoid_params_optax()),
            SigmoidFocal::fvcore()
        );
        assert_eq!(sigmoid(focal_sigmoid_params_optax()), SigmoidFocal::optax());
        assert_eq!(sigmoid(focal_sigmoid_params_optax()), SigmoidFocal::keras());
        assert_eq!(sigmoid(focal_sigmoid_params_mmcv()), SigmoidFocal::mmcv());
        assert_eq!(sigmoid(focal_sigmoid_params_mmcv()), SigmoidFocal::kornia());
        assert_eq!(softmax(focal_softmax_params_default()), SoftmaxFocal::new());
        assert_eq!(softmax(focal_softmax_params_mmcv()), SoftmaxFocal::mmcv());
        assert_eq!(softmax(focal_softmax_params_mmcv()), SoftmaxFocal::keras());
        assert_eq!(softmax(focal_softmax_params_torch()), SoftmaxFocal::torch());
        let b = binary_of(&focal_torchblocks_binary_params_default());
        assert_eq!(b, BinaryFocalLoss::default());
        // SAFETY: the preset has no per-class alpha.
        let (m, _) = unsafe { focal_loss_of(&focal_torchblocks_softmax_params_default()) }
            .ok()
            .unwrap();
        assert_eq!(m, FocalLoss::default());
    }

    #[test]
    fn partials_cross_the_boundary_unchanged() {
        assert_eq!(
            focal_partial::from(Partial::EMPTY),
            focal_partial::default()
        );
        let plan = SigmoidFocal::torchvision()
            .chunks(3, Reduction::Sum)
            .unwrap();
        // An infinite loss: the flags cross too.
        let (x, t) = ([2.0f32, -1.0, f32::INFINITY], [1.0f32, 0.0, 0.0]);
        for p in [plan.loss(&x[..2], &t[..2]), plan.loss(&x, &t)] {
            let p = p.unwrap();
            assert_eq!(Partial::from(focal_partial::from(p)), p);
        }
        // Flags that no partial has read as a NaN.
        let mut w = focal_partial::default();
        w.words[12] = 8;
        assert!(plan.finish(w.into()).is_nan());
    }

    #[test]
    fn a_call_and_an_error() {
        let p = focal_sigmoid_params_default();
        let (x, t) = ([2.0f32, -1.0, 0.5], [1.0f32, 0.0, 0.25]);
        let mut g = [7.0f32; 3];
        let mut loss = 7.0f32;
        let mut e = focal_error::with(99, 99);
        // SAFETY: every pointer is a live local of the length given.
        let s = unsafe {
            focal_sigmoid_loss_and_grad(
                &p,
                x.as_ptr(),
                3,
                t.as_ptr(),
                3,
                0,
                FOCAL_REDUCTION_MEAN,
                0.0,
                g.as_mut_ptr(),
                3,
                &mut loss,
                &mut e,
            )
        };
        assert_eq!((s, e), (FOCAL_OK, focal_error::OK));
        let mut want = [0.0f32; 3];
        let l = SigmoidFocal::torchvision()
            .loss_and_grad(&x, &t, Reduction::Mean, &mut want)
            .unwrap();
        assert_eq!(
            (loss.to_bits(), g.map(f32::to_bits)),
            (l.to_bits(), want.map(f32::to_bits))
        );

        let bad = [1.0f32, 0.0, 1.5];
        // SAFETY: as above; the gradient overlaps nothing.
        let s = unsafe {
            focal_sigmoid_loss_and_grad(
                &p,
                x.as_ptr(),
                3,
                bad.as_ptr(),
                3,
                0,
                FOCAL_REDUCTION_SUM,
                0.0,
                g.as_mut_ptr(),
                3,
                &mut loss,
                &mut e,
            )
        };
        assert_eq!((s, e.index, e.value), (FOCAL_TARGET_OUT_OF_RANGE, 2, 1.5));
        assert_eq!(loss.to_bits(), l.to_bits());
    }
}
