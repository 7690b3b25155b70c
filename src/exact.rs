//! [`Exact`]: the exact sum of any number of `f32` values, so that the order in which partial
//! sums are combined cannot change a bit of the result.
//!
//! Why: a long reduction is cut into blocks of a fixed size (see `split`); each block is
//! summed by a kernel into a [`Total`], and the blocks' totals are added here. Exact addition
//! is associative and commutative, so the result is the same whether one thread adds the
//! blocks in order, rayon's pool adds them in any tree, or a caller joins [`Partial`]s it
//! computed on its own threads.
//!
//! Every finite `f32` is an integer multiple of `2^-149` (the smallest subnormal) below
//! `2^128`, so a two's-complement fixed-point integer with that unit holds any sum of them
//! exactly: 384 bits (twelve `u32` words, integer operations only, which a Cortex-M has) leave
//! room for `2^200` values of the largest magnitude. Infinities and NaN are kept as flags.
//!
//! [`Partial`]: crate::Partial

use crate::total::Total;

const WORDS: usize = 12;

/// An exact sum of `f32` values (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exact {
    /// The sum in units of `2^-149`, two's complement, least significant word first.
    w: [u32; WORDS],
    /// Bit 0: a `+inf` was added; bit 1: a `-inf`; bit 2: a NaN.
    special: u8,
}

const POS_INF: u8 = 1;
const NEG_INF: u8 = 2;
const NAN: u8 = 4;

/// Word `i` of `w`, 0 past the end.
#[inline]
fn word_at(w: &[u32; WORDS], i: usize) -> u32 {
    w.get(i).copied().unwrap_or(0)
}

/// `2^k` for `k` in `-126..=127`.
#[inline]
fn pow2(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

impl Exact {
    /// The sum of nothing.
    pub(crate) const ZERO: Exact = Exact {
        w: [0; WORDS],
        special: 0,
    };

    /// Adds `v`.
    pub(crate) fn add(&mut self, v: f32) {
        let b = v.to_bits();
        let e = (b >> 23) & 0xff;
        if e == 0xff {
            self.special |= if b & 0x7f_ffff != 0 {
                NAN
            } else if b >> 31 != 0 {
                NEG_INF
            } else {
                POS_INF
            };
            return;
        }
        // v = ±m·2^(p - 149): subnormals have exponent field 0 and unit 2^-149.
        let (m, p) = if e == 0 {
            (b & 0x7f_ffff, 0)
        } else {
            ((b & 0x7f_ffff) | 0x80_0000, e - 1)
        };
        if m == 0 {
            return;
        }
        let wide = u64::from(m) << (p % 32);
        let (lo, hi) = (wide as u32, (wide >> 32) as u32);
        let i = (p / 32) as usize;
        if b >> 31 == 0 {
            self.add_at(i, lo, hi);
        } else {
            self.sub_at(i, lo, hi);
        }
    }

    /// Adds `hi·2^32 + lo` at word `i` (at most word 8: `p <= 253`), carrying upwards.
    #[inline]
    fn add_at(&mut self, i: usize, lo: u32, hi: u32) {
        self.apply_at(i, lo, hi, u32::overflowing_add);
    }

    /// Subtracts `hi·2^32 + lo` at word `i`, borrowing upwards.
    #[inline]
    fn sub_at(&mut self, i: usize, lo: u32, hi: u32) {
        self.apply_at(i, lo, hi, u32::overflowing_sub);
    }

    /// `op` (a wrapping add or subtract that says whether it carried or borrowed) of
    /// `hi·2^32 + lo` at word `i`, the carry or borrow going upwards until there is none.
    #[inline(always)]
    fn apply_at(&mut self, i: usize, lo: u32, hi: u32, op: fn(u32, u32) -> (u32, bool)) {
        let mut carry = false;
        for (k, word) in self.w.iter_mut().enumerate().skip(i) {
            let v = if k == i {
                lo
            } else if k == i + 1 {
                hi
            } else if carry {
                0
            } else {
                return;
            };
            let (s1, c1) = op(*word, v);
            let (s2, c2) = op(s1, u32::from(carry));
            *word = s2;
            carry = c1 || c2;
        }
    }

    /// Adds a kernel's total (both of its words).
    pub(crate) fn add_total(&mut self, t: Total) {
        let (hi, lo) = t.parts();
        self.add(hi);
        self.add(lo);
    }

    /// `self + o`, exactly.
    pub(crate) fn join(mut self, o: &Exact) -> Exact {
        let mut carry = false;
        for (a, &b) in self.w.iter_mut().zip(o.w.iter()) {
            let (s1, c1) = a.overflowing_add(b);
            let (s2, c2) = s1.overflowing_add(u32::from(carry));
            *a = s2;
            carry = c1 || c2;
        }
        self.special |= o.special;
        self
    }

    /// The sum rounded to the nearest `f32` (ties to even; `±inf` beyond the range), or the
    /// non-finite value the flags give.
    fn round(&self) -> f32 {
        match self.special {
            0 => {}
            POS_INF => return f32::INFINITY,
            NEG_INF => return f32::NEG_INFINITY,
            _ => return f32::NAN,
        }
        let negative = self.w[WORDS - 1] >> 31 != 0;
        let mut mag = self.w;
        if negative {
            // Two's complement negation: invert, add one.
            let mut carry = true;
            for word in mag.iter_mut() {
                let (s, c) = (!*word).overflowing_add(u32::from(carry));
                *word = s;
                carry = c;
            }
        }
        // The highest set bit of the magnitude (no indexing below: no panic path).
        let Some((top, &word)) = mag.iter().enumerate().rev().find(|(_, w)| **w != 0) else {
            return 0.0;
        };
        let h = top as i32 * 32 + 31 - word.leading_zeros() as i32;
        let v = if h < 24 {
            // Below 2^24 units: a subnormal or small normal, exactly representable.
            mag[0] as f32 * f32::from_bits(1)
        } else {
            // A 32-bit window whose top bit is bit `h`, with every bit below it folded into
            // its last bit ("sticky"): 8 bits below the 24 kept ones, so converting the window
            // rounds as converting the whole number would.
            let low = h - 31;
            let window = if low <= 0 {
                mag[0] << -low
            } else {
                let (i, s) = ((low / 32) as usize, (low % 32) as u32);
                let (at, next) = (word_at(&mag, i), word_at(&mag, i + 1));
                let w = if s == 0 {
                    at
                } else {
                    (at >> s) | (next << (32 - s))
                };
                let below = mag.iter().take(i).any(|&x| x != 0) || (s != 0 && at << (32 - s) != 0);
                w | u32::from(below)
            };
            let f = window as f32;
            // v = f·2^(low - 149); f is in [2^31, 2^32].
            let k = low - 149;
            if k >= 97 {
                f32::INFINITY
            } else {
                let k1 = k.max(-126);
                // Both products are exact (or overflow to inf, which is the rounded value).
                f * pow2(k1) * pow2(k - k1)
            }
        };
        if negative { -v } else { v }
    }

    /// The sum as a [`Total`]: the nearest `f32` and the nearest `f32` to what is left.
    pub(crate) fn total(&self) -> Total {
        let hi = self.round();
        if !hi.is_finite() {
            return Total::from_f32(hi);
        }
        let mut rest = *self;
        rest.add(-hi);
        Total::from_parts(hi, rest.round())
    }

    /// The words of the C ABI's partial (`focal_partial`): `w`, then the flags. [`ZERO`]
    /// is all zero words.
    ///
    /// [`ZERO`]: Self::ZERO
    #[cfg(feature = "capi")]
    pub(crate) fn to_words(self) -> [u32; WORDS + 1] {
        let mut out = [0; WORDS + 1];
        for (o, &w) in out.iter_mut().zip(&self.w) {
            *o = w;
        }
        let [.., flags] = &mut out;
        *flags = u32::from(self.special);
        out
    }

    /// The sum [`to_words`](Self::to_words) gave. Any words are a sum; flags that no sum has
    /// (the words were not made by `to_words`) read as a NaN.
    #[cfg(feature = "capi")]
    pub(crate) fn from_words(words: [u32; WORDS + 1]) -> Exact {
        let mut e = Exact::ZERO;
        for (w, &v) in e.w.iter_mut().zip(&words) {
            *w = v;
        }
        let [.., flags] = words;
        e.special = match u8::try_from(flags) {
            Ok(f) if f <= POS_INF | NEG_INF | NAN => f,
            _ => NAN,
        };
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// A deterministic stream of values of both signs over most binades (subnormals and
    /// values near `f32::MAX` included).
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let v = f32::from_bits(s & 0x7f7f_ffff | (s & 0x8000_0000));
                if v.is_finite() { v } else { 1.0 }
            })
            .collect()
    }

    fn exact_of(v: &[f32]) -> Exact {
        let mut e = Exact::ZERO;
        for &x in v {
            e.add(x);
        }
        e
    }

    #[test]
    fn rounds_small_sums_as_f64_does() {
        // Four values of both signs within 2^10 of each other: f64 holds their sum exactly,
        // so `as f32` of it is the correctly rounded sum.
        let mut s = 7u32;
        for _ in 0..100_000 {
            let mut e = Exact::ZERO;
            let mut exact = 0.0f64;
            for _ in 0..4 {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let exponent = 100 + (s >> 28) % 11;
                let v = f32::from_bits((s & 0x807f_ffff) | (exponent << 23));
                e.add(v);
                exact += v as f64;
            }
            assert_eq!(e.round().to_bits(), (exact as f32).to_bits(), "{exact}");
            let (hi, lo) = e.total().parts();
            assert_eq!(hi as f64 + lo as f64, exact);
        }
    }

    #[test]
    fn order_and_grouping_do_not_matter() {
        let v = values(3000, 0x1234_5678);
        let whole = exact_of(&v);
        let mut rev: Vec<f32> = v.clone();
        rev.reverse();
        assert_eq!(exact_of(&rev), whole);
        for cut in [1, 17, 1500, 2999] {
            assert_eq!(exact_of(&v[..cut]).join(&exact_of(&v[cut..])), whole);
        }
        // x + (-x) over everything leaves exactly zero.
        let mut z = whole;
        for &x in &v {
            z.add(-x);
        }
        assert_eq!(z, Exact::ZERO);
        assert_eq!(z.round().to_bits(), 0);
    }

    #[test]
    fn extremes() {
        let mut e = Exact::ZERO;
        e.add(f32::from_bits(1));
        assert_eq!(e.round().to_bits(), 1);
        e.add(-f32::from_bits(3));
        assert_eq!(e.round(), -f32::from_bits(2));
        // Beyond f32::MAX: inf, and back.
        let mut m = Exact::ZERO;
        m.add(f32::MAX);
        m.add(f32::MAX);
        assert_eq!(m.round(), f32::INFINITY);
        m.add(-f32::MAX);
        assert_eq!(m.round(), f32::MAX);
        // Half an ulp above MAX rounds to inf; a bit less to MAX.
        let half_ulp = f32::from_bits(0x7300_0000); // 2^103 = ulp(MAX)/2
        let mut t = Exact::ZERO;
        t.add(f32::MAX);
        t.add(half_ulp);
        assert_eq!(t.round(), f32::INFINITY);
        t.add(-f32::from_bits(1));
        assert_eq!(t.round(), f32::MAX);
        // Ties to even at 1 + 2^-24 (tie, rounds down to 1), 1 + 3·2^-24 (tie, up).
        let mut one = Exact::ZERO;
        one.add(1.0);
        one.add(f32::from_bits(0x3380_0000)); // 2^-24
        assert_eq!(one.round(), 1.0);
        one.add(f32::from_bits(0x3400_0000)); // + 2^-23
        assert_eq!(one.round(), 1.0 + f32::EPSILON * 2.0);
        // ... and the sticky bit far below breaks a tie.
        let mut s = Exact::ZERO;
        s.add(1.0);
        s.add(f32::from_bits(0x3380_0000));
        s.add(f32::from_bits(1));
        assert_eq!(s.round(), 1.0 + f32::EPSILON);
        // Specials.
        let mut n = Exact::ZERO;
        n.add(f32::INFINITY);
        assert_eq!(n.round(), f32::INFINITY);
        n.add(f32::NEG_INFINITY);
        assert!(n.round().is_nan());
        let mut q = Exact::ZERO;
        q.add(f32::NAN);
        assert!(q.total().is_nan());
    }

    #[test]
    fn total_of_a_single_total_is_itself() {
        for v in values(5000, 99) {
            let t = Total::from_f32(v).add(v * 1e-9);
            let mut e = Exact::ZERO;
            e.add_total(t);
            assert_eq!(e.total().value().to_bits(), t.value().to_bits());
            assert_eq!(e.total().parts(), t.parts());
        }
    }
}
