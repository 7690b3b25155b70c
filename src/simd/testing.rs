//! A differential test of any lane type against [`Scalar`], lane by lane, shared by the
//! tests of every SIMD backend. The AVX2 and AVX-512 tests call [`run`] from inside their own
//! `#[target_feature]` functions (it is `#[inline(always)]`, so every lane method is
//! compiled with those features).

// Lane-by-lane checks index several arrays (inputs, results, expectations) in parallel.
#![allow(clippy::needless_range_loop)]

use crate::simd::{Lanes, MAX_COLUMNS, MAX_LANES, MAX_WIDE, Scalar, Total, first_lanes};

/// What `mul_add` and `neg_mul_add` must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fused {
    /// One rounding, always (the AVX backends, x86_64 only).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Always,
    /// One rounding, or two exactly as in `Scalar` (the target decides).
    Either,
}

type Arr = [f32; MAX_WIDE];
/// A `Scalar` operation of up to three operands, the reference for one lane.
type ScalarOp = fn(Scalar, Scalar, Scalar) -> Scalar;

/// splitmix64.
struct Rng(u64);

const SPECIALS: [f32; 36] = [
    0.0,
    -0.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    -f32::NAN,
    f32::from_bits(0x7fc0_1234), // quiet NaN with a payload
    f32::from_bits(0xff80_0001), // signalling NaN
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    f32::from_bits(1), // smallest subnormal
    f32::from_bits(0x8000_0001),
    f32::from_bits(0x007f_ffff), // largest subnormal
    f32::MAX,
    f32::MIN,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    0.499_999_97,
    4_194_303.5,
    -4_194_303.5,
    8_388_608.0,
    1e-30,
    1e30,
    88.72,
    -103.9,
    -104.0,
    89.0,
    2.0,
    3.0,
    -126.0,
    127.0,
];

/// A few values whose vectors often are all NaN, all -inf, or tied zeros.
const FEW: [f32; 5] = [f32::NAN, f32::NEG_INFINITY, -0.0, 0.0, 1.0];

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn sign(&mut self) -> u32 {
        (self.next() as u32) & 0x8000_0000
    }
    /// Any f32, weighted towards the interesting ones.
    fn any(&mut self) -> f32 {
        match self.below(8) {
            0 | 1 => SPECIALS[self.below(SPECIALS.len() as u64) as usize],
            // Any bit pattern: NaN payloads included.
            2 => f32::from_bits(self.next() as u32),
            // Subnormal.
            3 => f32::from_bits(self.sign() | self.below(0x0080_0000) as u32),
            // Huge: products overflow.
            4 => f32::from_bits(
                self.sign() | (0xf0 + self.below(15) as u32) << 23 | self.below(1 << 23) as u32,
            ),
            // Halves: ties for `round`.
            5 => (self.below(1 << 12) as f32 - 2048.0) * 0.5,
            _ => self.moderate(),
        }
    }
    /// Uniform in [-200, 200).
    fn moderate(&mut self) -> f32 {
        (self.below(1 << 24) as f32 / 16_777_216.0) * 400.0 - 200.0
    }
    /// Finite, |x| < 2^22: the domain of `round`.
    fn round_domain(&mut self) -> f32 {
        match self.below(4) {
            0 => {
                let s = [0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 0.499_999_97, 4_194_303.5];
                s[self.below(s.len() as u64) as usize]
            }
            1 => (self.below(1 << 23) as f32 - 4_194_304.0) * 0.5,
            2 => (self.below(1 << 20) as f32 - 524_288.0) * 0.125,
            // Random bits with an unbiased exponent below 22.
            _ => f32::from_bits(self.sign() | self.below(149 << 23) as u32),
        }
    }
    fn vec(&mut self) -> Arr {
        let mut a = [0.0; MAX_WIDE];
        let few = self.below(8) == 0;
        for x in a.iter_mut() {
            *x = if few {
                FEW[self.below(FEW.len() as u64) as usize]
            } else {
                self.any()
            };
        }
        a
    }
}

#[inline(always)]
fn load<S: Lanes>(a: &Arr) -> S {
    // SAFETY: `a` holds MAX_WIDE >= S::N readable f32.
    unsafe { S::load(a.as_ptr()) }
}
#[inline(always)]
fn lanes<S: Lanes>(v: S) -> Arr {
    let mut a = [0.0; MAX_WIDE];
    // SAFETY: `a` holds MAX_WIDE >= S::N writable f32.
    unsafe { v.store(a.as_mut_ptr()) };
    a
}
#[inline(always)]
fn bools<S: Lanes>(m: S::Mask) -> [bool; MAX_WIDE] {
    let v = lanes(S::select(m, S::splat(1.0), S::splat(2.0)));
    let mut b = [false; MAX_WIDE];
    for i in 0..S::N {
        assert!(v[i] == 1.0 || v[i] == 2.0, "select of a mask gave {}", v[i]);
        b[i] = v[i] == 1.0;
    }
    b
}

/// The same value: both NaN, or the same bits.
fn same(x: f32, y: f32) -> bool {
    (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
}

/// `a·b + c` rounded once: exact product in f64, the sum rounded to odd, then to f32
/// (53 >= 24 + 2 bits, so the double rounding is correct).
fn fused(a: f32, b: f32, c: f32) -> f32 {
    let p = a as f64 * b as f64;
    let c = c as f64;
    let s = p + c;
    if !s.is_finite() {
        return s as f32;
    }
    let bb = s - p;
    let err = (p - (s - bb)) + (c - bb);
    let s = if err == 0.0 || s.to_bits() & 1 == 1 {
        s
    } else if err > 0.0 {
        s.next_up()
    } else {
        s.next_down()
    };
    s as f32
}

/// `x·2^n` rounded once (the f64 product is exact).
fn ldexp_ref(x: f32, n: f32) -> f32 {
    let pow = f64::from_bits(((n as i64 + 1023) as u64) << 52);
    (x as f64 * pow) as f32
}

/// Distance in ulps between two finite floats of the same sign (u32::MAX otherwise).
fn ulps(x: f32, y: f32) -> u32 {
    if !x.is_finite() || !y.is_finite() || (x.to_bits() ^ y.to_bits()) >> 31 != 0 {
        return u32::MAX;
    }
    x.to_bits().abs_diff(y.to_bits())
}

/// Lanes summed in the halving order: lane i += lane i + n/2 while n > 1.
fn halving_sum(mut v: [f64; MAX_WIDE], n: usize) -> f64 {
    let mut n = n;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            v[i] += v[i + n];
        }
    }
    v[0]
}

fn check_mask<S: Lanes>(what: &str, m: S::Mask, want: &[bool; MAX_WIDE]) {
    let got = bools::<S>(m);
    assert_eq!(got[..S::N], want[..S::N], "{what}");
    let want_first = want[..S::N].iter().position(|&b| b);
    assert_eq!(S::any(m), want_first.is_some(), "any of {what}: {want:?}");
    assert_eq!(S::first_set(m), want_first, "first_set of {what}: {want:?}");
}

/// Runs `iters` rounds of random vectors through every method of `S` and compares each
/// lane with [`Scalar`]. Call it from a function compiled with `S`'s target features.
#[inline(always)]
pub(crate) fn run<S: Lanes>(fma: Fused, seed: u64, iters: usize) {
    let n = S::N;
    assert!(n <= MAX_WIDE && n.is_power_of_two());
    let mut rng = Rng(seed);

    let iota = lanes(S::iota());
    for (i, &x) in iota[..n].iter().enumerate() {
        assert_eq!(x.to_bits(), (i as f32).to_bits(), "iota lane {i}");
    }
    for k in 0..=n + 1 {
        let mut want = [false; MAX_WIDE];
        want[..n.min(k)].fill(true);
        check_mask::<S>("first_lanes", first_lanes::<S>(k), &want);
        let mut want = [false; MAX_WIDE];
        if k < n {
            want[k] = true;
        }
        check_mask::<S>("iota == k", S::iota().eq(S::splat(k as f32)), &want);
    }

    // reduce_max on fixed patterns: all NaN, one lane not NaN, NaN next to -inf.
    let nan = S::splat(f32::NAN);
    assert!(nan.reduce_max().is_nan(), "reduce_max of all NaN");
    for k in 0..n {
        let one = S::select(S::iota().eq(S::splat(k as f32)), S::splat(-3.0), nan);
        assert_eq!(one.reduce_max(), -3.0, "reduce_max, only lane {k} not NaN");
        let inf = S::select(
            S::iota().lt(S::splat(k as f32)),
            S::splat(f32::NEG_INFINITY),
            nan,
        );
        let want = if k == 0 { f32::NAN } else { f32::NEG_INFINITY };
        assert!(
            same(inf.reduce_max(), want),
            "reduce_max, -inf below lane {k}"
        );
    }

    for _ in 0..iters {
        let xa = rng.vec();
        let mut xb = rng.vec();
        let xc = rng.vec();
        // Equal lanes for `eq`/`le`.
        for i in 0..n {
            if rng.below(4) == 0 {
                xb[i] = xa[i];
            }
        }
        let (a, b, c) = (load::<S>(&xa), load::<S>(&xb), load::<S>(&xc));
        let sa = |i: usize| Scalar(xa[i]);
        let sb = |i: usize| Scalar(xb[i]);
        let sc = |i: usize| Scalar(xc[i]);

        // load/store at unaligned offsets move bits unchanged and stay in bounds.
        let mut src = [0.0f32; MAX_WIDE + 3];
        let off = rng.below(4) as usize;
        src[off..off + n].copy_from_slice(&xa[..n]);
        // SAFETY: `src` has `off + n <= MAX_WIDE + 3` readable f32.
        let v = unsafe { S::load(src.as_ptr().add(off)) };
        let guard = f32::from_bits(0x7fbd_beef);
        let mut dst = [guard; MAX_WIDE + 3];
        let off2 = rng.below(4) as usize;
        // SAFETY: `dst` has `off2 + n <= MAX_WIDE + 3` writable f32.
        unsafe { v.store(dst.as_mut_ptr().add(off2)) };
        for (i, &d) in dst.iter().enumerate() {
            let want = if (off2..off2 + n).contains(&i) {
                xa[i - off2]
            } else {
                guard
            };
            assert_eq!(d.to_bits(), want.to_bits(), "load/store lane {i}");
        }

        // load_first/store_first: the first k lanes, `pad` above them on loads, and the
        // memory past k untouched on stores.
        let k = rng.below(n as u64 + 1) as usize;
        // SAFETY: `src` has `off + k <= MAX_WIDE + 3` readable f32; k <= N.
        let v = unsafe { S::load_first(src.as_ptr().add(off), k, xc[0]) };
        let got = lanes(v);
        for i in 0..n {
            let want = if i < k { xa[i] } else { xc[0] };
            assert_eq!(got[i].to_bits(), want.to_bits(), "load_first({k}) lane {i}");
        }
        let mut dst = [guard; MAX_WIDE + 3];
        // SAFETY: `dst` has `off2 + k <= MAX_WIDE + 3` writable f32; k <= N.
        unsafe { b.store_first(dst.as_mut_ptr().add(off2), k) };
        for (i, &d) in dst.iter().enumerate() {
            let want = if (off2..off2 + k).contains(&i) {
                xb[i - off2]
            } else {
                guard
            };
            assert_eq!(d.to_bits(), want.to_bits(), "store_first({k}) lane {i}");
        }

        // load_strided/store_strided: lane i <-> p[i·stride] for i < k, 0 above k on
        // loads, every other element untouched on stores.
        let stride = 1 + rng.below(16) as usize;
        let mut grid = [guard; MAX_WIDE * 16];
        for (i, &x) in xa.iter().enumerate().take(k) {
            grid[i * stride] = x;
        }
        // SAFETY: i·stride < MAX_WIDE·16 for i < k <= N; stride·N <= 1024.
        let got = lanes(unsafe { S::load_strided(grid.as_ptr(), stride, k) });
        for i in 0..n {
            let want = if i < k { xa[i] } else { 0.0 };
            assert_eq!(got[i].to_bits(), want.to_bits(), "load_strided lane {i}");
        }
        let mut grid = [guard; MAX_WIDE * 16];
        // SAFETY: as above.
        unsafe { b.store_strided(grid.as_mut_ptr(), stride, k) };
        for (p, &d) in grid.iter().enumerate() {
            let want = if p % stride == 0 && p / stride < k {
                xb[p / stride]
            } else {
                guard
            };
            assert_eq!(
                d.to_bits(),
                want.to_bits(),
                "store_strided({stride}, {k}) at {p}"
            );
        }

        // load_columns/store_columns: lane i of column j <-> block[i·c + j] for i < k, 0 in
        // the lanes from k on loads, nothing else written on stores.
        let cn = 1 + rng.below(MAX_COLUMNS as u64) as usize;
        let mut block = [guard; MAX_WIDE * MAX_COLUMNS + 1];
        for v in &mut block[..k * cn] {
            *v = rng.any();
        }
        let mut cols = [S::splat(0.0); MAX_COLUMNS];
        // SAFETY: `block` holds k·cn values and `cols` MAX_COLUMNS >= cn vectors; k <= N.
        unsafe { S::load_columns(block.as_ptr(), cn, k, cols.as_mut_ptr(), 1) };
        for (j, col) in cols.iter().enumerate().take(cn) {
            let got = lanes(*col);
            for i in 0..n {
                let want = if i < k { block[i * cn + j] } else { 0.0 };
                assert_eq!(
                    got[i].to_bits(),
                    want.to_bits(),
                    "load_columns({cn}, {k}) column {j} lane {i}"
                );
            }
        }
        let cols: [Arr; MAX_COLUMNS] = core::array::from_fn(|_| rng.vec());
        let vecs: [S; MAX_COLUMNS] = core::array::from_fn(|j| load::<S>(&cols[j]));
        let mut back = [guard; MAX_WIDE * MAX_COLUMNS + 1];
        // SAFETY: as above, for writing.
        unsafe { S::store_columns(back.as_mut_ptr(), cn, k, vecs.as_ptr(), 1) };
        for (p, &d) in back.iter().enumerate() {
            let want = if p < k * cn {
                cols[p % cn][p / cn]
            } else {
                guard
            };
            assert_eq!(
                d.to_bits(),
                want.to_bits(),
                "store_columns({cn}, {k}) at {p}"
            );
        }

        let splat = lanes(S::splat(xc[0]));
        for (i, &x) in splat[..n].iter().enumerate() {
            assert_eq!(x.to_bits(), xc[0].to_bits(), "splat lane {i}");
        }

        // Lane-wise arithmetic against Scalar.
        let ops: [(&str, Arr, ScalarOp, bool); 12] = [
            ("add", lanes(a.add(b)), |x, y, _| x.add(y), false),
            ("sub", lanes(a.sub(b)), |x, y, _| x.sub(y), false),
            ("mul", lanes(a.mul(b)), |x, y, _| x.mul(y), false),
            ("div", lanes(a.div(b)), |x, y, _| x.div(y), false),
            ("sqrt", lanes(a.sqrt()), |x, _, _| x.sqrt(), false),
            ("min", lanes(a.min(b)), |x, y, _| x.min(y), true),
            ("max", lanes(a.max(b)), |x, y, _| x.max(y), true),
            (
                "umax_bits",
                lanes(a.umax_bits(b)),
                |x, y, _| x.umax_bits(y),
                true,
            ),
            ("neg", lanes(a.neg()), |x, _, _| x.neg(), true),
            ("abs", lanes(a.abs()), |x, _, _| x.abs(), true),
            (
                "select",
                lanes(S::select(a.lt(b), a, c)),
                |x, y, z| Scalar::select(x.lt(y), x, z),
                true,
            ),
            // `add_where` promises the bits of `self + select(m, v, 0)` only for a `self`
            // that is not -0 (AVX-512 keeps a -0 where the mask is clear).
            (
                "add_where",
                lanes(a.abs().add_where(b.lt(c), c)),
                |x, y, z| x.abs().add_where(y.lt(z), z),
                false,
            ),
        ];
        for (name, got, op, bits) in ops {
            for i in 0..n {
                let want = op(sa(i), sb(i), sc(i)).0;
                let ok = if bits {
                    got[i].to_bits() == want.to_bits()
                } else {
                    same(got[i], want)
                };
                assert!(
                    ok,
                    "{name}({:?}, {:?}, {:?}) lane {i}: got {:?} ({:#x}), want {:?} ({:#x})",
                    xa[i],
                    xb[i],
                    xc[i],
                    got[i],
                    got[i].to_bits(),
                    want,
                    want.to_bits()
                );
            }
        }

        // mul_add and neg_mul_add: one rounding (or Scalar's two, where allowed).
        let fma_ops: [(&str, Arr, f32); 2] = [
            ("mul_add", lanes(a.mul_add(b, c)), 1.0),
            ("neg_mul_add", lanes(a.neg_mul_add(b, c)), -1.0),
        ];
        for (name, got, sign) in fma_ops {
            for i in 0..n {
                let once = fused(sign * xa[i], xb[i], xc[i]);
                let twice = if sign > 0.0 {
                    sa(i).mul_add(sb(i), sc(i)).0
                } else {
                    sa(i).neg_mul_add(sb(i), sc(i)).0
                };
                let ok = same(got[i], once) || (fma == Fused::Either && same(got[i], twice));
                assert!(
                    ok,
                    "{name}({:?}, {:?}, {:?}) lane {i}: got {:?}, fused {once:?}, unfused \
                     {twice:?}",
                    xa[i], xb[i], xc[i], got[i]
                );
            }
        }

        // round on its domain (numerically: the sign of a zero result may differ).
        let mut xr = [0.0; MAX_WIDE];
        xr.iter_mut().for_each(|x| *x = rng.round_domain());
        let got = lanes(load::<S>(&xr).round());
        for i in 0..n {
            let want = Scalar(xr[i]).round().0;
            assert!(
                got[i] == want,
                "round({:?}): got {:?}, want {want:?}",
                xr[i],
                got[i]
            );
        }

        // mul_pow2 with integral n in [-127, 128].
        let mut xn = [0.0; MAX_WIDE];
        for x in xn.iter_mut() {
            *x = match rng.below(8) {
                0 => -127.0,
                1 => 128.0,
                2 => -0.0,
                _ => rng.below(256) as f32 - 127.0,
            };
        }
        let got = lanes(a.mul_pow2(load::<S>(&xn)));
        for i in 0..n {
            let want = sa(i).mul_pow2(Scalar(xn[i])).0;
            assert!(
                same(got[i], want),
                "mul_pow2({:?}, {:?}): got {:?}, want {want:?}",
                xa[i],
                xn[i],
                got[i]
            );
        }

        // frexp on positive normals; other inputs only must not trap.
        let mut xf = [0.0; MAX_WIDE];
        for x in xf.iter_mut() {
            *x = f32::from_bits(0x0080_0000 + rng.below(0x7f80_0000 - 0x0080_0000) as u32);
        }
        let (m, e) = load::<S>(&xf).frexp();
        let (m, e) = (lanes(m), lanes(e));
        for i in 0..n {
            let (wm, we) = Scalar(xf[i]).frexp();
            assert_eq!(
                (m[i].to_bits(), e[i].to_bits()),
                (wm.0.to_bits(), we.0.to_bits()),
                "frexp({:?})",
                xf[i]
            );
        }
        let _ = a.frexp();

        // ldexp, where both implementations round once: |x| in [2^-20, 2^20], ±0, ±inf,
        // NaN, and integral n in [-152, 152].
        let mut xl = [0.0; MAX_WIDE];
        for (i, x) in xl.iter_mut().enumerate() {
            *x = match rng.below(16) {
                0 => xa[i] * 0.0, // ±0 or NaN
                1 => f32::INFINITY * if xa[i] < 0.0 { -1.0 } else { 1.0 },
                _ => f32::from_bits(
                    rng.sign() | (107 + rng.below(41) as u32) << 23 | rng.below(1 << 23) as u32,
                ),
            };
        }
        for x in xn.iter_mut() {
            *x = rng.below(305) as f32 - 152.0;
        }
        check_ldexp::<S>(&xl, &xn);

        // recip within 1 ulp where 1/x is finite and not zero (subnormal results
        // included), else exactly 1/x (±0, ±inf, NaN).
        let mut xq = [0.0; MAX_WIDE];
        for (x, &a) in xq.iter_mut().zip(&xa) {
            *x = match rng.below(4) {
                // Near the overflow of 1/x: |x| around 2^-128.
                0 => f32::from_bits(rng.sign() | (0x001f_f000 + rng.below(0x2000) as u32)),
                _ => a,
            };
        }
        let got = lanes(load::<S>(&xq).recip());
        for i in 0..n {
            let want = 1.0 / xq[i];
            let ok = if want.is_finite() && want != 0.0 {
                ulps(got[i], want) <= 1
            } else {
                same(got[i], want)
            };
            assert!(ok, "recip({:?}): got {:?}, want {want:?}", xq[i], got[i]);
        }
        // recip_1_2 within 1 ulp on [1, 2], both ends included.
        for (x, &a) in xq.iter_mut().zip(&xa) {
            *x = match rng.below(8) {
                0 => 1.0,
                1 => 2.0,
                _ => 1.0 + (a.to_bits() & 0x007f_ffff) as f32 / (1u32 << 23) as f32,
            };
        }
        let got = lanes(load::<S>(&xq).recip_1_2());
        for i in 0..n {
            let want = 1.0 / xq[i];
            assert!(
                ulps(got[i], want) <= 1,
                "recip_1_2({:?}): got {:?}, want {want:?}",
                xq[i],
                got[i]
            );
        }

        // Comparisons and mask logic.
        let mut want = [[false; MAX_WIDE]; 8];
        for i in 0..n {
            let (x, y, z) = (sa(i), sb(i), sc(i));
            want[0][i] = x.lt(y);
            want[1][i] = x.le(y);
            want[2][i] = x.eq(y);
            want[3][i] = x.is_nan();
            want[4][i] = Scalar::and(x.lt(y), z.le(x));
            want[5][i] = Scalar::or(x.eq(y), z.is_nan());
            want[6][i] = Scalar::not(x.le(y));
            want[7][i] = Scalar::xor(x.lt(y), z.le(x));
        }
        check_mask::<S>("lt", a.lt(b), &want[0]);
        // tally: counters per lane, summed; three masks, the last one twice.
        let mut t = S::splat(0.0);
        for m in [a.lt(b), a.le(b), a.eq(b), a.eq(b)] {
            t = S::tally(t, m);
        }
        let set = |k: usize| want[k][..n].iter().filter(|&&w| w).count() as u32;
        assert_eq!(S::tally_sum(t), set(0) + set(1) + 2 * set(2), "tally");
        let ne: [bool; MAX_WIDE] = core::array::from_fn(|i| !want[2][i]);
        check_mask::<S>("ne", a.ne(b), &ne);
        check_mask::<S>("le", a.le(b), &want[1]);
        check_mask::<S>("eq", a.eq(b), &want[2]);
        check_mask::<S>("is_nan", a.is_nan(), &want[3]);
        check_mask::<S>("and", S::and(a.lt(b), c.le(a)), &want[4]);
        // lt_within: `c < a` in the lanes where `a < b`.
        let within: [bool; MAX_WIDE] =
            core::array::from_fn(|i| i < n && want[0][i] && sc(i).lt(sa(i)));
        check_mask::<S>("lt_within", c.lt_within(a, a.lt(b)), &within);
        check_mask::<S>("or", S::or(a.eq(b), c.is_nan()), &want[5]);
        check_mask::<S>("not", S::not(a.le(b)), &want[6]);
        check_mask::<S>("xor", S::xor(a.lt(b), c.le(a)), &want[7]);

        // reduce_max: the largest non-NaN lane; NaN only if all lanes are NaN.
        let mut want_max = f32::NAN;
        for &x in &xa[..n] {
            if x > want_max || want_max.is_nan() {
                want_max = x;
            }
        }
        let got = a.reduce_max();
        assert!(
            (got.is_nan() && want_max.is_nan()) || got == want_max,
            "reduce_max({:?}): got {got:?}, want {want_max:?}",
            &xa[..n]
        );

        // Sums in f64 per lane, then in the halving order.
        let acc = S::acc_add(S::acc_add(S::acc_zero(), a), b);
        let acc = S::acc_join(S::acc_add(acc, c), S::acc_add(S::acc_zero(), a));
        let mut lanes64 = [0.0f64; MAX_WIDE];
        for i in 0..n {
            let l = sa(i).0 as f64 + sb(i).0 as f64;
            lanes64[i] = (l + sc(i).0 as f64) + sa(i).0 as f64;
        }
        let got = S::acc_sum(acc);
        let want = Total::from_f64(halving_sum(lanes64, n));
        assert!(
            (got.is_nan() && want.is_nan()) || got == want,
            "acc ops: got {got:?}, want {want:?}"
        );

        // A group's reductions at once, against one per vector: every lane of max_each
        // exact for NaN-free vectors (a NaN vector's lane: NaN or one of its values),
        // acc_sum_each bit for bit (sums of three vectors per row: infinities and NaN too).
        // (Groups are of at most MAX_LANES rows: the backends' own lanes, not wider groups.)
        if n <= MAX_LANES {
            let group: [S; MAX_LANES] = core::array::from_fn(|_| load::<S>(&rng.vec()));
            let got = lanes(S::max_each(&group));
            for (i, v) in group.iter().enumerate().take(n) {
                let vl = lanes(*v);
                let nan = vl[..n].iter().any(|x| x.is_nan());
                let ok = if nan {
                    got[i].is_nan() || vl[..n].contains(&got[i])
                } else {
                    got[i] == v.reduce_max()
                };
                assert!(ok, "max_each lane {i} of {:?}: {:?}", &vl[..n], got[i]);
            }
            let accs: [S::Acc; MAX_LANES] = core::array::from_fn(|i| {
                let acc = S::acc_add(S::acc_zero(), group[i]);
                S::acc_add(
                    S::acc_add(acc, load::<S>(&rng.vec())),
                    load::<S>(&rng.vec()),
                )
            });
            let (hi, lo) = S::acc_sum_each(&accs);
            let (hi, lo) = (lanes(hi), lanes(lo));
            for (i, acc) in accs.iter().enumerate().take(n) {
                let (h, l) = S::acc_sum(*acc).parts();
                assert!(
                    same(hi[i], h) && same(lo[i], l),
                    "acc_sum_each lane {i}: ({:?}, {:?}), want ({h:?}, {l:?})",
                    hi[i],
                    lo[i]
                );
            }
        }

        // Each accumulator lane holds its own element (`0 + -0` is `+0`).
        let r = load::<S>(&xr);
        let got = lanes(S::acc_lanes(S::acc_add(S::acc_zero(), r)));
        for j in 0..n {
            assert!(
                got[j] == xr[j] || (got[j].is_nan() && xr[j].is_nan()),
                "acc lane {j}: got {:?}, want {:?}",
                got[j],
                xr[j]
            );
        }
    }
}

/// `S::ldexp(x, n)` equals [`ldexp_ref`] (one rounding), bit for bit, in every lane.
#[inline(always)]
fn check_ldexp<S: Lanes>(x: &Arr, n: &Arr) {
    let got = lanes(load::<S>(x).ldexp(load::<S>(n)));
    for i in 0..S::N {
        let want = ldexp_ref(x[i], n[i]);
        assert!(
            same(got[i], want),
            "ldexp({:?}, {:?}): got {:?}, want {want:?}",
            x[i],
            n[i],
            got[i]
        );
    }
}

/// `ldexp` rounded once for every `x` (subnormal inputs and results included) and
/// integral `n` in `[-152, 152]`: what a single-instruction `ldexp` (`vscalefps`)
/// gives. The trait's default applies two powers of two and may round twice when
/// `x·2^round(n/2)` is already subnormal, so it is not held to this.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only AVX-512 has it
pub(crate) fn ldexp_rounds_once<S: Lanes>(seed: u64, iters: usize) {
    let mut rng = Rng(seed);
    for _ in 0..iters {
        let xa = rng.vec();
        let mut xn = [0.0; MAX_WIDE];
        for x in xn.iter_mut() {
            *x = rng.below(305) as f32 - 152.0;
        }
        check_ldexp::<S>(&xa, &xn);
    }
}
