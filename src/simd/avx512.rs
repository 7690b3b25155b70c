//! 16 lanes of AVX-512F.
//!
//! # Soundness
//!
//! The [`Lanes`] methods are safe `#[inline(always)]` functions without `#[target_feature]`
//! that call AVX-512F intrinsics (and AVX/AVX2/SSE ones, which AVX-512F implies). That is
//! sound because a value of [`Avx512`] only ever exists inside a kernel instantiated by one
//! of the `#[target_feature(enable = "avx512f")]` entry points in `crate::backend`, and the
//! dispatcher calls those only through a `Ready` backend, i.e. after run-time detection
//! (`backend::detect::found`, `avx512f`) found AVX-512F on the CPU with the `zmm` and opmask
//! state enabled by the OS. The type is `pub(crate)` and its field private, so no code
//! outside this crate can make one, and inside the crate only those entry points (and the
//! tests below, behind the same check) do. Every intrinsic call below relies on this
//! invariant; the `avx512!` macro wraps those calls and carries the argument once.
//!
//! Everything else an intrinsic could need (pointer validity) appears only in `load` and
//! `store`, whose own contracts provide it, and in stores to local arrays.

use core::arch::x86_64::*;

use super::{Lanes, MAX_LANES, Total};

/// Sixteen `f32` lanes in a `zmm` register. Masks are `__mmask16` (bit `i` is lane `i`).
///
/// Only created inside kernels run by the AVX-512F entry points after run-time detection
/// (see the module documentation): holding one proves that AVX-512F is available.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(__m512);

/// Evaluates an expression made of AVX-512F (or implied AVX2/AVX/SSE) intrinsics.
macro_rules! avx512 {
    ($e:expr) => {
        // SAFETY: the only requirement of these intrinsics is that the CPU supports
        // AVX-512F; an `Avx512` value exists only after run-time detection found it (module
        // documentation). No pointers are involved.
        unsafe { $e }
    };
}

/// The mask of the first `n` lanes (all 16 for `n >= 16`).
#[inline(always)]
fn lane_mask(n: usize) -> __mmask16 {
    if n >= 16 { u16::MAX } else { (1u16 << n) - 1 }
}

/// The 32-bit lane offsets `i·stride` (`stride·16 < 2^29`).
#[inline(always)]
fn strided(stride: usize) -> __m512i {
    avx512!(_mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(stride as i32),
    ))
}

/// Rows up to this many values long are moved between row and column layout by permutes
/// of the block ([`Lanes::load_columns`]); longer ones (up to 16) by a 16 × 16 transpose of
/// one masked load per row ([`transpose`]). Gathers and scatters did it before: at
/// (65536, 4) the fused softmax spent half its time in them on an AMD EPYC (Zen 4) machine,
/// and at (4096, 16) two thirds.
const PERMUTE_COLUMNS: usize = 8;

/// Transposes the 16 × 16 matrix whose row `i` is `v[i]`: afterwards lane `i` of `v[j]` is
/// what lane `j` of `v[i]` was. Four rounds of 16 shuffles, each within one register pair.
#[inline(always)]
fn transpose(v: &mut [__m512; 16]) {
    // Lanes 4L..4L+3 (128-bit block L) of rows 2k and 2k+1, interleaved: 2k gets columns
    // 4L, 4L+1 and 2k+1 columns 4L+2, 4L+3, each as (row 2k, row 2k+1).
    let mut t = [avx512!(_mm512_setzero_ps()); 16];
    for k in 0..8 {
        t[2 * k] = avx512!(_mm512_unpacklo_ps(v[2 * k], v[2 * k + 1]));
        t[2 * k + 1] = avx512!(_mm512_unpackhi_ps(v[2 * k], v[2 * k + 1]));
    }
    // Block L of v[4g + m]: rows 4g..4g+3 of column 4L + m.
    for g in 0..4 {
        let (a, b) = (t[4 * g], t[4 * g + 1]);
        let (c, d) = (t[4 * g + 2], t[4 * g + 3]);
        let pd = |x: __m512| avx512!(_mm512_castps_pd(x));
        let ps = |x: __m512d| avx512!(_mm512_castpd_ps(x));
        v[4 * g] = ps(avx512!(_mm512_unpacklo_pd(pd(a), pd(c))));
        v[4 * g + 1] = ps(avx512!(_mm512_unpackhi_pd(pd(a), pd(c))));
        v[4 * g + 2] = ps(avx512!(_mm512_unpacklo_pd(pd(b), pd(d))));
        v[4 * g + 3] = ps(avx512!(_mm512_unpackhi_pd(pd(b), pd(d))));
    }
    // Row groups (0, 1) and (2, 3) paired: t[m] holds blocks (column m: rows 0-3, column
    // 8+m: rows 0-3, column m: rows 4-7, column 8+m: rows 4-7), t[4+m] the same for columns
    // 4+m and 12+m; t[8..16] the same for rows 8-15.
    for h in 0..2 {
        for m in 0..4 {
            let (a, b) = (v[8 * h + m], v[8 * h + 4 + m]);
            t[8 * h + m] = avx512!(_mm512_shuffle_f32x4::<0x88>(a, b));
            t[8 * h + 4 + m] = avx512!(_mm512_shuffle_f32x4::<0xdd>(a, b));
        }
    }
    // Column j < 8 from the even blocks of t[j] and t[8 + j], column 8 + j from the odd ones.
    for j in 0..8 {
        let (a, b) = (t[j], t[8 + j]);
        v[j] = avx512!(_mm512_shuffle_f32x4::<0x88>(a, b));
        v[8 + j] = avx512!(_mm512_shuffle_f32x4::<0xdd>(a, b));
    }
}

/// Lane `l` of the result is lane `at[l] mod 32` of the vector pair `v[2q], v[2q+1]` with
/// `q = pair[l]` (`pair[l] < ceil(c / 2)`, `v[c..]` zero).
#[inline(always)]
fn pick_pairs(v: &[__m512; PERMUTE_COLUMNS], c: usize, at: __m512i, pair: __m512i) -> __m512 {
    let mut r = avx512!(_mm512_permutex2var_ps(v[0], at, v[1]));
    let mut q = 1;
    while 2 * q < c {
        let t = avx512!(_mm512_permutex2var_ps(v[2 * q], at, v[2 * q + 1]));
        let k = avx512!(_mm512_cmpeq_epi32_mask(pair, _mm512_set1_epi32(q as i32)));
        r = avx512!(_mm512_mask_blend_ps(k, r, t));
        q += 1;
    }
    r
}

/// The high 8 lanes of `v`, using only AVX-512F (`_mm512_extractf32x8_ps` needs DQ).
#[inline(always)]
fn high_half(v: __m512) -> __m256 {
    avx512!(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
        _mm512_castps_pd(v)
    )))
}

/// Lanes `0..8` and `8..16` of `v`, widened exactly to `f64`.
#[inline(always)]
fn widen(v: __m512) -> (__m512d, __m512d) {
    avx512!((
        _mm512_cvtps_pd(_mm512_castps512_ps256(v)),
        _mm512_cvtps_pd(high_half(v)),
    ))
}

/// `max(shuffle(a, b, LO), shuffle(a, b, HI))` of 128-bit blocks: one level of
/// [`Lanes::max_each`]'s tree.
#[inline(always)]
fn max_blocks<const LO: i32, const HI: i32>(a: __m512, b: __m512) -> __m512 {
    avx512!(_mm512_max_ps(
        _mm512_shuffle_f32x4::<LO>(a, b),
        _mm512_shuffle_f32x4::<HI>(a, b)
    ))
}

/// The maxima of the low and the high 64-bit halves of each block of `a` and `b`, one
/// level of [`Lanes::max_each`]'s tree.
#[inline(always)]
fn max_pairs(a: __m512, b: __m512) -> __m512 {
    avx512!({
        let (a, b) = (_mm512_castps_pd(a), _mm512_castps_pd(b));
        _mm512_max_ps(
            _mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
            _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)),
        )
    })
}

/// `shuffle(a, b, LO) + shuffle(a, b, HI)` of 128-bit blocks: one level of
/// [`Lanes::acc_sum_each`]'s tree.
#[inline(always)]
fn add_blocks<const LO: i32, const HI: i32>(a: __m512d, b: __m512d) -> __m512d {
    avx512!(_mm512_add_pd(
        _mm512_shuffle_f64x2::<LO>(a, b),
        _mm512_shuffle_f64x2::<HI>(a, b)
    ))
}

/// Per block, the first lane of `a` and of `b` plus the second: the last level of
/// [`Lanes::acc_sum_each`]'s tree.
#[inline(always)]
fn add_pairs(a: __m512d, b: __m512d) -> __m512d {
    avx512!(_mm512_add_pd(
        _mm512_unpacklo_pd(a, b),
        _mm512_unpackhi_pd(a, b)
    ))
}

/// Each lane `v` as [`Total::from_f64`] splits it, before its test for a finite `hi`:
/// `(v as f32, (v - hi) as f32)`, as 8 `f32` each.
#[inline(always)]
fn split_f64(v: __m512d) -> (__m256d, __m256d) {
    avx512!({
        let hi = _mm512_cvtpd_ps(v);
        let lo = _mm512_cvtpd_ps(_mm512_sub_pd(v, _mm512_cvtps_pd(hi)));
        (_mm256_castps_pd(hi), _mm256_castps_pd(lo))
    })
}

impl Lanes for Avx512 {
    const N: usize = 16;
    type Mask = __mmask16;
    /// Lanes `0..8` and `8..16`.
    type Acc = (__m512d, __m512d);
    /// Four vectors (measured: 1.1x the throughput of one at a time, eight spill too much).
    type Wide = super::Pair<super::Pair<Self>>;
    const SCALEF: bool = true;
    const MASK_REGS: bool = true;
    const UMAX_BITS: bool = true;
    const LANE_SPAN: bool = true;

    super::with_features! { avx512;
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
        // SAFETY: AVX-512F is present whenever this type is used (module documentation), and
        // `pow_rescue_avx512` needs only those (the features of this backend's entry points).
        unsafe { pow_rescue_avx512(&mut io) };
        io[0]
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 16 readable f32 at `p`; `loadu` needs no alignment;
        // AVX-512F is present whenever this type is used (module documentation).
        Avx512(unsafe { _mm512_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 16 writable f32 at `p`; `storeu` needs no alignment;
        // AVX-512F is present since `self` exists (module documentation).
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize, pad: f32) -> Self {
        let m = lane_mask(n);
        // SAFETY: the masked load reads only the first n <= 16 lanes, which the caller
        // guarantees readable (masked-out lanes are never accessed, so they cannot fault);
        // AVX-512F is present whenever this type is used (module documentation).
        Avx512(unsafe { _mm512_mask_loadu_ps(_mm512_set1_ps(pad), m, p) })
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        // SAFETY: the masked store writes only the first n <= 16 lanes, which the caller
        // guarantees writable; AVX-512F is present since `self` exists.
        unsafe { _mm512_mask_storeu_ps(p, lane_mask(n), self.0) }
    }
    #[inline(always)]
    unsafe fn load_strided(p: *const f32, stride: usize, n: usize) -> Self {
        // SAFETY: the masked gather reads p[i·stride] for the first n lanes only, which the
        // caller guarantees readable, at byte offsets below 2^31 (contract); AVX-512F is
        // present whenever this type is used (module documentation).
        unsafe {
            Avx512(_mm512_mask_i32gather_ps::<4>(
                _mm512_setzero_ps(),
                lane_mask(n),
                strided(stride),
                p,
            ))
        }
    }
    #[inline(always)]
    unsafe fn store_strided(self, p: *mut f32, stride: usize, n: usize) {
        // SAFETY: the masked scatter writes p[i·stride] for the first n lanes only, in lane
        // order, which the caller guarantees writable, at byte offsets below 2^31
        // (contract); AVX-512F is present since `self` exists.
        unsafe { _mm512_mask_i32scatter_ps::<4>(p, lane_mask(n), strided(stride), self.0) }
    }
    #[inline(always)]
    unsafe fn load_columns(p: *const f32, c: usize, n: usize, cols: *mut Self, step: usize) {
        if c > PERMUTE_COLUMNS {
            // Row i < n in v[i] (its first c lanes), the rows from n on 0.
            let mut v = [avx512!(_mm512_setzero_ps()); 16];
            for (i, vi) in v.iter_mut().enumerate().take(n.min(16)) {
                // SAFETY: the masked load reads only p[i·c..i·c + c], within the n·c values
                // (contract: i < n, c <= 16); masked-out lanes are never accessed.
                *vi = unsafe { _mm512_maskz_loadu_ps(lane_mask(c), p.add(i * c)) };
            }
            transpose(&mut v);
            for (j, vj) in v.iter().enumerate().take(c) {
                // SAFETY: cols.add(j·step) is writable for j < c (contract).
                unsafe { cols.add(j * step).write(Avx512(*vj)) };
            }
            return;
        }
        // The block is at most `c` whole vectors; the positions from n·c on load as 0 and
        // never touch memory.
        let mut v = [avx512!(_mm512_setzero_ps()); PERMUTE_COLUMNS];
        for (m, vm) in v.iter_mut().enumerate().take(c) {
            let k = lane_mask((n * c).saturating_sub(16 * m));
            // SAFETY: the masked load reads only positions below n·c (contract); masked-out
            // lanes are never accessed, so the address may lie past the block.
            *vm = unsafe { _mm512_maskz_loadu_ps(k, p.wrapping_add(16 * m)) };
        }
        let base = strided(c);
        for j in 0..c {
            // Lane i of column j is block position P = i·c + j: lane P mod 32 of the vector
            // pair P / 32, and the permute reads only the low 5 bits of P.
            let at = avx512!(_mm512_add_epi32(base, _mm512_set1_epi32(j as i32)));
            let col = pick_pairs(&v, c, at, avx512!(_mm512_srli_epi32::<5>(at)));
            // SAFETY: cols.add(j·step) is writable for j < c (contract).
            unsafe { cols.add(j * step).write(Avx512(col)) };
        }
    }
    #[inline(always)]
    unsafe fn store_columns(p: *mut f32, c: usize, n: usize, cols: *const Self, step: usize) {
        if c > PERMUTE_COLUMNS {
            // Column j < c in v[j], then row i in v[i] (its first c lanes).
            let mut v = [avx512!(_mm512_setzero_ps()); 16];
            for (j, vj) in v.iter_mut().enumerate().take(c.min(16)) {
                // SAFETY: cols.add(j·step) is readable for j < c (contract).
                *vj = unsafe { cols.add(j * step).read().0 };
            }
            transpose(&mut v);
            for (i, vi) in v.iter().enumerate().take(n) {
                // SAFETY: the masked store writes only p[i·c..i·c + c], within the n·c
                // writable values (contract: i < n); masked-out lanes are never accessed.
                unsafe { _mm512_mask_storeu_ps(p.add(i * c), lane_mask(c), *vi) };
            }
            return;
        }
        let mut v = [avx512!(_mm512_setzero_ps()); PERMUTE_COLUMNS];
        for (j, vj) in v.iter_mut().enumerate().take(c) {
            // SAFETY: cols.add(j·step) is readable for j < c (contract).
            *vj = unsafe { cols.add(j * step).read().0 };
        }
        let inv = avx512!(_mm512_set1_ps(1.0 / c as f32));
        let cv = avx512!(_mm512_set1_epi32(c as i32));
        for m in 0..c {
            // Block position P = 16·m + l is row i = P / c, column j = P - i·c: lane i of
            // column j, which is lane i + 16·(j mod 2) of the column pair j / 2. The
            // quotient in f32 is exact: (P + 1/2)/c is at least 1/(2c) from an integer and
            // P < 128.
            let pos = avx512!(_mm512_add_epi32(
                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                _mm512_set1_epi32(16 * m as i32),
            ));
            let row = avx512!(_mm512_cvttps_epi32(_mm512_mul_ps(
                _mm512_add_ps(_mm512_cvtepi32_ps(pos), _mm512_set1_ps(0.5)),
                inv
            )));
            let j = avx512!(_mm512_sub_epi32(pos, _mm512_mullo_epi32(row, cv)));
            let at = avx512!(_mm512_add_epi32(
                row,
                _mm512_slli_epi32::<4>(_mm512_and_si512(j, _mm512_set1_epi32(1)))
            ));
            let out = pick_pairs(&v, c, at, avx512!(_mm512_srli_epi32::<1>(j)));
            let k = lane_mask((n * c).saturating_sub(16 * m));
            // SAFETY: the masked store writes only positions below n·c, which are writable
            // (contract); masked-out lanes are never accessed.
            unsafe { _mm512_mask_storeu_ps(p.wrapping_add(16 * m), k, out) };
        }
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Avx512(avx512!(_mm512_set1_ps(v)))
    }
    #[inline(always)]
    fn iota() -> Self {
        Avx512(avx512!(_mm512_setr_ps(
            0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
        )))
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Avx512(avx512!(_mm512_add_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        Avx512(avx512!(_mm512_sub_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        Avx512(avx512!(_mm512_mul_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        // vdivps is correctly rounded (this is not the rcp14 estimate).
        Avx512(avx512!(_mm512_div_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // vsqrtps is correctly rounded (this is not the rsqrt14 estimate).
        Avx512(avx512!(_mm512_sqrt_ps(self.0)))
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        Avx512(avx512!(_mm512_fmadd_ps(self.0, b.0, c.0)))
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        // vfnmadd: -(self·b) + c, one rounding.
        Avx512(avx512!(_mm512_fnmadd_ps(self.0, b.0, c.0)))
    }
    #[inline(always)]
    fn neg(self) -> Self {
        // Integer xor of the sign bit: `_mm512_xor_ps` would need AVX-512DQ.
        Avx512(avx512!(_mm512_castsi512_ps(_mm512_xor_si512(
            _mm512_castps_si512(self.0),
            _mm512_set1_epi32(i32::MIN),
        ))))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        // Clears the sign bit (an integer and, AVX-512F).
        Avx512(avx512!(_mm512_abs_ps(self.0)))
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        // vminps returns the second operand when either is NaN (and for ±0 pairs).
        Avx512(avx512!(_mm512_min_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        // vmaxps returns the second operand when either is NaN (and for ±0 pairs).
        Avx512(avx512!(_mm512_max_ps(self.0, b.0)))
    }
    #[inline(always)]
    fn umax_bits(self, b: Self) -> Self {
        Avx512(avx512!(_mm512_castsi512_ps(_mm512_max_epu32(
            _mm512_castps_si512(self.0),
            _mm512_castps_si512(b.0)
        ))))
    }
    #[inline(always)]
    fn round(self) -> Self {
        // vrndscaleps with imm 0x08: scale 2^0 (round to an integer), nearest-even, no
        // precision exception. Exact for every input; unlike the magic-number trick of
        // `Scalar` it keeps the sign of a zero result (round(-0.3) = -0.0).
        Avx512(avx512!(_mm512_roundscale_ps::<
            { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
        >(self.0)))
    }
    #[inline(always)]
    fn mul_pow2(self, n: Self) -> Self {
        // n is integral in [-127, 128], so the conversion (current rounding mode) is exact
        // and the biased exponent n + 127 lies in [0, 255]: bits (n + 127) << 23 are 2^n,
        // or 0 for n = -127 and +inf for n = 128.
        avx512!({
            let e = _mm512_add_epi32(_mm512_cvtps_epi32(n.0), _mm512_set1_epi32(127));
            let pow = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(e));
            Avx512(_mm512_mul_ps(self.0, pow))
        })
    }
    #[inline(always)]
    fn frexp(self) -> (Self, Self) {
        // The biased exponent field minus 127, and the mantissa with the exponent of 1.0.
        avx512!({
            let bits = _mm512_castps_si512(self.0);
            let e = _mm512_sub_epi32(
                _mm512_and_si512(_mm512_srli_epi32::<23>(bits), _mm512_set1_epi32(0xff)),
                _mm512_set1_epi32(127),
            );
            let m = _mm512_or_si512(
                _mm512_and_si512(bits, _mm512_set1_epi32(0x007f_ffff)),
                _mm512_set1_epi32(0x3f80_0000),
            );
            (
                Avx512(_mm512_castsi512_ps(m)),
                Avx512(_mm512_cvtepi32_ps(e)),
            )
        })
    }
    #[inline(always)]
    fn ldexp(self, n: Self) -> Self {
        // vscalefps computes self·2^floor(n) with one rounding, subnormals and overflow
        // included.
        Avx512(avx512!(_mm512_scalef_ps(self.0, n.0)))
    }
    #[inline(always)]
    fn recip(self) -> Self {
        // 14-bit estimate, then one Newton step r + r·(1 - x·r): about 28 bits before the
        // final rounding, so within 1 ulp (vdivps on zmm has a fraction of the throughput).
        // Where 1/x is ±inf or ±0 (x = ±0, ±inf, |x| < 2^-128) the estimate is already
        // exact, but x·r is 0·inf or inf and the correction NaN or -inf; elsewhere
        // |1 - x·r| < 2^-13. So lanes with 1 - x·r > -1 are corrected, the others keep r
        // (one compare, and a masked FMA instead of a plain one).
        avx512!({
            let r = _mm512_rcp14_ps(self.0);
            let err = _mm512_fnmadd_ps(self.0, r, _mm512_set1_ps(1.0));
            let ok = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(err, _mm512_set1_ps(-1.0));
            Avx512(_mm512_mask_fmadd_ps(r, ok, err, r))
        })
    }
    #[inline(always)]
    fn recip_1_2(self) -> Self {
        // As `recip`, where every lane is corrected.
        avx512!({
            let r = _mm512_rcp14_ps(self.0);
            let err = _mm512_fnmadd_ps(self.0, r, _mm512_set1_ps(1.0));
            Avx512(_mm512_fmadd_ps(err, r, r))
        })
    }
    #[inline(always)]
    fn lt(self, b: Self) -> __mmask16 {
        avx512!(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(self.0, b.0))
    }
    #[inline(always)]
    fn lt_within(self, b: Self, m: __mmask16) -> __mmask16 {
        avx512!(_mm512_mask_cmp_ps_mask::<_CMP_LT_OQ>(m, self.0, b.0))
    }
    #[inline(always)]
    fn le(self, b: Self) -> __mmask16 {
        avx512!(_mm512_cmp_ps_mask::<_CMP_LE_OQ>(self.0, b.0))
    }
    #[inline(always)]
    fn eq(self, b: Self) -> __mmask16 {
        avx512!(_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(self.0, b.0))
    }
    #[inline(always)]
    fn ne(self, b: Self) -> __mmask16 {
        avx512!(_mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(self.0, b.0))
    }
    #[inline(always)]
    fn is_nan(self) -> __mmask16 {
        avx512!(_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(self.0, self.0))
    }
    #[inline(always)]
    fn select(m: __mmask16, a: Self, b: Self) -> Self {
        // vblendmps takes the second source where the mask bit is set.
        Avx512(avx512!(_mm512_mask_blend_ps(m, b.0, a.0)))
    }
    #[inline(always)]
    fn add_where(self, m: __mmask16, v: Self) -> Self {
        Avx512(avx512!(_mm512_mask_add_ps(self.0, m, self.0, v.0)))
    }
    #[inline(always)]
    fn and(a: __mmask16, b: __mmask16) -> __mmask16 {
        a & b
    }
    #[inline(always)]
    fn or(a: __mmask16, b: __mmask16) -> __mmask16 {
        a | b
    }
    #[inline(always)]
    fn not(a: __mmask16) -> __mmask16 {
        !a
    }
    #[inline(always)]
    fn xor(a: __mmask16, b: __mmask16) -> __mmask16 {
        a ^ b
    }
    #[inline(always)]
    fn any(m: __mmask16) -> bool {
        m != 0
    }
    #[inline(always)]
    fn first_set(m: __mmask16) -> Option<usize> {
        if m == 0 {
            None
        } else {
            Some(m.trailing_zeros() as usize)
        }
    }
    #[inline(always)]
    fn count(m: __mmask16) -> u32 {
        m.count_ones()
    }
    #[inline(always)]
    fn tally(t: Self, m: __mmask16) -> Self {
        // A masked integer subtract of -1: port 0 or 5.
        avx512!({
            let t = _mm512_castps_si512(t.0);
            let minus_one = _mm512_set1_epi32(-1);
            Avx512(_mm512_castsi512_ps(_mm512_mask_sub_epi32(
                t, m, t, minus_one,
            )))
        })
    }
    #[inline(always)]
    fn tally_sum(t: Self) -> u32 {
        avx512!(_mm512_reduce_add_epi32(_mm512_castps_si512(t.0))) as u32
    }
    #[inline(always)]
    fn reduce_max(self) -> f32 {
        // NaN lanes become -inf, then a tree of vmaxps (exact once no NaN is left; which
        // zero wins a ±0 tie is unspecified). If every lane is NaN, lane 0 is returned.
        let nan = self.is_nan();
        avx512!({
            let v = _mm512_mask_blend_ps(nan, self.0, _mm512_set1_ps(f32::NEG_INFINITY));
            let v8 = _mm256_max_ps(_mm512_castps512_ps256(v), high_half(v));
            let v4 = _mm_max_ps(_mm256_castps256_ps128(v8), _mm256_extractf128_ps::<1>(v8));
            let v2 = _mm_max_ps(v4, _mm_movehl_ps(v4, v4));
            let v1 = _mm_max_ss(v2, _mm_shuffle_ps::<0b01>(v2, v2));
            if nan == u16::MAX {
                _mm512_cvtss_f32(self.0)
            } else {
                _mm_cvtss_f32(v1)
            }
        })
    }
    #[inline(always)]
    fn acc_zero() -> Self::Acc {
        avx512!((_mm512_setzero_pd(), _mm512_setzero_pd()))
    }
    #[inline(always)]
    fn acc_add(acc: Self::Acc, v: Self) -> Self::Acc {
        let (lo, hi) = widen(v.0);
        avx512!((_mm512_add_pd(acc.0, lo), _mm512_add_pd(acc.1, hi)))
    }
    #[inline(always)]
    fn acc_join(a: Self::Acc, b: Self::Acc) -> Self::Acc {
        avx512!((_mm512_add_pd(a.0, b.0), _mm512_add_pd(a.1, b.1)))
    }
    #[inline(always)]
    fn acc_lanes(acc: Self::Acc) -> Self {
        // Lanes 0..8 from the low half, 8..16 from the high one (see `widen`); AVX-512F
        // only (no 256-bit float insert without DQ, so through the f64 view).
        Avx512(avx512!({
            let lo = _mm256_castps_pd(_mm512_cvtpd_ps(acc.0));
            let hi = _mm256_castps_pd(_mm512_cvtpd_ps(acc.1));
            _mm512_castpd_ps(_mm512_insertf64x4::<1>(_mm512_castpd256_pd512(lo), hi))
        }))
    }
    #[inline(always)]
    fn max_each(v: &[Self; MAX_LANES]) -> Self {
        // Four levels, each halving the lanes per row and doubling the rows per vector; the
        // pairings put row i in lane i at the end. Level 1: rows m and m + 4, m + 8 and
        // m + 12, one row per 256-bit half.
        // (Constant indices: no bounds checks, no `array::from_fn` closures left as calls.)
        let l1 = |a: usize, b: usize| max_blocks::<0b01_00_01_00, 0b11_10_11_10>(v[a].0, v[b].0);
        let w1 = [
            l1(0, 4),
            l1(8, 12),
            l1(1, 5),
            l1(9, 13),
            l1(2, 6),
            l1(10, 14),
            l1(3, 7),
            l1(11, 15),
        ];
        // Level 2: one row per 128-bit block; block k of w2[m] is row 4k + m.
        let l2 = |a: __m512, b: __m512| max_blocks::<0b10_00_10_00, 0b11_01_11_01>(a, b);
        let w2 = [
            l2(w1[0], w1[1]),
            l2(w1[2], w1[3]),
            l2(w1[4], w1[5]),
            l2(w1[6], w1[7]),
        ];
        // Level 3: two lanes per row; block k holds rows 4k + m and 4k + m + 1 (m = 0, 2).
        let (x, y) = (max_pairs(w2[0], w2[1]), max_pairs(w2[2], w2[3]));
        // Level 4: lane 4k + m is row 4k + m.
        Avx512(avx512!(_mm512_max_ps(
            _mm512_shuffle_ps::<0b10_00_10_00>(x, y),
            _mm512_shuffle_ps::<0b11_01_11_01>(x, y),
        )))
    }
    #[inline(always)]
    fn acc_sum_each(a: &[Self::Acc; MAX_LANES]) -> (Self, Self) {
        // `acc_sum`'s additions in its order (lane k += lane k + n/2 for n = 16, 8, 4, 2),
        // for 16 rows by a transposing tree; row i ends in lane i.
        let mut s8 = [a[0].0; MAX_LANES];
        for (s, a) in s8.iter_mut().zip(a) {
            *s = avx512!(_mm512_add_pd(a.0, a.1));
        }
        // n = 8, then 4: one row per 256-bit half, then per 128-bit block; block k of w2[q]
        // is row 8·(q / 2) + q % 2 + 2k.
        let l1 = |x: usize, y: usize| add_blocks::<0b01_00_01_00, 0b11_10_11_10>(s8[x], s8[y]);
        let l2 = |x: __m512d, y: __m512d| add_blocks::<0b10_00_10_00, 0b11_01_11_01>(x, y);
        let w2 = [
            l2(l1(0, 2), l1(4, 6)),
            l2(l1(1, 3), l1(5, 7)),
            l2(l1(8, 10), l1(12, 14)),
            l2(l1(9, 11), l1(13, 15)),
        ];
        // n = 2: lane i of the j-th sum is row 8j + i.
        let (h0, l0) = split_f64(add_pairs(w2[0], w2[1]));
        let (h1, l1) = split_f64(add_pairs(w2[2], w2[3]));
        avx512!({
            let hi = _mm512_insertf64x4::<1>(_mm512_castpd256_pd512(h0), h1);
            let lo = _mm512_insertf64x4::<1>(_mm512_castpd256_pd512(l0), l1);
            let (hi, lo) = (_mm512_castpd_ps(hi), _mm512_castpd_ps(lo));
            // `Total::from_f64`: the rest only where `hi` is finite.
            let finite =
                _mm512_cmp_ps_mask::<_CMP_LT_OQ>(_mm512_abs_ps(hi), _mm512_set1_ps(f32::INFINITY));
            (Avx512(hi), Avx512(_mm512_maskz_mov_ps(finite, lo)))
        })
    }
    #[inline(always)]
    fn acc_sum(acc: Self::Acc) -> Total {
        // Halving order, fixed: lane i += lane i + n/2 for n = 16, 8, 4, 2.
        Total::from_f64(avx512!({
            let s8 = _mm512_add_pd(acc.0, acc.1);
            let s4 = _mm256_add_pd(_mm512_castpd512_pd256(s8), _mm512_extractf64x4_pd::<1>(s8));
            let s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd::<1>(s4));
            _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)))
        }))
    }
}

super::with_features! { avx512;
    /// The one copy of [`Lanes::pow_rescue`] for this backend, compiled with the features of its
    /// entry points (`backend::entries!`), so that its lane methods inline as in the kernels and
    /// give the same bits. The vectors go through memory: no vector value crosses a call.
    ///
    /// # Safety
    /// The CPU has `avx512f,popcnt`.
    #[inline(never)]
    unsafe fn pow_rescue_avx512(io: &mut [Avx512; 4]) {
        super::rescue(io);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::Avx512;
    use crate::simd::Lanes;
    use crate::simd::testing::{self, Fused};

    crate::simd::with_features! { avx512;
        /// The lanes with the entry points' features.
        fn differential(seed: u64) {
            testing::run::<Avx512>(Fused::Always, seed, 20_000);
            testing::run::<<Avx512 as Lanes>::Wide>(Fused::Always, seed, 5_000);
            testing::ldexp_rounds_once::<Avx512>(seed, 20_000);
        }
    }

    /// Whether the CPU has the backend's features (`Backend::is_available`).
    fn available() -> bool {
        let ok = crate::Backend::Avx512.is_available();
        if !ok {
            std::println!("skipped: this CPU lacks the AVX-512 backend's features");
        }
        ok
    }

    #[test]
    fn lanes_match_scalar() {
        if !available() {
            return;
        }
        for seed in 1..=4 {
            // SAFETY: the CPU has the backend's features (checked above), so an `Avx512`
            // may exist.
            unsafe { differential(seed) };
        }
    }

    crate::simd::with_features! { avx512;
        /// Every `x` in `[1, 2]`: one Newton step on the 14-bit estimate is within 1 ulp.
        fn recip_1_2_everywhere() -> (u32, u32) {
            use crate::simd::Lanes;
            let (lo, hi) = (1.0f32.to_bits(), 2.0f32.to_bits());
            let mut worst = (0, lo);
            let mut xs = [0.0f32; 16];
            let mut got = [0.0f32; 16];
            let mut b = lo;
            while b <= hi {
                for (k, x) in xs.iter_mut().enumerate() {
                    *x = f32::from_bits((b + k as u32).min(hi));
                }
                // SAFETY: both arrays hold 16 values; AVX-512F is enabled on this
                // function.
                unsafe {
                    Avx512::load(xs.as_ptr())
                        .recip_1_2()
                        .store(got.as_mut_ptr())
                };
                for (x, g) in xs.iter().zip(&got) {
                    let (want, g) = ((1.0 / *x as f64) as f32, *g);
                    let d = (g.to_bits() as i64 - want.to_bits() as i64).unsigned_abs() as u32;
                    if d > worst.0 {
                        worst = (d, x.to_bits());
                    }
                }
                b += 16;
            }
            worst
        }
    }

    #[test]
    fn recip_1_2_within_one_ulp() {
        if !available() {
            return;
        }
        // SAFETY: the CPU has AVX-512F (checked above).
        let (ulps, at) = unsafe { recip_1_2_everywhere() };
        assert!(ulps <= 1, "{ulps} ulp at {}", f32::from_bits(at));
    }
}
