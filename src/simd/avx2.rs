//! 8 lanes of AVX2 with FMA.
//!
//! # Soundness
//!
//! The [`Lanes`] methods are safe `#[inline(always)]` functions without `#[target_feature]`
//! that call AVX, AVX2 and FMA intrinsics. That is sound because a value of [`Avx2`] only
//! ever exists inside a kernel instantiated by one of the
//! `#[target_feature(enable = "avx2,fma")]` entry points in `crate::backend`, and the
//! dispatcher calls those only through a `Ready` backend, i.e. after run-time detection
//! (`backend::detect::found`, `avx2_fma`) found AVX2 and FMA on the CPU with the `ymm` state
//! enabled by the OS. The type is `pub(crate)` and its field private, so no code outside
//! this crate can make one, and inside the crate only those entry points (and the tests
//! below, behind the same check) do. Every intrinsic call below relies on this invariant;
//! the `avx2!` macro wraps those calls and carries the argument once.
//!
//! Everything else an intrinsic could need (pointer validity) appears only in `load` and
//! `store`, whose own contracts provide it.

use core::arch::x86_64::*;

use super::{Lanes, MAX_LANES, Total};

/// Eight `f32` lanes in a `ymm` register. Masks are `__m256` lanes of all ones or all
/// zeros (as the comparisons make them).
///
/// Only created inside kernels run by the AVX2+FMA entry points after run-time detection
/// (see the module documentation): holding one proves that AVX2 and FMA are available.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(__m256);

/// Evaluates an expression made of AVX/AVX2/FMA (or SSE) intrinsics.
macro_rules! avx2 {
    ($e:expr) => {
        // SAFETY: the only requirement of these intrinsics is that the CPU supports AVX2
        // and FMA; an `Avx2` value exists only after run-time detection found them (module
        // documentation). No pointers are involved.
        unsafe { $e }
    };
}

/// All ones in the first `n` of the 8 lanes, zero in the others.
#[inline(always)]
fn lane_mask(n: usize) -> __m256i {
    let n = n.min(8) as i32;
    avx2!(_mm256_cmpgt_epi32(
        _mm256_set1_epi32(n),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
    ))
}

/// Lanes `0..4` and `4..8` of `v`, widened exactly to `f64`.
#[inline(always)]
fn widen(v: __m256) -> (__m256d, __m256d) {
    avx2!((
        _mm256_cvtps_pd(_mm256_castps256_ps128(v)),
        _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)),
    ))
}

/// Transposes the 8 × 8 matrix whose row `i` is `v[i]`: afterwards lane `i` of `v[j]` is
/// what lane `j` of `v[i]` was. Three rounds of 8 shuffles.
#[inline(always)]
fn transpose(v: &mut [__m256; 8]) {
    // Rows 2k and 2k+1 interleaved in each 128-bit half: 2k gets columns 0, 1 (4, 5), 2k+1
    // columns 2, 3 (6, 7).
    let mut t = [avx2!(_mm256_setzero_ps()); 8];
    for k in 0..4 {
        t[2 * k] = avx2!(_mm256_unpacklo_ps(v[2 * k], v[2 * k + 1]));
        t[2 * k + 1] = avx2!(_mm256_unpackhi_ps(v[2 * k], v[2 * k + 1]));
    }
    // u[4g + m]: rows 4g..4g+3 of column m in the low half, of column 4 + m in the high one.
    let mut u = [avx2!(_mm256_setzero_ps()); 8];
    for g in 0..2 {
        let (a, b, c, d) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
        u[4 * g] = avx2!(_mm256_shuffle_ps::<0x44>(a, c));
        u[4 * g + 1] = avx2!(_mm256_shuffle_ps::<0xee>(a, c));
        u[4 * g + 2] = avx2!(_mm256_shuffle_ps::<0x44>(b, d));
        u[4 * g + 3] = avx2!(_mm256_shuffle_ps::<0xee>(b, d));
    }
    for m in 0..4 {
        v[m] = avx2!(_mm256_permute2f128_ps::<0x20>(u[m], u[4 + m]));
        v[4 + m] = avx2!(_mm256_permute2f128_ps::<0x31>(u[m], u[4 + m]));
    }
}

/// The 4 × 4 transposes of [`transpose`]'s first two steps, in each 128-bit half: rows
/// `v[0..4]` (columns 0-3 in the low half, the same columns of four other rows in the high
/// one) become columns 0-3 of both groups of rows, and back. For the last columns of a row
/// (fewer than 8) in blocks of at most 4, where the whole transpose would move an unused
/// half as well.
#[inline(always)]
fn transpose4(v: &mut [__m256; 4]) {
    let t = avx2!([
        _mm256_unpacklo_ps(v[0], v[1]),
        _mm256_unpackhi_ps(v[0], v[1]),
        _mm256_unpacklo_ps(v[2], v[3]),
        _mm256_unpackhi_ps(v[2], v[3]),
    ]);
    *v = avx2!([
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xee>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xee>(t[1], t[3]),
    ]);
}

/// Loads the first `w <= 4` values at `q`, the other lanes 0.
///
/// # Safety
/// `q` valid for reading `w` values.
#[inline(always)]
unsafe fn load_quarter(q: *const f32, w: usize) -> __m128 {
    // SAFETY: `vmaskmovps` reads only the first w lanes (contract); a whole load when w = 4.
    unsafe {
        if w >= 4 {
            _mm_loadu_ps(q)
        } else {
            _mm_maskload_ps(q, _mm256_castsi256_si128(lane_mask(w)))
        }
    }
}

/// [`load_quarter`] of row `r` of `n` (`w` values from column `b` of `c`), or 0 for a row
/// from `n` on.
///
/// # Safety
/// Rows `0..n` of `c` values at `p` readable; `b + w <= c`.
#[inline(always)]
unsafe fn load_row_quarter(
    p: *const f32,
    r: usize,
    n: usize,
    c: usize,
    b: usize,
    w: usize,
) -> __m128 {
    if r < n {
        // SAFETY: p[r·c + b..r·c + b + w] lies within the n·c values (contract).
        unsafe { load_quarter(p.add(r * c + b), w) }
    } else {
        avx2!(_mm_setzero_ps())
    }
}

/// Stores the first `w <= 4` lanes of `v` at `q` with plain stores (see
/// [`Lanes::store_first`]).
///
/// # Safety
/// `q` valid for writing `w` values.
#[inline(always)]
unsafe fn store_quarter(q: *mut f32, v: __m128, w: usize) {
    // SAFETY: each store writes lanes below the first w at q (contract).
    unsafe {
        if w >= 4 {
            return _mm_storeu_ps(q, v);
        }
        let (mut q, mut v) = (q, v);
        if w >= 2 {
            _mm_storel_pd(q.cast::<f64>(), _mm_castps_pd(v));
            v = _mm_movehl_ps(v, v);
            q = q.add(2);
        }
        if w & 1 == 1 {
            _mm_store_ss(q, v);
        }
    }
}

impl Lanes for Avx2 {
    const N: usize = 8;
    type Mask = __m256;
    /// Lanes `0..4` and `4..8`.
    type Acc = (__m256d, __m256d);
    /// Four vectors (measured: 1.3x the throughput of one at a time, eight spill too much).
    type Wide = super::Pair<super::Pair<Self>>;
    const UMAX_BITS: bool = true;
    const LANE_SPAN: bool = true;
    const TALLY: bool = true;
    const COLUMN_LOOP: bool = true;
    const HOLD_EXP: bool = true;
    const PIPELINED_HARD: bool = true;

    super::with_features! { avx2;
        /// The SIMD entry points' features (`backend::entries!`), so that the work's loops
        /// vectorise with this backend's vectors (gathering labels: wider conversions and
        /// stores than the baseline's SSE2).
        #[inline(never)]
        unsafe fn outline<O: super::Outline>(o: O) -> O::Out {
            o.run()
        }
    }

    #[inline(always)]
    fn pow_rescue(v: Self, l: Self, ce: Self, gamma: Self) -> Self {
        let mut io = [v, l, ce, gamma];
        // SAFETY: AVX2 and FMA are present whenever this type is used (module documentation), and
        // `pow_rescue_avx2` needs only those (the features of this backend's entry points).
        unsafe { pow_rescue_avx2(&mut io) };
        io[0]
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable f32 at `p`; `loadu` needs no alignment;
        // AVX is present whenever this type is used (module documentation).
        Avx2(unsafe { _mm256_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 8 writable f32 at `p`; `storeu` needs no alignment;
        // AVX is present since `self` exists (module documentation).
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize, pad: f32) -> Self {
        let m = lane_mask(n);
        // SAFETY: vmaskmovps reads only the lanes whose mask is set, the first n <= 8, which
        // the caller guarantees readable (masked-out lanes cannot fault); AVX is present
        // whenever this type is used (module documentation).
        unsafe {
            let v = _mm256_maskload_ps(p, m);
            Avx2(_mm256_blendv_ps(
                _mm256_set1_ps(pad),
                v,
                _mm256_castsi256_ps(m),
            ))
        }
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        // Plain stores of 4, 2 and 1 lanes, not `vmaskmovps`: AMD cores microcode the masked
        // store, and the softmax reads its kept tail exponentials back at once (measured on
        // Zen 4: 1.06-1.08x the fused call at 17 to 21 classes).
        let (mut q, mut n) = (p, n.min(8));
        let mut v = avx2!(_mm256_castps256_ps128(self.0));
        // SAFETY (block): each store writes lanes below the first n, at q = p + the lanes
        // already written, which the caller guarantees writable; AVX is present since `self`
        // exists.
        unsafe {
            if n == 8 {
                return _mm256_storeu_ps(p, self.0);
            }
            if n >= 4 {
                _mm_storeu_ps(q, v);
                v = _mm256_extractf128_ps::<1>(self.0);
                (q, n) = (q.add(4), n - 4);
            }
            store_quarter(q, v, n);
        }
    }
    /// Each block of 8 columns by one load per row and an 8 × 8 transpose in registers, not
    /// one scalar load per value; the last columns (fewer than 8) by blocks of at most 4,
    /// one load of at most 4 values per row, two rows to a vector, and [`transpose4`]. The
    /// last columns once went through the 8 × 8 transpose too, which moved an unused half
    /// (at 10 classes three quarters of it), with masked loads of up to 8 values and a chain
    /// of tests per row for the stores: against that, the blocks of 4 alone took 0.78 of
    /// the fused call's time at 4 classes and 0.96-0.97 at 10 (Zen 3 VM, `docs/tools/ab`,
    /// the same bits; with [`COLUMN_LOOP`](Lanes::COLUMN_LOOP), 0.71-0.85 and 0.85-0.92).
    #[inline(always)]
    unsafe fn load_columns(p: *const f32, c: usize, n: usize, cols: *mut Self, step: usize) {
        let mut b = 0;
        while b + 8 <= c {
            // Row i < n of the block's columns in v[i], the rows from n on 0.
            let mut v = [avx2!(_mm256_setzero_ps()); 8];
            for (i, vi) in v.iter_mut().enumerate().take(n.min(8)) {
                // SAFETY: p[i·c + b..i·c + b + 8] lies within the n·c readable values
                // (contract: i < n, b + 8 <= c).
                *vi = unsafe { _mm256_loadu_ps(p.add(i * c + b)) };
            }
            transpose(&mut v);
            for (j, vj) in v.iter().enumerate() {
                // SAFETY: cols.add((b + j)·step) is writable for b + j < c (contract).
                unsafe { cols.add((b + j) * step).write(Avx2(*vj)) };
            }
            b += 8;
        }
        while b < c {
            let w = (c - b).min(4);
            // Rows i and i + 4 in the two halves of v[i], the rows from n on 0.
            let mut v = [avx2!(_mm256_setzero_ps()); 4];
            for (i, vi) in v.iter_mut().enumerate() {
                // SAFETY: row r < n holds w values from p + r·c + b, within the n·c
                // (contract: b + w <= c); rows from n on are not read.
                let (lo, hi) = unsafe {
                    (
                        load_row_quarter(p, i, n, c, b, w),
                        load_row_quarter(p, i + 4, n, c, b, w),
                    )
                };
                *vi = avx2!(_mm256_set_m128(hi, lo));
            }
            transpose4(&mut v);
            for (j, vj) in v.iter().enumerate().take(w) {
                // SAFETY: cols.add((b + j)·step) is writable for b + j < c (contract).
                unsafe { cols.add((b + j) * step).write(Avx2(*vj)) };
            }
            b += 4;
        }
    }
    /// The inverse of `load_columns`: the same blocks, each transposed back, then one store
    /// per row.
    #[inline(always)]
    unsafe fn store_columns(p: *mut f32, c: usize, n: usize, cols: *const Self, step: usize) {
        let mut b = 0;
        while b + 8 <= c {
            let mut v = [avx2!(_mm256_setzero_ps()); 8];
            for (j, vj) in v.iter_mut().enumerate() {
                // SAFETY: cols.add((b + j)·step) is readable for b + j < c (contract).
                *vj = unsafe { cols.add((b + j) * step).read().0 };
            }
            transpose(&mut v);
            for (i, vi) in v.iter().enumerate().take(n.min(8)) {
                // SAFETY: p[i·c + b..i·c + b + 8] lies within the n·c writable values
                // (contract: i < n, b + 8 <= c).
                unsafe { _mm256_storeu_ps(p.add(i * c + b), *vi) };
            }
            b += 8;
        }
        while b < c {
            let w = (c - b).min(4);
            let mut v = [avx2!(_mm256_setzero_ps()); 4];
            for (j, vj) in v.iter_mut().enumerate().take(w) {
                // SAFETY: cols.add((b + j)·step) is readable for b + j < c (contract).
                *vj = unsafe { cols.add((b + j) * step).read().0 };
            }
            // Rows i and i + 4 in the two halves of v[i].
            transpose4(&mut v);
            for (i, vi) in v.iter().enumerate() {
                // SAFETY: row r < n has w values to write at p + r·c + b, within the n·c
                // (contract: b + w <= c).
                unsafe {
                    if i < n {
                        store_quarter(p.add(i * c + b), _mm256_castps256_ps128(*vi), w);
                    }
                    if i + 4 < n {
                        store_quarter(p.add((i + 4) * c + b), _mm256_extractf128_ps::<1>(*vi), w);
                    }
                }
            }
            b += 4;
        }
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Avx2(avx2!(_mm256_set1_ps(v)))
    }
    #[inline(always)]
    fn iota() -> Self {
        Avx2(avx2!(_mm256_setr_ps(
            0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0
        )))
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Avx2(avx2!(_mm256_add_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        Avx2(avx2!(_mm256_sub_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        Avx2(avx2!(_mm256_mul_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        // vdivps is correctly rounded (this is not the rcpps estimate).
        Avx2(avx2!(_mm256_div_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // vsqrtps is correctly rounded (this is not the rsqrtps estimate).
        Avx2(avx2!(_mm256_sqrt_ps(self.0)))
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        Avx2(avx2!(_mm256_fmadd_ps(self.0, b.0, c.0)))
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        // vfnmadd: -(self·b) + c, one rounding.
        Avx2(avx2!(_mm256_fnmadd_ps(self.0, b.0, c.0)))
    }
    #[inline(always)]
    fn neg(self) -> Self {
        Avx2(avx2!(_mm256_xor_ps(self.0, _mm256_set1_ps(-0.0))))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        // andnot(-0.0, x) clears the sign bit.
        Avx2(avx2!(_mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0)))
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        // vminps returns the second operand when either is NaN (and for ±0 pairs).
        Avx2(avx2!(_mm256_min_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        // vmaxps returns the second operand when either is NaN (and for ±0 pairs).
        Avx2(avx2!(_mm256_max_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn umax_bits(self, b: Self) -> Self {
        Avx2(avx2!(_mm256_castsi256_ps(_mm256_max_epu32(
            _mm256_castps_si256(self.0),
            _mm256_castps_si256(b.0)
        ))))
    }
    #[inline(always)]
    fn round(self) -> Self {
        // Adding and removing 1.5·2^23 rounds to nearest-even for |x| < 2^22 (as `Scalar`
        // does, bit for bit): two additions, where vroundps is two µops of latency 8.
        avx2!({
            let magic = _mm256_set1_ps(12_582_912.0);
            Avx2(_mm256_sub_ps(_mm256_add_ps(self.0, magic), magic))
        })
    }
    #[inline(always)]
    fn mul_pow2(self, n: Self) -> Self {
        // n is integral in [-127, 128], so the conversion (current rounding mode) is exact
        // and the biased exponent n + 127 lies in [0, 255]: bits (n + 127) << 23 are 2^n,
        // or 0 for n = -127 and +inf for n = 128.
        avx2!({
            let e = _mm256_add_epi32(_mm256_cvtps_epi32(n.0), _mm256_set1_epi32(127));
            let pow = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(e));
            Avx2(_mm256_mul_ps(self.0, pow))
        })
    }
    #[inline(always)]
    fn frexp(self) -> (Self, Self) {
        // The biased exponent field minus 127, and the mantissa with the exponent of 1.0.
        avx2!({
            let bits = _mm256_castps_si256(self.0);
            let e = _mm256_sub_epi32(
                _mm256_and_si256(_mm256_srli_epi32::<23>(bits), _mm256_set1_epi32(0xff)),
                _mm256_set1_epi32(127),
            );
            let m = _mm256_or_si256(
                _mm256_and_si256(bits, _mm256_set1_epi32(0x007f_ffff)),
                _mm256_set1_epi32(0x3f80_0000),
            );
            (Avx2(_mm256_castsi256_ps(m)), Avx2(_mm256_cvtepi32_ps(e)))
        })
    }
    #[inline(always)]
    fn lt(self, b: Self) -> __m256 {
        avx2!(_mm256_cmp_ps::<_CMP_LT_OQ>(self.0, b.0))
    }
    #[inline(always)]
    fn le(self, b: Self) -> __m256 {
        avx2!(_mm256_cmp_ps::<_CMP_LE_OQ>(self.0, b.0))
    }
    #[inline(always)]
    fn eq(self, b: Self) -> __m256 {
        avx2!(_mm256_cmp_ps::<_CMP_EQ_OQ>(self.0, b.0))
    }
    #[inline(always)]
    fn ne(self, b: Self) -> __m256 {
        avx2!(_mm256_cmp_ps::<_CMP_NEQ_UQ>(self.0, b.0))
    }
    #[inline(always)]
    fn is_nan(self) -> __m256 {
        avx2!(_mm256_cmp_ps::<_CMP_UNORD_Q>(self.0, self.0))
    }
    #[inline(always)]
    fn select(m: __m256, a: Self, b: Self) -> Self {
        // vblendvps takes the second source where the mask lane's sign bit is set.
        Avx2(avx2!(_mm256_blendv_ps(b.0, a.0, m)))
    }
    #[inline(always)]
    fn add_where(self, m: __m256, v: Self) -> Self {
        // Masks are whole lanes, so `m & v` is `v` or `+0`: the default's select, which
        // LLVM lowers to a sign-bit test and an `and` (two operations, or three with a
        // `not`, where `andnot` is one).
        Avx2(avx2!(_mm256_add_ps(self.0, _mm256_and_ps(m, v.0))))
    }
    #[inline(always)]
    fn and(a: __m256, b: __m256) -> __m256 {
        avx2!(_mm256_and_ps(a, b))
    }
    #[inline(always)]
    fn or(a: __m256, b: __m256) -> __m256 {
        avx2!(_mm256_or_ps(a, b))
    }
    #[inline(always)]
    fn xor(a: __m256, b: __m256) -> __m256 {
        avx2!(_mm256_xor_ps(a, b))
    }
    #[inline(always)]
    fn not(a: __m256) -> __m256 {
        avx2!(_mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(-1))))
    }
    #[inline(always)]
    fn any(m: __m256) -> bool {
        // vtestps: ZF is set when no lane has its sign bit set.
        avx2!(_mm256_testz_ps(m, m)) == 0
    }
    #[inline(always)]
    fn first_set(m: __m256) -> Option<usize> {
        let bits = avx2!(_mm256_movemask_ps(m)) as u32;
        if bits == 0 {
            None
        } else {
            Some(bits.trailing_zeros() as usize)
        }
    }
    #[inline(always)]
    fn count(m: __m256) -> u32 {
        (avx2!(_mm256_movemask_ps(m)) as u32).count_ones()
    }
    #[inline(always)]
    fn tally(t: Self, m: __m256) -> Self {
        // A set lane is -1 as an integer.
        avx2!(Avx2(_mm256_castsi256_ps(_mm256_sub_epi32(
            _mm256_castps_si256(t.0),
            _mm256_castps_si256(m),
        ))))
    }
    #[inline(always)]
    fn tally_sum(t: Self) -> u32 {
        avx2!({
            let t = _mm256_castps_si256(t.0);
            let s = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256::<1>(t));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
            _mm_cvtsi128_si32(s) as u32
        })
    }
    #[inline(always)]
    fn reduce_max(self) -> f32 {
        // NaN lanes become -inf, then a tree of vmaxps (exact once no NaN is left; which
        // zero wins a ±0 tie is unspecified). If every lane is NaN, lane 0 is returned.
        let nan = self.is_nan();
        avx2!({
            let v = _mm256_blendv_ps(self.0, _mm256_set1_ps(f32::NEG_INFINITY), nan);
            let v4 = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let v2 = _mm_max_ps(v4, _mm_movehl_ps(v4, v4));
            let v1 = _mm_max_ss(v2, _mm_shuffle_ps::<0b01>(v2, v2));
            if _mm256_movemask_ps(nan) == 0xff {
                _mm256_cvtss_f32(self.0)
            } else {
                _mm_cvtss_f32(v1)
            }
        })
    }
    #[inline(always)]
    fn acc_zero() -> Self::Acc {
        avx2!((_mm256_setzero_pd(), _mm256_setzero_pd()))
    }
    #[inline(always)]
    fn acc_add(acc: Self::Acc, v: Self) -> Self::Acc {
        let (lo, hi) = widen(v.0);
        avx2!((_mm256_add_pd(acc.0, lo), _mm256_add_pd(acc.1, hi)))
    }
    #[inline(always)]
    fn acc_join(a: Self::Acc, b: Self::Acc) -> Self::Acc {
        avx2!((_mm256_add_pd(a.0, b.0), _mm256_add_pd(a.1, b.1)))
    }
    #[inline(always)]
    fn acc_lanes(acc: Self::Acc) -> Self {
        // Lanes 0..4 from the low half, 4..8 from the high one (see `widen`).
        Avx2(avx2!(_mm256_set_m128(
            _mm256_cvtpd_ps(acc.1),
            _mm256_cvtpd_ps(acc.0)
        )))
    }
    #[inline(always)]
    fn max_each(v: &[Self; MAX_LANES]) -> Self {
        // Three levels, each halving the lanes per row and doubling the rows per vector;
        // the pairings put row i in lane i. Level 1: rows m and m + 4, one per 128-bit half.
        avx2!({
            let l1 = |a: usize, b: usize| {
                let (a, b) = (v[a].0, v[b].0);
                _mm256_max_ps(
                    _mm256_permute2f128_ps::<0x20>(a, b),
                    _mm256_permute2f128_ps::<0x31>(a, b),
                )
            };
            let w1 = [l1(0, 4), l1(1, 5), l1(2, 6), l1(3, 7)];
            // Level 2: two lanes per row; half h holds rows 4h + m and 4h + m + 1 (m = 0, 2).
            let l2 = |a: __m256, b: __m256| {
                let (a, b) = (_mm256_castps_pd(a), _mm256_castps_pd(b));
                _mm256_max_ps(
                    _mm256_castpd_ps(_mm256_unpacklo_pd(a, b)),
                    _mm256_castpd_ps(_mm256_unpackhi_pd(a, b)),
                )
            };
            let (x, y) = (l2(w1[0], w1[1]), l2(w1[2], w1[3]));
            // Level 3: lane 4h + m is row 4h + m.
            Avx2(_mm256_max_ps(
                _mm256_shuffle_ps::<0b10_00_10_00>(x, y),
                _mm256_shuffle_ps::<0b11_01_11_01>(x, y),
            ))
        })
    }
    #[inline(always)]
    fn acc_sum_each(a: &[Self::Acc; MAX_LANES]) -> (Self, Self) {
        // `acc_sum`'s additions in its order (lane k += lane k + n/2 for n = 8, 4, 2), for 8
        // rows by a transposing tree; row i ends in lane i.
        avx2!({
            let s4 = |r: usize| _mm256_add_pd(a[r].0, a[r].1);
            // n = 4: rows x and y, one per 128-bit half.
            let l1 = |x: usize, y: usize| {
                let (x, y) = (s4(x), s4(y));
                _mm256_add_pd(
                    _mm256_permute2f128_pd::<0x20>(x, y),
                    _mm256_permute2f128_pd::<0x31>(x, y),
                )
            };
            // n = 2: lanes 0..4 are rows 4j..4j + 4.
            let l2 = |p: __m256d, q: __m256d| {
                _mm256_add_pd(_mm256_unpacklo_pd(p, q), _mm256_unpackhi_pd(p, q))
            };
            let (r0, r1) = (l2(l1(0, 2), l1(1, 3)), l2(l1(4, 6), l1(5, 7)));
            // `Total::from_f64` lane by lane: the rest only where `hi` is finite.
            let (h0, h1) = (_mm256_cvtpd_ps(r0), _mm256_cvtpd_ps(r1));
            let l0 = _mm256_cvtpd_ps(_mm256_sub_pd(r0, _mm256_cvtps_pd(h0)));
            let l1 = _mm256_cvtpd_ps(_mm256_sub_pd(r1, _mm256_cvtps_pd(h1)));
            let (hi, lo) = (_mm256_set_m128(h1, h0), _mm256_set_m128(l1, l0));
            let abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0), hi);
            let finite = _mm256_cmp_ps::<_CMP_LT_OQ>(abs, _mm256_set1_ps(f32::INFINITY));
            (Avx2(hi), Avx2(_mm256_and_ps(finite, lo)))
        })
    }
    #[inline(always)]
    fn acc_sum(acc: Self::Acc) -> Total {
        // Halving order, fixed: lane i += lane i + n/2 for n = 8, 4, 2.
        Total::from_f64(avx2!({
            let s4 = _mm256_add_pd(acc.0, acc.1);
            let s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd::<1>(s4));
            _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)))
        }))
    }
}

super::with_features! { avx2;
    /// The one copy of [`Lanes::pow_rescue`] for this backend, compiled with the features of its
    /// entry points (`backend::entries!`), so that its lane methods inline as in the kernels and
    /// give the same bits. The vectors go through memory: no vector value crosses a call.
    ///
    /// # Safety
    /// The CPU has `avx2,fma,popcnt`.
    #[inline(never)]
    unsafe fn pow_rescue_avx2(io: &mut [Avx2; 4]) {
        super::rescue(io);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::Avx2;
    use crate::simd::Lanes;
    use crate::simd::testing::{self, Fused};

    crate::simd::with_features! { avx2;
        /// The lanes with the entry points' features.
        fn differential(seed: u64) {
            testing::run::<Avx2>(Fused::Always, seed, 20_000);
            testing::run::<<Avx2 as Lanes>::Wide>(Fused::Always, seed, 5_000);
        }
    }

    #[test]
    fn lanes_match_scalar() {
        if !crate::Backend::Avx2.is_available() {
            std::println!("skipped: this CPU lacks the AVX2 backend's features");
            return;
        }
        for seed in 1..=4 {
            // SAFETY: the CPU has the backend's features (checked above), so an `Avx2` may
            // exist.
            unsafe { differential(seed) };
        }
    }
}
