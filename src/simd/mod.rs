//! The lane trait and its implementations.
//!
//! Every kernel and every math function in this crate is written once, generic over
//! [`Lanes`]. A lane type is a fixed-width vector of `f32` with the handful of operations the
//! kernels need; its methods are `#[inline(always)]` and carry no `#[target_feature]`, so they
//! inline into whichever `#[target_feature]` entry point instantiates a kernel (the pattern of
//! memchr's `Vector` trait).
//!
//! Conventions every implementation follows (the math and the kernels rely on them):
//! * `mul_add(a, b, c)` is `a·b + c`. SIMD lanes with FMA fuse it; [`Scalar`] rounds twice so
//!   that it is bit-for-bit reproducible on every target (Rust never contracts `a*b+c`).
//! * `min`/`max` return the second operand when either is NaN (the x86 `minps`/`maxps`
//!   rule). Kernels that must propagate NaN never rely on `min`/`max` to do it.
//! * Comparisons are IEEE ordered comparisons: false when either side is NaN.
//! * The accumulator [`Lanes::Acc`] holds one `f64` per lane on the SIMD backends (adding to
//!   it converts exactly) and a float-float [`Total`] on [`Scalar`], which must not need `f64`
//!   on a microcontroller.

/// The target features of the x86_64 SIMD backends' code, named once: `with_features!(avx2;
/// items)` puts `#[target_feature(enable = "avx2,fma,popcnt")]` on each item, `avx512` those
/// of AVX-512, and `none` (the portable backend, whose instructions `wide` chooses when it is
/// compiled) nothing. The entry points (`backend::entries!`), the out-of-line code that must
/// inline the same lane methods ([`Lanes::outline`], the `pow_rescue` copies, the label
/// check) and the tests that compare a backend's lanes with the scalar ones all take them
/// from here, so that no copy compiles the lanes with other features than the entry points
/// do. [`Backend::is_available`](crate::Backend::is_available) detects them
/// (`backend/detect.rs`).
macro_rules! with_features {
    (avx2; $($item:item)*) => { $(#[target_feature(enable = "avx2,fma,popcnt")] $item)* };
    (avx512; $($item:item)*) => { $(#[target_feature(enable = "avx512f,popcnt")] $item)* };
    (none; $($item:item)*) => { $($item)* };
}
// Only targets with a SIMD backend use it (a microcontroller build would warn).
#[cfg(any(focal_portable, target_arch = "x86_64"))]
pub(crate) use with_features;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
// Lockstep groups: only the SIMD backends have them, and every SIMD target has `Portable`.
#[cfg(focal_portable)]
pub(crate) mod pair;
#[cfg(focal_portable)]
pub(crate) mod portable;
pub(crate) mod scalar;
// Only the SIMD backends' tests use it, and every SIMD target has the portable backend.
#[cfg(all(test, focal_portable))]
pub(crate) mod testing;

pub(crate) use crate::total::Total;
#[cfg(target_arch = "x86_64")]
pub(crate) use avx2::Avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) use avx512::Avx512;
#[cfg(focal_portable)]
pub(crate) use pair::Pair;
#[cfg(focal_portable)]
pub(crate) use portable::Portable;
pub(crate) use scalar::Scalar;

/// Scalar work run out of line by [`Lanes::outline`] (gathering labels, say): written once,
/// compiled per backend.
pub(crate) trait Outline {
    /// What the work gives.
    type Out;
    /// The work, inlined into its caller (`#[inline(always)]` in every implementation).
    fn run(self) -> Self::Out;
    /// [`run`](Outline::run) in one out-of-line copy for the baseline target
    /// (`#[inline(never)]` in every implementation).
    fn run_baseline(self) -> Self::Out;
}

/// The widest lane count of any implementation: tail buffers are this long.
pub(crate) const MAX_LANES: usize = 16;

/// The longest rows [`Lanes::load_columns`] and [`Lanes::store_columns`] take.
pub(crate) const MAX_COLUMNS: usize = 16;

/// The widest [`Lanes::Wide`] group (four AVX-512 vectors).
pub(crate) const MAX_WIDE: usize = 64;

/// A vector of `Self::N` lanes of `f32`.
pub(crate) trait Lanes: Copy {
    /// Number of `f32` lanes.
    const N: usize;
    /// A per-lane boolean.
    type Mask: Copy;
    /// One `f64` per lane (SIMD) or a [`Total`] ([`Scalar`]), for sums that must not lose
    /// precision.
    type Acc: Copy;
    /// The group of vectors the elementwise loops evaluate in lockstep: [`Pair`]s of `Self`
    /// (or `Self` where grouping gains nothing), sized per backend by measurement. Wider
    /// groups give the out-of-order core more independent work until their live values
    /// spill out of the register file.
    type Wide: Lanes;
    /// `ldexp` is one instruction (AVX-512 `vscalefps`): nothing to gain from a cheaper
    /// special case.
    const SCALEF: bool = false;
    /// [`umax_bits`](Lanes::umax_bits) is one instruction.
    const UMAX_BITS: bool = false;
    /// The softmax kernels that hold rows one per lane (at most 16 classes, channels-first)
    /// test each group's span and run their `exp` pass without the guards a group that is
    /// not normal needs (`kernel::softmax::lane_span`), at the cost of a second copy of that
    /// pass. AVX2 (Zen 3, `docs/tools/ab`): 0.86-0.91 of the fused call's time
    /// channels-first and 0.84-0.93 at 10 classes, where the `and` of `add_where` alone gave
    /// 0.95-0.97 and 1.00. AVX-512 (Intel Xeon VM, 2026-12-07, four runs): 0.90-0.95 at 4
    /// classes, even at 10 and channels-first (0.97-1.03), for 4.9 KB of `.text`. The
    /// portable backend keeps one copy: on SSE2 it measured 1.04-1.06x slower at 4 and 10
    /// classes, and the copies are `.text` on every build.
    const LANE_SPAN: bool = false;
    /// The sigmoid loop has its short path for hard targets (a loop of its own, about 2.6 KB
    /// per form and mode): everywhere but the portable backend on x86_64, a fallback for
    /// CPUs without AVX2 that is left its general path to keep the build small.
    const HARD_PATH: bool = true;
    /// That short path is software-pipelined (`kernel::sigmoid::hard_run`): each turn
    /// computes the next group's `exp(-|x|)` beside the rest of this group's evaluation
    /// (`log1p`, the reciprocal, the loss and gradient), so that the dependent chains of
    /// neighbouring groups overlap. The same operations for every element: the same bits.
    /// AVX2 (Zen 3 VM, `docs/tools/ab`, fused, 64 Ki, 1 % positives): 0.86-0.87 of the
    /// call's time. The first group's `exp` is a second copy in each form and mode (about
    /// 400 B of `.text` each). AVX-512 keeps the plain loop: 0.96-1.02 there (Intel Xeon
    /// VM, 2026-12-07, three runs), for 2.6 KB.
    const PIPELINED_HARD: bool = false;
    /// The softmax's exponential pass over rows of more than 16 classes
    /// (`kernel::softmax::row_sums`) takes the `exp`'s constants as opaque values, held
    /// once a call ([`math::ExpK::held`](crate::math::ExpK::held)), rather than as
    /// constants: AVX2, whose sixteen registers do not hold them beside the loop's pending
    /// vectors and which has no FMA with a broadcast operand, then reads them from its stack
    /// frame (mostly as FMA operands) instead of a broadcast before each use (about 36
    /// instructions a vector against 47). Zen 3 VM, `docs/tools/ab`, the same bits: held
    /// once a row, 0.86-0.89 of the fused call's time at 1000 and 32000 classes and
    /// 0.97-1.03 at 80; once a call, 0.89-0.94 of that at 80 and even at 1000 and 32000.
    /// Made opaque crudely for every `exp` instead, the sigmoid at γ = 2.5 measured 1.047x
    /// slower. AVX-512, with its 32 registers and broadcast operands, measured even
    /// (0.98-1.01 at 80, 1000 and 32000 classes; Intel Xeon VM, 2026-12-07).
    const HOLD_EXP: bool = false;
    /// The softmax over rows of at most 16 classes moves a group's rows into columns and
    /// back (`kernel::softmax::columns`) in a loop over the group's vectors, one copy of
    /// this type's [`load_columns`](Lanes::load_columns) and
    /// [`store_columns`](Lanes::store_columns), rather than through the group's own
    /// methods, which inline one copy per vector. AVX2 (Zen 3 VM, `docs/tools/ab`, four
    /// runs, the same bits): 0.71-0.85 of the fused call's time at 4 classes and 0.85-0.92
    /// at 10 (with its transposes by blocks of 4 for the last columns), and the library's
    /// `.text` 899 804 → 887 271 B. The portable backend on SSE2 measured 1.03-1.10x slower
    /// with it; AVX-512 keeps its four copies: with the loop 1.03-1.08x slower at 4
    /// classes and even at 10 (Intel Xeon VM, 2026-12-07, three runs), for 27.5 KB less
    /// `.text`.
    const COLUMN_LOOP: bool = false;
    /// Masks live in mask registers (AVX-512's eight `k` registers), not in vectors: code
    /// that would keep many of them live may compute one again where it is used instead.
    const MASK_REGS: bool = false;
    /// A lockstep group of vectors ([`Pair`]), not one vector.
    const GROUP: bool = false;
    /// Loops that count set mask lanes over many vectors keep [`tally`](Lanes::tally)
    /// counters rather than adding up [`count`](Lanes::count)s: on the portable lanes,
    /// where `count` is a bit-counting sequence (x86_64's baseline has no `popcnt`, NEON no
    /// `movmskps`; measured on x86_64: 1.05-1.07x the softmax call at 1000 classes and
    /// more). AVX2 too since its exponential pass runs in pairs (`vpsubd` against
    /// `vmovmskps`, `popcnt` and an `add`: 0.90-0.95 of the fused call's time at 80, 1000
    /// and 32000 classes on a Zen 3 VM, where it had measured even in the loop before);
    /// AVX-512 measured 0.98x at 80 classes (the tally's final reduction against a `kmovw`
    /// and a `popcnt` per vector); one lane counts in a register.
    const TALLY: bool = false;

    /// Loads `Self::N` values.
    ///
    /// # Safety
    /// `p` must be valid for reading `Self::N` consecutive `f32`, and aligned for `f32` (not
    /// for the vector: the SIMD lanes load unaligned).
    unsafe fn load(p: *const f32) -> Self;
    /// Loads the first `n` values from `p` (`n <= Self::N`); the other lanes hold `pad`.
    /// AVX-512 and AVX2 use masked loads, which never touch the memory of masked lanes; the
    /// default goes through a stack buffer.
    ///
    /// # Safety
    /// `p` must be valid for reading `n` consecutive `f32`, and `n <= Self::N`.
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize, pad: f32) -> Self {
        // SAFETY: forwarded (stride 1).
        unsafe { load_buffered(p, 1, n, pad) }
    }
    /// Stores the first `n` lanes to `p` (`n <= Self::N`), leaving the memory after them
    /// alone (masked stores on AVX-512 and AVX2, a stack buffer by default).
    ///
    /// # Safety
    /// `p` must be valid for writing `n` consecutive `f32`, and `n <= Self::N`.
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        // SAFETY: forwarded (stride 1).
        unsafe { store_buffered(self, p, 1, n) }
    }
    /// Loads `p[i·stride]` into lane `i` for `i < n` (`n <= Self::N`), 0 into the others: a
    /// gather on AVX-512, scalar loads otherwise (AVX2's gather is slower than the loop on
    /// the machines measured). A full vector's loads have a constant count, so the compiler
    /// puts them together in registers; a partial one goes through a stack buffer, which the
    /// vector load cannot forward from (for full vectors that made row-major label
    /// smoothing 3.5x slower than channels-first on AVX2).
    ///
    /// # Safety
    /// `p[i·stride]` must be readable for every `i < n`, `n <= Self::N`, and
    /// `stride·Self::N < 2^29` (AVX-512 uses 32-bit byte offsets).
    #[inline(always)]
    unsafe fn load_strided(p: *const f32, stride: usize, n: usize) -> Self {
        if n >= Self::N {
            // SAFETY: a full vector reads p[i·stride] for i < N = n (contract).
            unsafe { load_buffered(p, stride, Self::N, 0.0) }
        } else {
            // SAFETY: forwarded.
            unsafe { load_buffered(p, stride, n, 0.0) }
        }
    }
    /// Stores lane `i` to `p[i·stride]` for `i < n` (`n <= Self::N`): a scatter on AVX-512,
    /// a loop otherwise.
    ///
    /// # Safety
    /// `p[i·stride]` must be writable for every `i < n`, `n <= Self::N`, and
    /// `stride·Self::N < 2^29`.
    #[inline(always)]
    unsafe fn store_strided(self, p: *mut f32, stride: usize, n: usize) {
        // SAFETY: forwarded.
        unsafe { store_buffered(self, p, stride, n) }
    }
    /// Reads a row-major block of `n` rows of `c` values (`n <= Self::N`, `c <=`
    /// [`MAX_COLUMNS`]) as columns: `*cols.add(j·step)` gets lane `i` = `p[i·c + j]` for
    /// `i < n` and 0 in the other lanes, for every `j < c`. The default is one
    /// [`load_strided`](Lanes::load_strided) per column; AVX-512 transposes short rows in
    /// registers instead.
    ///
    /// # Safety
    /// `p` must be valid for reading `n·c` consecutive `f32`, `cols.add(j·step)` valid for
    /// writing a `Self` for every `j < c`, and `c <= MAX_COLUMNS`, `n <= Self::N`.
    #[inline(always)]
    unsafe fn load_columns(p: *const f32, c: usize, n: usize, cols: *mut Self, step: usize) {
        // SAFETY: forwarded.
        unsafe { load_columns_strided(p, c, n, cols, step) }
    }
    /// The inverse of [`load_columns`](Lanes::load_columns): writes lane `i` of
    /// `*cols.add(j·step)` to `p[i·c + j]` for every `i < n`, `j < c`, and nothing else.
    ///
    /// # Safety
    /// `p` must be valid for writing `n·c` consecutive `f32`, `cols.add(j·step)` valid for
    /// reading a `Self` for every `j < c`, and `c <= MAX_COLUMNS`, `n <= Self::N`.
    #[inline(always)]
    unsafe fn store_columns(p: *mut f32, c: usize, n: usize, cols: *const Self, step: usize) {
        // SAFETY: forwarded.
        unsafe { store_columns_strided(p, c, n, cols, step) }
    }
    /// Stores `Self::N` values.
    ///
    /// # Safety
    /// `p` must be valid for writing `Self::N` consecutive `f32`, and aligned for `f32` (not
    /// for the vector).
    unsafe fn store(self, p: *mut f32);

    /// Every lane equal to `v`.
    fn splat(v: f32) -> Self;
    /// Lane `i` holds `i as f32`.
    fn iota() -> Self;

    /// `self + b`.
    fn add(self, b: Self) -> Self;
    /// `self - b`.
    fn sub(self, b: Self) -> Self;
    /// `self · b`.
    fn mul(self, b: Self) -> Self;
    /// `self / b`, correctly rounded.
    fn div(self, b: Self) -> Self;
    /// `√self`, correctly rounded (IEEE-754 `squareRoot`: the same bits on every backend and
    /// target; NaN below zero, `√-0 = -0`).
    fn sqrt(self) -> Self;
    /// `self · b + c` (fused where the lanes have FMA).
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// `c - self · b` (fused where the lanes have FMA).
    fn neg_mul_add(self, b: Self, c: Self) -> Self;
    /// `-self` (flips the sign bit).
    fn neg(self) -> Self;
    /// `|self|` (clears the sign bit).
    fn abs(self) -> Self;
    /// Lane-wise minimum (second operand on NaN).
    fn min(self, b: Self) -> Self;
    /// Lane-wise maximum (second operand on NaN).
    fn max(self, b: Self) -> Self;
    /// The lane-wise maximum of the bit patterns read as `u32` (so every NaN and every value
    /// with the sign bit set, `-0.0` included, is above `1.0`). Backends where it is one
    /// instruction set [`UMAX_BITS`](Lanes::UMAX_BITS).
    fn umax_bits(self, b: Self) -> Self;
    /// The lanes whose bit pattern read as `u32` is above that of `1.0` (the lanes of
    /// `umax_bits(1.0)` that are not `1.0`): every NaN, every value above 1 and every value
    /// with the sign bit set, `-0.0` included.
    #[inline(always)]
    fn bits_above_one(self) -> Self::Mask {
        let one = Self::splat(1.0);
        Self::not(one.umax_bits(self).eq(one))
    }
    /// Rounds to the nearest integer, ties to even, for `|self| < 2^22` (other values: any
    /// value, the callers clamp first).
    fn round(self) -> Self;
    /// `self · 2^n` for integral `n` in `[-127, 128]` given as `f32`: builds the power of two
    /// from its exponent bits (`n = -127` gives 0, `n = 128` gives +inf).
    fn mul_pow2(self, n: Self) -> Self;
    /// `self`, through a barrier the compiler cannot see through (so it cannot fold the value
    /// into its uses as a constant; see [`math::ExpK::held`](crate::math::ExpK::held)).
    #[inline(always)]
    fn opaque(self) -> Self {
        core::hint::black_box(self)
    }
    /// `splat(*c)`, for a constant that a polynomial step adds (`mul_add`'s third operand).
    /// The scalar backend on Arm reads it from memory at each use instead (see its impl).
    #[inline(always)]
    fn addend(c: &'static f32) -> Self {
        Self::splat(*c)
    }
    /// [`mul_pow2`](Lanes::mul_pow2)`(n)` for integral `n` in `[-127, 128]`, given also
    /// `biased = n + 1.5·2^23` (exact: `n` is `biased - 1.5·2^23`), whose low mantissa bits
    /// are `n`'s: a backend may build the power of two from them instead of converting `n`.
    /// The same bits either way.
    #[inline(always)]
    fn mul_pow2_biased(self, n: Self, biased: Self) -> Self {
        let _ = biased;
        self.mul_pow2(n)
    }
    /// For finite positive normal `self = m · 2^e` with `m` in `[1, 2)`: returns `(m, e)`.
    /// Other inputs give unspecified (but non-trapping) values; callers fix them up.
    fn frexp(self) -> (Self, Self);
    /// `self · 2^n` for integral `n` in `[-152, 152]`. Rounded once (also into the subnormal
    /// range and to ±inf on overflow) when `|self| >= 2^-50`, which covers `exp`'s use
    /// (`self` near 1): the default applies two normal powers of two, and only a product
    /// already subnormal after the first could round twice. AVX-512 uses `vscalefps`, which
    /// rounds once for every input (and sets [`SCALEF`](Lanes::SCALEF)).
    #[inline(always)]
    fn ldexp(self, n: Self) -> Self {
        let n1 = n.mul(Self::splat(0.5)).round();
        self.mul_pow2(n1).mul_pow2(n.sub(n1))
    }
    /// `1 / self` within 1 ulp (correctly rounded by default; AVX-512 refines `vrcp14ps`
    /// with one Newton step, which is much cheaper than `vdivps` on 512-bit vectors).
    #[inline(always)]
    fn recip(self) -> Self {
        Self::splat(1.0).div(self)
    }
    /// `1 / self` within 1 ulp for `self` in `[1, 2]` (other inputs: unspecified). The same
    /// as [`recip`](Lanes::recip) by default; AVX-512 drops the guards that only zero,
    /// infinite and huge inputs need.
    #[inline(always)]
    fn recip_1_2(self) -> Self {
        self.recip()
    }
    /// [`ln`](crate::math::ln) where it is rarely needed (form (A)'s loss where `u^γ`
    /// underflows): inline by default; the scalar backend keeps one copy out of line, so that
    /// a microcontroller's flash does not hold two more for a path it almost never takes.
    #[inline(always)]
    fn ln_rare(self) -> Self {
        crate::math::ln(self)
    }
    /// `o`'s work, out of line: compiled with this backend's target features where it has
    /// any (AVX2, AVX-512: one copy each, for work whose loops vectorise on their own), once
    /// for the baseline target elsewhere ([`Outline::run_baseline`]).
    ///
    /// # Safety
    /// The backend's features are present, as for every method here.
    #[inline(always)]
    unsafe fn outline<O: Outline>(o: O) -> O::Out {
        o.run_baseline()
    }
    /// Form (A)'s loss where `u^γ` underflows against a huge cross-entropy:
    /// `exp(γ·(ln v - l) + ln ce)` (with `ln u = ln v - l`). Inline by default (the scalar
    /// backend's `ln` is its out-of-line [`ln_rare`](Lanes::ln_rare)); the vector backends
    /// keep one copy out of line each, since inlined into every form, mode, `γ` and group
    /// width it added a seventh to the library's x86_64 `.text` and a quarter to its build
    /// time for a path that almost never runs.
    #[inline(always)]
    fn pow_rescue(v: Self, l: Self, ce: Self, gamma: Self) -> Self {
        let mut io = [v, l, ce, gamma];
        rescue(&mut io);
        io[0]
    }

    /// `self < b`.
    fn lt(self, b: Self) -> Self::Mask;
    /// `self <= b`.
    fn le(self, b: Self) -> Self::Mask;
    /// `m & (self < b)`: on AVX-512 one compare under the write mask `m`, where `and` of
    /// two compares is a mask operation more on port 0, which also runs FMAs.
    #[inline(always)]
    fn lt_within(self, b: Self, m: Self::Mask) -> Self::Mask {
        Self::and(m, self.lt(b))
    }
    /// `self == b`.
    fn eq(self, b: Self) -> Self::Mask;
    /// `!(self == b)`: NaN lanes are set (one compare, where `not(eq)` is two operations,
    /// on AVX-512 a mask operation on port 0, which also runs FMAs).
    #[inline(always)]
    fn ne(self, b: Self) -> Self::Mask {
        Self::not(self.eq(b))
    }
    /// `self` is NaN.
    fn is_nan(self) -> Self::Mask;
    /// Lane-wise `if m { a } else { b }`.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    /// `self + v` in the lanes of `m`, `self` in the others (the same bits as
    /// `self + select(m, v, 0)` for a `self` that is never `-0`): a masked add on AVX-512,
    /// an `and` and an add elsewhere.
    #[inline(always)]
    fn add_where(self, m: Self::Mask, v: Self) -> Self {
        self.add(Self::select(m, v, Self::splat(0.0)))
    }
    /// `a && b`.
    fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// `a || b`.
    fn or(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// `!a`.
    fn not(a: Self::Mask) -> Self::Mask;
    /// `a != b` (exclusive or).
    fn xor(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// Any lane set.
    fn any(m: Self::Mask) -> bool;
    /// Index of the first set lane, if any.
    fn first_set(m: Self::Mask) -> Option<usize>;
    /// Number of set lanes.
    fn count(m: Self::Mask) -> u32;
    /// `t` with one added to the counter of each lane set in `m`: per-lane counters kept as
    /// integers in the bits of a vector (start from `splat(0.0)`, read with
    /// [`tally_sum`](Lanes::tally_sum)). One integer operation beside the float work, where
    /// [`count`](Lanes::count) per vector moves the mask to a general register and counts
    /// its bits there; see [`TALLY`](Lanes::TALLY).
    fn tally(t: Self, m: Self::Mask) -> Self;
    /// The sum of the counters of a [`tally`](Lanes::tally) (at most `u32::MAX`).
    fn tally_sum(t: Self) -> u32;

    /// Largest lane (NaN lanes are skipped unless all are NaN).
    fn reduce_max(self) -> f32;
    /// Lane `i` the largest lane of `v[i]`, for `i < N`: a row's maximum for each row of a
    /// group at once (a transposing tree of shuffles on AVX-512 and AVX2, where one
    /// [`reduce_max`] per row is three or four dependent steps). Exact for vectors without
    /// NaN; for a vector with one, its lane is NaN or one of the vector's values. (Lanes
    /// from [`MAX_LANES`] on, in wider groups, are 0.)
    ///
    /// [`reduce_max`]: Lanes::reduce_max
    #[inline(always)]
    fn max_each(v: &[Self; MAX_LANES]) -> Self {
        let mut out = [0.0f32; MAX_WIDE];
        for (o, v) in out.iter_mut().zip(v).take(Self::N) {
            *o = v.reduce_max();
        }
        // SAFETY: `out` holds MAX_WIDE >= N values.
        unsafe { Self::load(out.as_ptr()) }
    }
    /// A zero accumulator.
    fn acc_zero() -> Self::Acc;
    /// `acc + v`, lane-wise (exactly converted to `f64` on the SIMD backends).
    fn acc_add(acc: Self::Acc, v: Self) -> Self::Acc;
    /// `a + b`, lane-wise (for [`Lanes::Wide`] groups, which scalar-only targets lack).
    #[cfg_attr(not(focal_portable), allow(dead_code))]
    fn acc_join(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// Each lane of the accumulator, rounded to `f32` (for sums kept per lane, where each
    /// lane is a row of its own).
    fn acc_lanes(acc: Self::Acc) -> Self;
    /// Sum of the accumulator's lanes, in a fixed order (every SIMD backend: lane `i` += lane
    /// `i + n/2`, halving `n` until one lane is left, in `f64`).
    fn acc_sum(acc: Self::Acc) -> Total;
    /// Lane `i` the parts `(hi, lo)` of [`acc_sum`]`(a[i])`, for `i < N`: the same bits,
    /// for the rows of a group at once (one transposing tree on AVX-512 and AVX2, where each
    /// row's own reduction and `f64` split are a dozen dependent operations). (Lanes from
    /// [`MAX_LANES`] on, in wider groups, are 0.)
    ///
    /// [`acc_sum`]: Lanes::acc_sum
    #[inline(always)]
    fn acc_sum_each(a: &[Self::Acc; MAX_LANES]) -> (Self, Self) {
        let (mut hi, mut lo) = ([0.0f32; MAX_WIDE], [0.0f32; MAX_WIDE]);
        for ((h, l), a) in hi.iter_mut().zip(&mut lo).zip(a).take(Self::N) {
            (*h, *l) = Self::acc_sum(*a).parts();
        }
        // SAFETY: the arrays hold MAX_WIDE >= N values.
        unsafe { (Self::load(hi.as_ptr()), Self::load(lo.as_ptr())) }
    }
}

/// `p[i·stride]` into lane `i` for `i < n`, `pad` into the others, through a stack buffer
/// (with a constant `n = S::N`, scalar loads put together in registers): the default of
/// [`Lanes::load_first`] and [`Lanes::load_strided`].
///
/// # Safety
/// `p[i·stride]` must be readable for every `i < min(n, S::N)`.
#[inline(always)]
unsafe fn load_buffered<S: Lanes>(p: *const f32, stride: usize, n: usize, pad: f32) -> S {
    let mut buf = [pad; MAX_LANES];
    for (i, b) in buf.iter_mut().enumerate().take(n.min(S::N)) {
        // SAFETY: i < n, so p[i·stride] is readable (contract).
        *b = unsafe { *p.add(i * stride) };
    }
    // SAFETY: `buf` holds MAX_LANES >= S::N readable f32.
    unsafe { S::load(buf.as_ptr()) }
}

/// Lane `i` of `v` to `p[i·stride]` for `i < n`, through a stack buffer: the default of
/// [`Lanes::store_first`] and [`Lanes::store_strided`].
///
/// # Safety
/// `p[i·stride]` must be writable for every `i < min(n, S::N)`.
#[inline(always)]
unsafe fn store_buffered<S: Lanes>(v: S, p: *mut f32, stride: usize, n: usize) {
    let mut buf = [0.0f32; MAX_LANES];
    // SAFETY: `buf` holds MAX_LANES >= S::N writable f32.
    unsafe { v.store(buf.as_mut_ptr()) };
    for (i, &b) in buf.iter().enumerate().take(n.min(S::N)) {
        // SAFETY: i < n, so p[i·stride] is writable (contract).
        unsafe { *p.add(i * stride) = b };
    }
}

/// [`Lanes::load_columns`] as one [`Lanes::load_strided`] per column: the default.
///
/// # Safety
/// As for [`Lanes::load_columns`].
#[inline(always)]
pub(crate) unsafe fn load_columns_strided<S: Lanes>(
    p: *const f32,
    c: usize,
    n: usize,
    cols: *mut S,
    step: usize,
) {
    for j in 0..c {
        // SAFETY: p[i·c + j] for i < n lies within the n·c values, and c·N <= 16·64 keeps
        // the strided offsets small (contract).
        unsafe { cols.add(j * step).write(S::load_strided(p.add(j), c, n)) };
    }
}

/// [`Lanes::store_columns`] as one [`Lanes::store_strided`] per column (see
/// [`load_columns_strided`]).
///
/// # Safety
/// As for [`Lanes::store_columns`].
#[inline(always)]
pub(crate) unsafe fn store_columns_strided<S: Lanes>(
    p: *mut f32,
    c: usize,
    n: usize,
    cols: *const S,
    step: usize,
) {
    for j in 0..c {
        // SAFETY: as in `load_columns_strided`.
        unsafe { cols.add(j * step).read().store_strided(p.add(j), c, n) };
    }
}

/// Loads the first `n < S::N` values of `src` into a vector whose other lanes hold `pad`.
///
/// Tails go through the same vector code as full chunks, so an element's result does not
/// depend on its position in the slice.
#[inline(always)]
pub(crate) fn load_tail<S: Lanes>(src: &[f32], pad: f32) -> S {
    // SAFETY: `src` holds src.len() readable values, and at most S::N are read.
    unsafe { S::load_first(src.as_ptr(), src.len().min(S::N), pad) }
}

/// Stores the first `dst.len() < S::N` lanes of `v` into `dst`.
#[inline(always)]
pub(crate) fn store_tail<S: Lanes>(v: S, dst: &mut [f32]) {
    // SAFETY: `dst` holds dst.len() writable values, and at most S::N are written.
    unsafe { v.store_first(dst.as_mut_ptr(), dst.len().min(S::N)) }
}

/// `f32` values per cache line.
pub(crate) const LINE: usize = 16;

/// Asks for the cache line holding `p` (a hint: any address is allowed, none is read).
/// Only x86_64 has a stable prefetch instruction in `core`; elsewhere this does nothing.
#[inline(always)]
pub(crate) fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetcht0 is part of SSE, which every x86_64 CPU has; it never faults, for
    // any address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Asks for the cache line holding `p` in a state ready to be written (`prefetchw`: the line
/// arrives owned, so the store that follows needs no second request). A hint: any address is
/// allowed, none is written. Only x86_64 has it, and `core` offers it only behind an unstable
/// target feature, hence the one-instruction `asm!`; elsewhere (and under miri) this does
/// nothing.
#[inline(always)]
pub(crate) fn prefetch_write(p: *mut f32) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `prefetchw` reads no memory, writes none and never faults, for any address;
    // CPUs without PRFCHW execute its encoding as a no-op. It touches no register but its
    // input, no flag and no stack.
    unsafe {
        core::arch::asm!(
            "prefetchw [{p}]",
            p = in(reg) p,
            options(nostack, preserves_flags, readonly)
        )
    };
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = p;
}

/// The mask of the first `n` lanes.
#[inline(always)]
pub(crate) fn first_lanes<S: Lanes>(n: usize) -> S::Mask {
    S::iota().lt(S::splat(n as f32))
}

/// `a · b`, except 0 where `a == 0` and `b` is not NaN (so `0 · ∞` is 0: the limit the
/// kernels need when a weight vanishes exactly and its factor is an infinite log, while a NaN
/// input still propagates).
#[inline(always)]
pub(crate) fn mul_or_zero<S: Lanes>(a: S, b: S) -> S {
    let zero = S::splat(0.0);
    S::select(S::and(a.eq(zero), S::not(b.is_nan())), zero, a.mul(b))
}

/// The body of [`Lanes::pow_rescue`], written once: `[v, l, ce, γ]` in, `exp(γ·(ln v - l) +
/// ln ce)` out in `io[0]` (through memory, so that the vector backends' out-of-line copies
/// pass no vector across a call).
#[inline(always)]
pub(crate) fn rescue<S: Lanes>(io: &mut [S; 4]) {
    let [v, l, ce, gamma] = *io;
    io[0] = crate::math::exp(gamma.mul_add(v.ln_rare().sub(l), ce.ln_rare()));
}
