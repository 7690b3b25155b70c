//! Two vectors evaluated in lockstep.
//!
//! A kernel written for [`Lanes`] and instantiated with `Pair<S>` issues every operation
//! twice in a row, once per half. The generated code then interleaves two independent
//! dependency chains instruction by instruction, where evaluating two `S` vectors one after
//! the other puts a whole chain between them (the sigmoid's `exp`, reciprocal, `log1p` and
//! focal terms: on the order of 100 cycles of latency), more than the out-of-order
//! scheduler can look across. Every
//! operation is the one of `S` on each half, so results are bit-identical to `S`'s.
//!
//! Not a backend: it is what [`Lanes::Wide`] is made of, used by the sigmoid main loop and
//! the softmax rows of at most 16 classes.

use super::Lanes;

/// Methods `self.f(b)` and `self.f()` that apply `S::f` to each half; the result is a
/// `Pair` for `-> Self`, a pair of masks for `-> Self::Mask`.
macro_rules! halves {
    (fn $($f:ident),+ (b: Self) -> Self) => {$(
        #[inline(always)]
        fn $f(self, b: Self) -> Self {
            Pair(self.0.$f(b.0), self.1.$f(b.1))
        }
    )+};
    (fn $($f:ident),+ () -> Self) => {$(
        #[inline(always)]
        fn $f(self) -> Self {
            Pair(self.0.$f(), self.1.$f())
        }
    )+};
    (fn $($f:ident),+ (b: Self) -> Self::Mask) => {$(
        #[inline(always)]
        fn $f(self, b: Self) -> Self::Mask {
            (self.0.$f(b.0), self.1.$f(b.1))
        }
    )+};
}

/// Lanes `0..S::N` in `.0`, lanes `S::N..2·S::N` in `.1` (`repr(C)`: the two halves are
/// consecutive `S` values, which [`Lanes::load_columns`] relies on).
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Pair<S>(pub S, pub S);

impl<S: Lanes> Lanes for Pair<S> {
    const N: usize = 2 * S::N;
    type Mask = (S::Mask, S::Mask);
    type Acc = (S::Acc, S::Acc);
    type Wide = Self;
    const SCALEF: bool = S::SCALEF;
    const UMAX_BITS: bool = S::UMAX_BITS;
    const LANE_SPAN: bool = S::LANE_SPAN;
    const HARD_PATH: bool = S::HARD_PATH;
    const PIPELINED_HARD: bool = S::PIPELINED_HARD;
    const COLUMN_LOOP: bool = S::COLUMN_LOOP;
    const MASK_REGS: bool = S::MASK_REGS;
    const GROUP: bool = true;
    const TALLY: bool = S::TALLY;

    #[inline(always)]
    unsafe fn outline<O: crate::simd::Outline>(o: O) -> O::Out {
        // SAFETY: forwarded: the features of `S`, which are this type's.
        unsafe { S::outline(o) }
    }

    #[inline(always)]
    fn pow_rescue(v: Self, l: Self, ce: Self, gamma: Self) -> Self {
        Pair(
            S::pow_rescue(v.0, l.0, ce.0, gamma.0),
            S::pow_rescue(v.1, l.1, ce.1, gamma.1),
        )
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 2·S::N readable values at `p`.
        unsafe { Pair(S::load(p), S::load(p.add(S::N))) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 2·S::N writable values at `p`.
        unsafe {
            self.0.store(p);
            self.1.store(p.add(S::N));
        }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize, pad: f32) -> Self {
        // SAFETY: the caller guarantees `n` readable values at `p`; each half reads only
        // its own part of them.
        unsafe {
            if n <= S::N {
                Pair(S::load_first(p, n, pad), S::splat(pad))
            } else {
                Pair(S::load(p), S::load_first(p.add(S::N), n - S::N, pad))
            }
        }
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        // SAFETY: the caller guarantees `n` writable values at `p`; each half writes only
        // its own part of them.
        unsafe {
            if n <= S::N {
                self.0.store_first(p, n);
            } else {
                self.0.store(p);
                self.1.store_first(p.add(S::N), n - S::N);
            }
        }
    }
    #[inline(always)]
    unsafe fn load_strided(p: *const f32, stride: usize, n: usize) -> Self {
        // SAFETY: p[i·stride] is readable for i < n (contract); the second half starts at
        // i = S::N and reads only when n > S::N.
        unsafe {
            let hi = if n > S::N {
                S::load_strided(p.add(S::N * stride), stride, n - S::N)
            } else {
                S::splat(0.0)
            };
            Pair(S::load_strided(p, stride, n.min(S::N)), hi)
        }
    }
    #[inline(always)]
    unsafe fn store_strided(self, p: *mut f32, stride: usize, n: usize) {
        // SAFETY: p[i·stride] is writable for i < n (contract), as in `load_strided`.
        unsafe {
            self.0.store_strided(p, stride, n.min(S::N));
            if n > S::N {
                self.1.store_strided(p.add(S::N * stride), stride, n - S::N);
            }
        }
    }
    #[inline(always)]
    unsafe fn load_columns(p: *const f32, c: usize, n: usize, cols: *mut Self, step: usize) {
        // A `Pair<S>` is laid out as two `S` (`repr(C)`), so the halves of the columns are
        // `S` values every `2·step` from the first half's and the second half's address.
        let half = cols.cast::<S>();
        // SAFETY: the first S::N rows are the first n.min(S::N)·c values; the second half's
        // rows start at row S::N and exist only when n > S::N; both column halves lie
        // within the caller's `Pair`s (contract).
        unsafe {
            S::load_columns(p, c, n.min(S::N), half, 2 * step);
            if n > S::N {
                S::load_columns(p.add(S::N * c), c, n - S::N, half.add(1), 2 * step);
            } else {
                for j in 0..c {
                    half.add(2 * j * step + 1).write(S::splat(0.0));
                }
            }
        }
    }
    #[inline(always)]
    unsafe fn store_columns(p: *mut f32, c: usize, n: usize, cols: *const Self, step: usize) {
        let half = cols.cast::<S>();
        // SAFETY: as in `load_columns`.
        unsafe {
            S::store_columns(p, c, n.min(S::N), half, 2 * step);
            if n > S::N {
                S::store_columns(p.add(S::N * c), c, n - S::N, half.add(1), 2 * step);
            }
        }
    }

    #[inline(always)]
    fn splat(v: f32) -> Self {
        Pair(S::splat(v), S::splat(v))
    }
    #[inline(always)]
    fn iota() -> Self {
        Pair(S::iota(), S::iota().add(S::splat(S::N as f32)))
    }
    halves!(fn add, sub, mul, div, min, max, umax_bits, mul_pow2, ldexp (b: Self) -> Self);
    halves!(fn neg, abs, round, recip, recip_1_2, sqrt () -> Self);
    halves!(fn lt, le, eq, ne (b: Self) -> Self::Mask);
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        Pair(self.0.mul_add(b.0, c.0), self.1.mul_add(b.1, c.1))
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        Pair(self.0.neg_mul_add(b.0, c.0), self.1.neg_mul_add(b.1, c.1))
    }
    #[inline(always)]
    fn frexp(self) -> (Self, Self) {
        let (m0, e0) = self.0.frexp();
        let (m1, e1) = self.1.frexp();
        (Pair(m0, m1), Pair(e0, e1))
    }

    #[inline(always)]
    fn is_nan(self) -> Self::Mask {
        (self.0.is_nan(), self.1.is_nan())
    }
    #[inline(always)]
    fn select(m: Self::Mask, a: Self, b: Self) -> Self {
        Pair(S::select(m.0, a.0, b.0), S::select(m.1, a.1, b.1))
    }
    #[inline(always)]
    fn add_where(self, m: Self::Mask, v: Self) -> Self {
        Pair(self.0.add_where(m.0, v.0), self.1.add_where(m.1, v.1))
    }
    #[inline(always)]
    fn lt_within(self, b: Self, m: Self::Mask) -> Self::Mask {
        (self.0.lt_within(b.0, m.0), self.1.lt_within(b.1, m.1))
    }
    #[inline(always)]
    fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask {
        (S::and(a.0, b.0), S::and(a.1, b.1))
    }
    #[inline(always)]
    fn or(a: Self::Mask, b: Self::Mask) -> Self::Mask {
        (S::or(a.0, b.0), S::or(a.1, b.1))
    }
    #[inline(always)]
    fn not(a: Self::Mask) -> Self::Mask {
        (S::not(a.0), S::not(a.1))
    }
    #[inline(always)]
    fn xor(a: Self::Mask, b: Self::Mask) -> Self::Mask {
        (S::xor(a.0, b.0), S::xor(a.1, b.1))
    }
    #[inline(always)]
    fn any(m: Self::Mask) -> bool {
        S::any(S::or(m.0, m.1))
    }
    #[inline(always)]
    fn first_set(m: Self::Mask) -> Option<usize> {
        match S::first_set(m.0) {
            Some(i) => Some(i),
            None => S::first_set(m.1).map(|i| S::N + i),
        }
    }
    #[inline(always)]
    fn count(m: Self::Mask) -> u32 {
        S::count(m.0) + S::count(m.1)
    }
    #[inline(always)]
    fn tally(t: Self, m: Self::Mask) -> Self {
        Pair(S::tally(t.0, m.0), S::tally(t.1, m.1))
    }
    #[inline(always)]
    fn tally_sum(t: Self) -> u32 {
        S::tally_sum(t.0).wrapping_add(S::tally_sum(t.1))
    }

    #[inline(always)]
    fn reduce_max(self) -> f32 {
        // Each half skips its NaN lanes unless all are NaN (then it returns its lane 0).
        let (a, b) = (self.0.reduce_max(), self.1.reduce_max());
        if b.is_nan() || a > b { a } else { b }
    }
    #[inline(always)]
    fn acc_zero() -> Self::Acc {
        (S::acc_zero(), S::acc_zero())
    }
    #[inline(always)]
    fn acc_add(acc: Self::Acc, v: Self) -> Self::Acc {
        (S::acc_add(acc.0, v.0), S::acc_add(acc.1, v.1))
    }
    #[inline(always)]
    fn acc_join(a: Self::Acc, b: Self::Acc) -> Self::Acc {
        (S::acc_join(a.0, b.0), S::acc_join(a.1, b.1))
    }
    #[inline(always)]
    fn acc_lanes(acc: Self::Acc) -> Self {
        Pair(S::acc_lanes(acc.0), S::acc_lanes(acc.1))
    }
    #[inline(always)]
    fn acc_sum(acc: Self::Acc) -> super::Total {
        // The halving order: lane i += lane i + S::N first, then `S`'s halving.
        S::acc_sum(S::acc_join(acc.0, acc.1))
    }
}
