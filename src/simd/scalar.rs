//! One lane of plain `f32`: the reference backend, reproducible bit for bit on every target.
//!
//! No FMA (each `mul_add` rounds twice), no target features, nothing but IEEE-754 binary32
//! arithmetic, so the same inputs give the same bits on x86_64, aarch64, wasm32 and a
//! Cortex-M4F. Rounding to an integer uses the 1.5·2^23 magic-number trick.

use super::{Lanes, Total};

/// A single `f32` lane.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scalar(pub(crate) f32);

impl Lanes for Scalar {
    const N: usize = 1;
    #[inline(never)]
    fn ln_rare(self) -> Self {
        crate::math::ln(self)
    }
    type Mask = bool;
    /// Float-float: no `f64` arithmetic, which a single-precision FPU would do in software.
    type Acc = Total;
    /// One value at a time: grouping gains nothing for the microcontroller build and would
    /// multiply its code size.
    type Wide = Self;
    const UMAX_BITS: bool = true;

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees `p` is valid for reading one f32; every pointer the
        // kernels pass points into an `f32` slice or array, so it is aligned for `f32`. (An
        // aligned access is one `vldr` on a Cortex-M4; `read_unaligned` took `ldr` + `vmov`.)
        Scalar(unsafe { p.read() })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: as for `load`: valid for writing one f32, and aligned.
        unsafe { p.write(self.0) }
    }
    /// On Arm, a volatile read, which the compiler cannot keep in a register across the
    /// loop: a Cortex-M4F's `vmla` accumulates into its addend's register, so a step costs
    /// a load or a copy of its constant either way (`vldr` or `vmov`), and a constant held in
    /// a register for it only takes a register that the multipliers and the kernel's own
    /// constants need, which then were reloaded per element (the fused sigmoid call at
    /// N = 4096: 111.1 → 109.2 instructions per element; see `math::exp_reduced` for where).
    #[inline(always)]
    fn addend(c: &'static f32) -> Self {
        #[cfg(target_arch = "arm")]
        {
            // SAFETY: `c` is a valid, aligned reference to an immutable `f32`.
            Scalar(unsafe { core::ptr::read_volatile(c) })
        }
        #[cfg(not(target_arch = "arm"))]
        {
            Scalar(*c)
        }
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Scalar(v)
    }
    #[inline(always)]
    fn iota() -> Self {
        Scalar(0.0)
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Scalar(self.0 + b.0)
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        Scalar(self.0 - b.0)
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        Scalar(self.0 * b.0)
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        Scalar(self.0 / b.0)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        Scalar(sqrt(self.0))
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        Scalar(self.0 * b.0 + c.0)
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        Scalar(c.0 - self.0 * b.0)
    }
    #[inline(always)]
    fn neg(self) -> Self {
        Scalar(-self.0)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Scalar(f32::from_bits(self.0.to_bits() & 0x7fff_ffff))
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        Scalar(if self.0 < b.0 { self.0 } else { b.0 })
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        Scalar(if self.0 > b.0 { self.0 } else { b.0 })
    }
    #[inline(always)]
    fn umax_bits(self, b: Self) -> Self {
        Scalar(f32::from_bits(self.0.to_bits().max(b.0.to_bits())))
    }
    /// One integer comparison (the default's maximum with `1.0` and float comparison took
    /// three instructions more per block of the target check on a Cortex-M4F).
    #[inline(always)]
    fn bits_above_one(self) -> bool {
        self.0.to_bits() > 1.0f32.to_bits()
    }
    #[inline(always)]
    fn round(self) -> Self {
        // Adding and removing 1.5·2^23 rounds to nearest-even for |x| < 2^22 (the documented
        // domain); IEEE arithmetic is never reassociated by rustc.
        const MAGIC: f32 = 12_582_912.0;
        Scalar((self.0 + MAGIC) - MAGIC)
    }
    #[inline(always)]
    fn mul_pow2(self, n: Self) -> Self {
        // n in [-127, 128] is exact in i32; the biased exponent n + 127 lies in [0, 255].
        // Outside that domain (a NaN row's hidden maximum, see `scalar_row_max`) the result is
        // unspecified but must not panic: the addition wraps, as the SIMD lanes' does, in
        // every build (an overflow check would panic in a debug build of a dependent crate).
        let bits = ((n.0 as i32).wrapping_add(127) as u32) << 23;
        Scalar(self.0 * f32::from_bits(bits))
    }
    /// `biased`'s pattern is that of `1.5·2^23` plus `n` in its low bits: shifted left by 23
    /// it is `n << 23` (the rest leaves the word), and adding 127's gives `2^n`'s pattern,
    /// with no float-to-integer conversion (one instruction fewer per `exp` on a Cortex-M4F).
    #[inline(always)]
    fn mul_pow2_biased(self, _n: Self, biased: Self) -> Self {
        let bits = (biased.0.to_bits() << 23).wrapping_add(127 << 23);
        Scalar(self.0 * f32::from_bits(bits))
    }
    #[inline(always)]
    fn frexp(self) -> (Self, Self) {
        let bits = self.0.to_bits();
        let e = ((bits >> 23) & 0xff) as i32 - 127;
        let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
        (Scalar(m), Scalar(e as f32))
    }
    #[inline(always)]
    fn lt(self, b: Self) -> bool {
        self.0 < b.0
    }
    #[inline(always)]
    fn le(self, b: Self) -> bool {
        self.0 <= b.0
    }
    #[inline(always)]
    fn eq(self, b: Self) -> bool {
        self.0 == b.0
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        self.0.is_nan()
    }
    #[inline(always)]
    fn select(m: bool, a: Self, b: Self) -> Self {
        // Left to the compiler: a conditional move on Cortex-M (`it` + `vmov`, two
        // instructions where the bitwise form took six), bits unchanged either way.
        if m { a } else { b }
    }
    #[inline(always)]
    fn and(a: bool, b: bool) -> bool {
        a & b
    }
    #[inline(always)]
    fn or(a: bool, b: bool) -> bool {
        a | b
    }
    #[inline(always)]
    fn not(a: bool) -> bool {
        !a
    }
    #[inline(always)]
    fn xor(a: bool, b: bool) -> bool {
        a ^ b
    }
    #[inline(always)]
    fn any(m: bool) -> bool {
        m
    }
    #[inline(always)]
    fn first_set(m: bool) -> Option<usize> {
        if m { Some(0) } else { None }
    }
    #[inline(always)]
    fn count(m: bool) -> u32 {
        m as u32
    }
    #[inline(always)]
    fn tally(t: Self, m: bool) -> Self {
        Scalar(f32::from_bits(t.0.to_bits().wrapping_add(m as u32)))
    }
    #[inline(always)]
    fn tally_sum(t: Self) -> u32 {
        t.0.to_bits()
    }
    #[inline(always)]
    fn reduce_max(self) -> f32 {
        self.0
    }
    #[inline(always)]
    fn acc_zero() -> Total {
        Total::ZERO
    }
    #[inline(always)]
    fn acc_add(acc: Total, v: Self) -> Total {
        acc.add(v.0)
    }
    #[inline(always)]
    fn acc_join(a: Total, b: Total) -> Total {
        a.join(b)
    }
    #[inline(always)]
    fn acc_lanes(acc: Total) -> Self {
        Scalar(acc.value())
    }
    #[inline(always)]
    fn acc_sum(acc: Total) -> Total {
        acc
    }
}

/// `√x`, correctly rounded: one `vsqrt.f32` where the target has a hard-float FPU (every
/// `eabihf` Arm target has VFP), `sqrtss` on x86_64, else `libm`'s (the hardware
/// instruction on aarch64 and wasm32, a correctly rounded integer algorithm elsewhere): the
/// same bits everywhere.
#[inline(always)]
fn sqrt(x: f32) -> f32 {
    #[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
    {
        // Through a core register: rustc lets `asm!` name an S register as an operand only
        // with its `vfp2` feature, which means double precision and which the
        // single-precision Cortex-M4F target does not enable (four `vmov`s: still a tenth of
        // a software square root).
        let mut bits = x.to_bits();
        // SAFETY: the instructions read and write only `bits` and S15, declared clobbered;
        // they touch no memory and no stack, and every `eabihf` Arm target has the VFP unit
        // (with `vsqrt.f32`) that its hard-float ABI requires.
        unsafe {
            core::arch::asm!(
                "vmov s15, {0}",
                "vsqrt.f32 s15, s15",
                "vmov {0}, s15",
                inout(reg) bits,
                out("s15") _,
                options(pure, nomem, nostack),
            );
        }
        f32::from_bits(bits)
    }
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_cvtss_f32, _mm_set_ss, _mm_sqrt_ss};
        // sqrtss through the intrinsic, which Miri also runs (`libm` issues it through
        // `asm!`). SAFETY: SSE is part of every x86_64 target; the intrinsics touch only
        // their register operands.
        unsafe { _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x))) }
    }
    #[cfg(any(target_arch = "aarch64", target_arch = "wasm32"))]
    {
        // One instruction here (fsqrt, f32.sqrt).
        libm::sqrtf(x)
    }
    #[cfg(not(any(
        all(target_arch = "arm", target_abi = "eabihf"),
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "wasm32"
    )))]
    {
        soft_sqrt(x)
    }
}

/// `libm`'s integer square root, out of line: inlined into each kernel loop it would be
/// linked once per loop (about 100 B each on a Cortex-M0).
#[cfg(not(any(
    all(target_arch = "arm", target_abi = "eabihf"),
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "wasm32"
)))]
#[inline(never)]
fn soft_sqrt(x: f32) -> f32 {
    libm::sqrtf(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Correctly rounded: `f64`'s square root of an `f32` is exact to 53 bits, more than the
    /// 2·24 + 2 that make its rounding to `f32` the correctly rounded result.
    #[test]
    fn sqrt_is_correctly_rounded() {
        let mut bits = 0u32;
        loop {
            let x = f32::from_bits(bits);
            let got = Scalar(x).sqrt().0;
            let want = (x as f64).sqrt() as f32;
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "sqrt({x:e}) = {got:e}, want {want:e}"
            );
            match bits.checked_add(997) {
                Some(b) => bits = b,
                None => break,
            }
        }
    }
}
