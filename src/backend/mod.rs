//! Which lanes run: the [`Backend`] enum, CPU detection cached once, and the single `match`
//! per operation that enters a kernel instantiated for one lane type.
//!
//! Each SIMD backend instantiates every kernel inside its own `#[target_feature]` entry
//! points (the kernels and the lane methods are `#[inline(always)]`, so the whole loop is
//! compiled for those features). An entry point is only called after [`Backend::is_available`]
//! said yes for it.

use core::sync::atomic::{AtomicU8, Ordering};

#[cfg(target_arch = "x86_64")]
mod detect;

use crate::exact::Exact;
#[cfg(any(focal_portable, target_arch = "x86_64"))]
use crate::kernel::channels_first;
use crate::kernel::{check, sigmoid, smoothing, softmax};
use crate::label::{Check, LabelCheck, Labels};
use crate::simd::Total;
#[cfg(any(focal_portable, target_arch = "x86_64"))]
use crate::split;

/// A family of lanes the kernels can run on.
///
/// All backends compute the same formulas with the same operation sequence; they differ in
/// lane count and in whether `a·b + c` is fused, so results agree to within the documented
/// bounds, and the `Scalar` backend is bit-for-bit reproducible on every target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// One `f32` at a time, no FMA: the reference, available everywhere (also no_std,
    /// Cortex-M).
    Scalar,
    /// 4 lanes through `wide`: SSE2 on x86_64, NEON on aarch64, simd128 on wasm32 (when
    /// compiled with `+simd128`). Not available on other targets.
    Portable,
    /// 8 lanes of AVX2 with FMA (x86_64, detected at run time).
    Avx2,
    /// 16 lanes of AVX-512F (x86_64, detected at run time).
    Avx512,
}

impl Backend {
    /// Every backend, slowest first.
    pub const ALL: [Backend; 4] = [
        Backend::Scalar,
        Backend::Portable,
        Backend::Avx2,
        Backend::Avx512,
    ];

    /// The fastest backend this CPU runs. Detected once (cpuid and xgetbv on x86_64, which
    /// also works without `std`), then cached. On other targets it is known at compile time
    /// (no cache: on a Cortex-M4F the cache's load, test and store were 8 instructions of
    /// every call).
    pub fn detect() -> Backend {
        if !cfg!(target_arch = "x86_64") {
            return if PORTABLE {
                Backend::Portable
            } else {
                Backend::Scalar
            };
        }
        static CACHE: AtomicU8 = AtomicU8::new(u8::MAX);
        let v = CACHE.load(Ordering::Relaxed);
        if let Some(b) = Backend::from_u8(v) {
            return b;
        }
        let b = Backend::ALL
            .into_iter()
            .rev()
            .find(|b| b.is_available())
            .unwrap_or(Backend::Scalar);
        CACHE.store(b as u8, Ordering::Relaxed);
        b
    }

    /// Whether this backend can run here.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Scalar => true,
            Backend::Portable => PORTABLE,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => x86_features() & AVX2 != 0,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => x86_features() & AVX512 != 0,
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// A short lower-case name (`"scalar"`, `"portable"`, `"avx2"`, `"avx512"`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Portable => "portable",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
        }
    }

    /// Number of `f32` lanes.
    pub fn lanes(self) -> usize {
        match self {
            Backend::Scalar => 1,
            Backend::Portable => 4,
            Backend::Avx2 => 8,
            Backend::Avx512 => 16,
        }
    }

    fn from_u8(v: u8) -> Option<Backend> {
        Backend::ALL.get(usize::from(v)).copied()
    }
}

#[cfg(target_arch = "x86_64")]
const AVX2: u8 = 1;
#[cfg(target_arch = "x86_64")]
const AVX512: u8 = 2;
/// Not a feature: the CPU is not an AMD one (see [`grad_rows_ahead`]).
#[cfg(target_arch = "x86_64")]
const GRAD_AHEAD: u8 = 4;

/// The x86_64 features, detected once: `cpuid` is slow (it traps to the hypervisor in a VM),
/// and forced-backend calls ask on every call.
#[cfg(target_arch = "x86_64")]
fn x86_features() -> u8 {
    const UNKNOWN: u8 = 0x80;
    static FEATURES: AtomicU8 = AtomicU8::new(UNKNOWN);
    let f = FEATURES.load(Ordering::Relaxed);
    if f != UNKNOWN {
        return f;
    }
    let found = detect::found();
    let f = if found.avx2_fma { AVX2 } else { 0 }
        | if found.avx512f { AVX512 } else { 0 }
        | if found.amd { 0 } else { GRAD_AHEAD };
    FEATURES.store(f, Ordering::Relaxed);
    f
}

/// Whether the row-major softmax kernels prefetch the gradient rows to come for writing
/// beside their logits, on this CPU: not on AMD's. On an Intel Xeon VM the prefetch took
/// the fused call at 209715 × 80 from 0.51 to 0.70 of the two-thread streaming floor; on an
/// AMD EPYC (Zen 4) VM the call without it took, out of cache (`docs/tools/ab`, 16 Mi
/// logits, fused AVX-512, the same bits), 0.85-0.89 of the time at 80 classes, 0.90-0.91 at
/// 10, 0.93-0.94 at 1000 and 0.96-0.99 at 32000 on one thread and on two, with AVX2 even
/// (0.95-1.03) and every call in cache even (`docs/performance.md`). The channels-first
/// kernel and the sigmoid keep their prefetches for writing on every CPU: on that Zen 4
/// without them the call took 1.10x the time (channels-first, 19 classes) and 1.03-1.06x
/// (the sigmoid at 16 Mi on two threads). Only x86_64 prefetches for writing at all.
#[inline]
pub(crate) fn grad_rows_ahead() -> bool {
    #[cfg(target_arch = "x86_64")]
    return x86_features() & GRAD_AHEAD != 0;
    #[cfg(not(target_arch = "x86_64"))]
    false
}

const PORTABLE: bool = cfg!(focal_portable);

/// A backend known to be available: only [`resolve`] makes one, so holding it is the proof
/// that its entry points may run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ready(Backend);

impl Ready {
    /// The scalar backend, available everywhere.
    pub(crate) const SCALAR: Ready = Ready(Backend::Scalar);
}

/// The backend a call runs on: the forced one if it is available, else the detected one.
pub(crate) fn resolve(forced: Option<Backend>) -> Option<Ready> {
    match forced {
        None => Some(Ready(Backend::detect())),
        Some(b) if b.is_available() => Some(Ready(b)),
        Some(_) => None,
    }
}

/// A value aligned to a 4 KiB page.
#[cfg(target_arch = "x86_64")]
#[repr(C, align(4096))]
struct PageAligned(u8);

/// Makes the calling function (an x86 SIMD entry point) align its stack frame to a 4 KiB
/// page, so that where its vector spill slots fall within a page no longer depends on the
/// caller's stack depth.
///
/// Why: the AVX2 sigmoid loop keeps about 2 KiB of vectors on the stack (16 registers are
/// too few for four vectors in lockstep) and reloads its constants from memory. At some page
/// offsets of the frame the loop ran at 0.39-0.55 G/s instead of 0.67 (half of the stack
/// positions tried, decided by the environment size of the process; most likely 4K
/// aliasing: a load is first matched against earlier stores by its low 12 address bits).
/// With the frame on a page boundary, every position measured 0.665-0.684. It costs up to
/// 4 KiB of stack per call and nothing measurable in time. The softmax entries showed no such
/// dependence and do not do it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn page_aligned_frame() {
    // A `let` (`&PageAligned(0)` would be promoted to a static) that escapes, so that it is
    // kept on the stack with its alignment.
    let mut slot = PageAligned(0);
    core::hint::black_box(&mut slot);
}

/// Calls `$f::<$($pre,)* G>` for the compile-time code `G = 2γ` of `$gamma`: `γ = 2` (every
/// preset's default) has its own instantiation; every other `γ`, 0 included, runs
/// [`sigmoid::GENERAL`], which finds `γ = 0` and the integers and half-integers up to 4.5 at
/// run time (the same operations, so the same bits, for one predictable branch) and takes
/// `exp(γ·ln u)` for the rest. `γ` = 0, 1, 3 and 4 had instantiations of their own until
/// they were measured: see docs/performance.md, "Build cost". The portable backend on x86_64
/// (SSE2, a fallback for CPUs without AVX2) has no `γ = 2` loops (`GAMMA_2`, set by
/// `entries!`): without the hard-target path, which it does not have there, they ran no
/// faster than the general ones, for a tenth of the `.text` (docs/performance.md, "Build
/// cost").
macro_rules! by_gamma {
    ($gamma:expr, $f:ident($($arg:expr),*)) => {
        by_gamma!($gamma, $f::<>($($arg),*))
    };
    ($gamma:expr, $f:ident::<$($pre:literal),*>($($arg:expr),*)) => {
        match $gamma {
            4 if GAMMA_2 => $f::<$($pre,)* 4>($($arg),*),
            _ => $f::<$($pre,)* { sigmoid::GENERAL }>($($arg),*),
        }
    };
}

/// [`by_gamma`] for the sigmoid, with the loop of the job's mode (`$f::<$b, M, G>`): one
/// for the modes without a gradient ([`sigmoid::LOSSES`]), one for those with a gradient
/// and no sum ([`sigmoid::GRADS`]), each reading its mode at run time, and one for the fused
/// call ([`sigmoid::SUM_GRAD`]).
macro_rules! by_mode {
    ($mode:expr, $gamma:expr, $f:ident::<$b:literal>($($arg:expr),*)) => {{
        const { assert!(sigmoid::SUM_GRAD == 4 && sigmoid::LOSSES == 5 && sigmoid::GRADS == 6) };
        match sigmoid::mode_id($mode) {
            sigmoid::SUM | sigmoid::LOSS => by_gamma!($gamma, $f::<$b, 5>($($arg),*)),
            sigmoid::SUM_GRAD => by_gamma!($gamma, $f::<$b, 4>($($arg),*)),
            _ => by_gamma!($gamma, $f::<$b, 6>($($arg),*)),
        }
    }};
}

/// The entry points of one SIMD backend: each kernel instantiated for its lanes, compiled with
/// its target features. One `#[target_feature]` function per form, loop and compile-time
/// gamma keeps each function (and its stack frame in unoptimised builds) small. Which
/// specialisations there are, and what each costs and gains, is measured in
/// docs/performance.md, "Build cost": the sigmoid has three loops for its five modes, each at
/// `γ` 2 and general; the softmax compiles `γ` in only
/// for rows of at most 16 classes (one lane per row, where the per-row work is a large
/// share) and channels-first; longer rows and label smoothing read it at run time.
///
/// `$gamma_2`: whether `γ = 2` has loops of its own (`by_gamma`); `$feat`: the target features
/// (`avx2`, `avx512` or `none`, see [`with_features`](crate::simd::with_features)).
macro_rules! entries {
    // The sigmoid entries of the x86_64 backends put their frame on a page boundary
    // (`page_aligned_frame`); the portable ones do not.
    (@frame none) => {};
    (@frame $feat:ident) => {
        page_aligned_frame()
    };
    ($m:ident, $lanes:ty, $gamma_2:expr, $feat:ident) => {
        mod $m {
            use super::*;

            /// Whether `γ = 2` has loops of its own (see `by_gamma`).
            const GAMMA_2: bool = $gamma_2;

            crate::simd::with_features! { $feat;
                /// # Safety
                /// The backend's features are present; `sigmoid::run`'s contract holds.
                unsafe fn sigmoid_g<const B: bool, const M: u8, const G: u32>(
                    job: &sigmoid::Job,
                    p: &sigmoid::Params,
                ) -> Total {
                    entries!(@frame $feat);
                    // SAFETY: forwarded; `M` is the loop of the job's mode (`by_mode`).
                    unsafe { sigmoid::run::<$lanes, B, M, G>(job, p) }
                }
            }

            /// # Safety
            /// The backend's features are present; `sigmoid::run`'s contract holds.
            pub(super) unsafe fn sigmoid(job: &sigmoid::Job, p: &sigmoid::Params) -> Total {
                // SAFETY: forwarded.
                unsafe {
                    if p.per_term {
                        by_mode!(job.mode, p.code, sigmoid_g::<true>(job, p))
                    } else {
                        by_mode!(job.mode, p.code, sigmoid_g::<false>(job, p))
                    }
                }
            }

            crate::simd::with_features! { $feat;
                /// # Safety
                /// The backend's features are present; `softmax::run_short`'s contract holds.
                ///
                /// Out of line, as the entries with target features are anyway: the portable
                /// backend's, inlined into `softmax` by a change elsewhere, made its fused call
                /// 1.2-1.28x slower at 4 and 10 classes (so `softmax_rows` and `softmax_cf_g`
                /// too).
                #[inline(never)]
                unsafe fn softmax_short_g<const G: u32>(job: &softmax::Job<'_>) -> Total {
                    // SAFETY: forwarded.
                    unsafe { softmax::run_short::<$lanes, G>(job) }
                }
            }

            crate::simd::with_features! { $feat;
                /// # Safety
                /// The backend's features are present; `softmax::run_rows`'s contract holds.
                #[inline(never)]
                unsafe fn softmax_rows(job: &softmax::Job<'_>) -> Total {
                    // SAFETY: forwarded.
                    unsafe { softmax::run_rows::<$lanes>(job) }
                }
            }

            /// # Safety
            /// The backend's features are present; `softmax::run_rows`'s contract holds.
            pub(super) unsafe fn softmax(job: &softmax::Job<'_>) -> Total {
                // SAFETY: forwarded; short rows are `run_short`'s condition.
                unsafe {
                    if softmax::short::<$lanes>(job) {
                        by_gamma!(job.code, softmax_short_g(job))
                    } else {
                        softmax_rows(job)
                    }
                }
            }

            crate::simd::with_features! { $feat;
                /// # Safety
                /// The backend's features are present; `channels_first::run`'s contract holds.
                #[inline(never)]
                unsafe fn softmax_cf_g<const G: u32>(job: &softmax::Job<'_>) -> Total {
                    // SAFETY: forwarded.
                    // A lockstep group of vectors per block: more positions per visit of each
                    // class's page (C pages `S` floats apart).
                    unsafe {
                        channels_first::run::<<$lanes as crate::simd::Lanes>::Wide, _>(
                            job,
                            sigmoid::Fixed::<G>,
                        )
                    }
                }
            }

            /// # Safety
            /// The backend's features are present; `channels_first::run`'s contract holds.
            /// `γ` compiled in: read at run time, AVX-512 at (16, 80, 4096) ran 1.2x slower.
            pub(super) unsafe fn softmax_cf(job: &softmax::Job<'_>) -> Total {
                // SAFETY: forwarded.
                unsafe { by_gamma!(job.code, softmax_cf_g(job)) }
            }

            crate::simd::with_features! { $feat;
                /// # Safety
                /// The backend's features are present.
                /// Label smoothing: one instantiation, `γ` read at run time (a rarer path, kept
                /// out of the build cost of the per-`γ` ones).
                pub(super) unsafe fn softmax_smoothed(job: &softmax::Job<'_>, eps: f32) -> Total {
                    let g = sigmoid::Runtime(job.code);
                    // SAFETY: forwarded.
                    unsafe { smoothing::run::<$lanes, _>(job, g, eps) }
                }
            }

            crate::simd::with_features! { $feat;
                pub(super) unsafe fn first_outside_unit(v: &[f32]) -> Option<usize> {
                    check::first_outside_unit::<$lanes>(v)
                }
            }
        }
    };
}

/// The scalar backend's entry points: one loop per kernel for every form, `γ`, mode and label
/// type (each read at run time), not one per combination as the SIMD backends have. It is
/// what microcontrollers run, where that is the right trade: a fifth to a tenth of the flash,
/// and branches the core predicts. The results are the bits the specialised loops give.
mod scalar {
    use super::*;
    use crate::simd::Scalar;

    /// # Safety
    /// `sigmoid::run`'s contract holds.
    /// Inlined into the callers, which know their mode, so that a program links only the
    /// loops of the modes it calls.
    #[inline(always)]
    pub(super) unsafe fn sigmoid(job: &sigmoid::Job, p: &sigmoid::Params) -> Total {
        use sigmoid::{ANY_MODE, GRAD_UP, LOSS, ONE_LOOP, SUM, SUM_GRAD, run_scalar};
        // SAFETY: forwarded; each arm runs the loop of the job's mode (the SUM_GRAD loop
        // also serves GRAD, whose sum is not used, and the LOSS loop SUM, which has no
        // output): three loops for five modes, each a few KB on a microcontroller; one
        // loop for all of them without an FPU.
        unsafe {
            if ONE_LOOP {
                return run_scalar::<ANY_MODE>(job, p);
            }
            match sigmoid::mode_id(job.mode) {
                SUM | LOSS => run_scalar::<LOSS>(job, p),
                GRAD_UP => run_scalar::<GRAD_UP>(job, p),
                _ => run_scalar::<SUM_GRAD>(job, p),
            }
        }
    }

    /// # Safety
    /// `softmax::run`'s contract holds.
    #[inline(always)]
    pub(super) unsafe fn softmax(job: &softmax::Job<'_>) -> Total {
        // SAFETY: forwarded.
        unsafe { softmax::run_scalar(job) }
    }

    /// # Safety
    /// `channels_first::run`'s contract holds.
    #[inline(always)]
    pub(super) unsafe fn softmax_cf(job: &softmax::Job<'_>) -> Total {
        // SAFETY: forwarded.
        unsafe { softmax::run_scalar_cf(job) }
    }

    /// # Safety
    /// `smoothing::run`'s contract holds.
    /// (The loop is out of line: one copy for both layouts, every `γ`, mode and label type.)
    #[inline(always)]
    pub(super) unsafe fn softmax_smoothed(job: &softmax::Job<'_>, eps: f32) -> Total {
        // SAFETY: forwarded.
        unsafe { smoothing::run_scalar(job, eps) }
    }

    #[inline(always)]
    pub(super) unsafe fn first_outside_unit(v: &[f32]) -> Option<usize> {
        check::first_outside_unit::<Scalar>(v)
    }
}
#[cfg(focal_portable)]
entries!(
    portable,
    crate::simd::Portable,
    cfg!(not(target_arch = "x86_64")),
    none
);
#[cfg(target_arch = "x86_64")]
entries!(avx2, crate::simd::Avx2, true, avx2);
#[cfg(target_arch = "x86_64")]
entries!(avx512, crate::simd::Avx512, true, avx512);

/// Calls backend `$b`'s entry `$f`. `$b` is a [`Ready`], so the backend is available. With
/// `else $none`, the scalar backend's arm is `$none` instead (for callers that ran the scalar
/// backend already, which never reach it).
macro_rules! dispatch {
    ($b:expr, $f:ident ( $($arg:expr),* )) => {
        dispatch!($b, $f($($arg),*) else scalar::$f($($arg),*))
    };
    ($b:expr, $f:ident ( $($arg:expr),* ) else $none:expr) => {
        match $b.0 {
            #[cfg(focal_portable)]
            Backend::Portable => portable::$f($($arg),*),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => avx2::$f($($arg),*),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => avx512::$f($($arg),*),
            _ => $none,
        }
    };
}

/// [`dispatch`] to a SIMD backend's entry, for the callers that ran the scalar backend
/// already (its arm gives NaN, which no caller reaches).
#[cfg(any(focal_portable, target_arch = "x86_64"))]
macro_rules! simd {
    ($b:expr, $f:ident ( $($arg:expr),* )) => {
        dispatch!($b, $f($($arg),*) else Total::from_f32(f32::NAN))
    };
}

/// Whether backend `b` runs a job as fixed blocks (`split`): the SIMD backends do, each block
/// one call of the entry point and the blocks' totals summed exactly, perhaps on several
/// threads. The scalar backend runs a call in one pass, inlined into its caller: what a
/// microcontroller runs, where a frame of its own for the kernel and the exact accumulator
/// cost 136 more bytes of stack and 40 to 96 more instructions per short call on a
/// Cortex-M4F (docs/design.md, "Blocks, exact sums, threads").
#[inline(always)]
fn blocked(b: Ready) -> bool {
    cfg!(any(focal_portable, target_arch = "x86_64")) && b.0 != Backend::Scalar
}

/// `Exact` of a scalar-backend total (the chunk API's partial of a scalar call). Out of
/// line: its 52-byte accumulator and the calls that fill it then take stack only after the
/// kernel has returned; inlined, they sat in the frame of `run_*_exact` under the kernel's
/// (the chunk API 64-72 bytes deeper on a Cortex-M4F).
#[inline(never)]
fn exact_of(t: Total) -> Exact {
    let mut e = Exact::ZERO;
    e.add_total(t);
    e
}

/// The blocks of a sigmoid job on SIMD backend `b`, for `split`.
///
/// # Safety
/// `sigmoid::run`'s contract holds for the whole job; `b` is not the scalar backend.
#[cfg(any(focal_portable, target_arch = "x86_64"))]
unsafe fn sigmoid_blocks<'j>(
    b: Ready,
    job: &'j sigmoid::Job,
    p: &'j sigmoid::Params,
) -> impl Fn(usize, usize) -> Total + Sync + 'j {
    // SAFETY: each block is a part of the job, run once, so the contract holds for it;
    // `b` is a `Ready`, so its features are present.
    move |first, n| unsafe { simd!(b, sigmoid(&job.part(first, n), p)) }
}

/// Runs the sigmoid kernel on backend `b`.
///
/// # Safety
/// `sigmoid::run`'s contract holds.
#[inline(always)]
pub(crate) unsafe fn run_sigmoid(b: Ready, job: &sigmoid::Job, p: &sigmoid::Params) -> Total {
    if blocked(b) {
        // Only targets with SIMD backends have this path (`blocked` is false elsewhere).
        #[cfg(any(focal_portable, target_arch = "x86_64"))]
        {
            // SAFETY: forwarded; not the scalar backend.
            let blocks = unsafe { sigmoid_blocks(b, job, p) };
            return split::sum(job.n, split::BLOCK, &blocks);
        }
    }
    // SAFETY: forwarded.
    unsafe { scalar::sigmoid(job, p) }
}

/// [`run_sigmoid`]'s exact sum (the chunk API).
///
/// # Safety
/// `sigmoid::run`'s contract holds.
pub(crate) unsafe fn run_sigmoid_exact(b: Ready, job: &sigmoid::Job, p: &sigmoid::Params) -> Exact {
    if blocked(b) {
        // Only targets with SIMD backends have this path (`blocked` is false elsewhere).
        #[cfg(any(focal_portable, target_arch = "x86_64"))]
        {
            // SAFETY: forwarded; not the scalar backend.
            let blocks = unsafe { sigmoid_blocks(b, job, p) };
            return split::exact(job.n, split::BLOCK, &blocks);
        }
    }
    // SAFETY: forwarded.
    exact_of(unsafe { scalar::sigmoid(job, p) })
}

/// Which softmax kernel a job runs.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum SoftmaxKernel {
    /// Row-major `[rows × C]`.
    RowMajor,
    /// Channels-first `[N, C, S]`.
    ChannelsFirst,
    /// Label smoothing `ε > 0`, either layout (`spatial > 1`: channels-first).
    Smoothed(f32),
}

/// How a softmax job is cut into blocks: `(items, per_block)` for `split`, and for a
/// channels-first job whose images are larger than a block, `(blocks per image, positions
/// per block)`; its items are then the blocks themselves, each a part of one image.
#[cfg(any(focal_portable, target_arch = "x86_64"))]
#[derive(Clone, Copy)]
struct Plan {
    items: usize,
    per_block: usize,
    image_split: Option<(usize, usize)>,
}

/// The [`Plan`] of `job` for kernel `k`: a function of the shape only.
#[cfg(any(focal_portable, target_arch = "x86_64"))]
fn softmax_plan(job: &softmax::Job<'_>, k: SoftmaxKernel) -> Plan {
    let cf = split::image_blocks(
        k == SoftmaxKernel::ChannelsFirst,
        matches!(k, SoftmaxKernel::Smoothed(_)),
        job.spatial,
    );
    // Label smoothing keeps whole images (its kernel has no parts of images).
    let image_split = if k == SoftmaxKernel::ChannelsFirst {
        job.image_split()
    } else {
        None
    };
    match image_split {
        Some((per_image, _)) => Plan {
            items: (job.rows() / job.spatial.max(1)).saturating_mul(per_image),
            per_block: 1,
            image_split,
        },
        None => Plan {
            items: job.rows(),
            per_block: job.rows_per_block(cf),
            image_split,
        },
    }
}

/// The blocks of a softmax job on SIMD backend `b`, for `split` with `plan`.
///
/// # Safety
/// The kernel's contract holds for the whole job; `b` is not the scalar backend.
#[cfg(any(focal_portable, target_arch = "x86_64"))]
unsafe fn softmax_blocks<'j>(
    b: Ready,
    job: &'j softmax::Job<'j>,
    k: SoftmaxKernel,
    plan: Plan,
) -> impl Fn(usize, usize) -> Total + Sync + 'j {
    move |first, n| {
        let part = match plan.image_split {
            // Block `first` (n = 1): positions of one image. (`split::sum` and
            // `split::exact` ask only for blocks that exist: never n = 0.)
            Some((per_image, per)) => {
                debug_assert!(n == 1 && first < plan.items);
                // (`max(1)`: at least one block per image, which the compiler then sees.)
                let per_image = per_image.max(1);
                let s0 = (first % per_image) * per;
                let m = per.min(job.spatial.saturating_sub(s0));
                job.part_of_image(first / per_image, s0, m)
            }
            None => job.part(first, n),
        };
        // SAFETY: each block is whole rows (channels-first: whole images, or positions of one
        // image) of the job, run once, so the contract holds for it; `b` is a `Ready`, so
        // its features are present.
        unsafe {
            match k {
                SoftmaxKernel::RowMajor => simd!(b, softmax(&part)),
                SoftmaxKernel::ChannelsFirst => simd!(b, softmax_cf(&part)),
                SoftmaxKernel::Smoothed(eps) => simd!(b, softmax_smoothed(&part, eps)),
            }
        }
    }
}

/// Runs softmax kernel `k` on backend `b`, blocked on the SIMD backends.
///
/// # Safety
/// The kernel's contract holds.
#[inline(always)]
unsafe fn run_softmax_kernel(b: Ready, job: &softmax::Job<'_>, k: SoftmaxKernel) -> Total {
    if blocked(b) {
        // Only targets with SIMD backends have this path (`blocked` is false elsewhere).
        #[cfg(any(focal_portable, target_arch = "x86_64"))]
        {
            let plan = softmax_plan(job, k);
            // SAFETY: forwarded; not the scalar backend.
            let blocks = unsafe { softmax_blocks(b, job, k, plan) };
            return split::sum(plan.items, plan.per_block, &blocks);
        }
    }
    // SAFETY: forwarded.
    unsafe {
        match k {
            SoftmaxKernel::RowMajor => scalar::softmax(job),
            SoftmaxKernel::ChannelsFirst => scalar::softmax_cf(job),
            SoftmaxKernel::Smoothed(eps) => scalar::softmax_smoothed(job, eps),
        }
    }
}

/// Runs the softmax kernel on backend `b`.
///
/// # Safety
/// `softmax::run`'s contract holds.
pub(crate) unsafe fn run_softmax(b: Ready, job: &softmax::Job<'_>) -> Total {
    // SAFETY: forwarded.
    unsafe { run_softmax_kernel(b, job, SoftmaxKernel::RowMajor) }
}

/// Runs the channels-first softmax kernel on backend `b`.
///
/// # Safety
/// `channels_first::run`'s contract holds.
pub(crate) unsafe fn run_softmax_cf(b: Ready, job: &softmax::Job<'_>) -> Total {
    // SAFETY: forwarded.
    unsafe { run_softmax_kernel(b, job, SoftmaxKernel::ChannelsFirst) }
}

/// Runs a softmax job with label smoothing `ε > 0`, either layout.
///
/// # Safety
/// As for the softmax kernels (see `kernel::smoothing::run`).
pub(crate) unsafe fn run_softmax_smoothed(b: Ready, job: &softmax::Job<'_>, eps: f32) -> Total {
    // SAFETY: forwarded.
    unsafe { run_softmax_kernel(b, job, SoftmaxKernel::Smoothed(eps)) }
}

/// The exact sum of a softmax job (label smoothing `eps`, 0 for none; channels-first if
/// `cf`): the chunk API.
///
/// # Safety
/// As for the softmax kernels.
pub(crate) unsafe fn run_softmax_exact(
    b: Ready,
    job: &softmax::Job<'_>,
    eps: f32,
    cf: bool,
) -> Exact {
    let k = if eps > 0.0 {
        SoftmaxKernel::Smoothed(eps)
    } else if cf {
        SoftmaxKernel::ChannelsFirst
    } else {
        SoftmaxKernel::RowMajor
    };
    if blocked(b) {
        // Only targets with SIMD backends have this path (`blocked` is false elsewhere).
        #[cfg(any(focal_portable, target_arch = "x86_64"))]
        {
            let plan = softmax_plan(job, k);
            // SAFETY: forwarded; not the scalar backend.
            let blocks = unsafe { softmax_blocks(b, job, k, plan) };
            return split::exact(plan.items, plan.per_block, &blocks);
        }
    }
    // SAFETY: forwarded.
    exact_of(unsafe { run_softmax_kernel(b, job, k) })
}

/// `labels` checked against `check` on backend `b`: the number of rows not ignored, or the
/// first bad label. (The loop vectorises; with the backend's features it takes a fraction of
/// the baseline's time with wide labels, which SSE2 compares two at a time.)
#[inline(always)]
pub(crate) fn check_labels(b: Ready, labels: Labels<'_>, check: Check) -> LabelCheck {
    #[cfg(target_arch = "x86_64")]
    crate::simd::with_features! { avx2;
        /// The loop with the AVX2 entries' features (`entries!`).
        fn avx2(labels: Labels<'_>, check: Check) -> LabelCheck {
            labels.visit(check)
        }
    }
    #[cfg(target_arch = "x86_64")]
    crate::simd::with_features! { avx512;
        /// The loop with the AVX-512 entries' features.
        fn avx512(labels: Labels<'_>, check: Check) -> LabelCheck {
            labels.visit(check)
        }
    }
    // The portable backend has no features beyond the baseline's: the scalar backend's copy
    // is its loop too.
    match b.0 {
        // SAFETY: `b` is a `Ready`, so its features are present.
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 => unsafe { avx2(labels, check) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Backend::Avx512 => unsafe { avx512(labels, check) },
        _ => labels.visit(check),
    }
}

/// The first value of `v` that is NaN or outside `[0, 1]`, checked on backend `b`.
pub(crate) fn first_outside_unit(b: Ready, v: &[f32]) -> Option<usize> {
    // SAFETY: `b` is a `Ready`, so its features are present.
    unsafe { dispatch!(b, first_outside_unit(v)) }
}
