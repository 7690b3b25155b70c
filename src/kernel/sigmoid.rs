//! Sigmoid focal loss: one pass over `(logit, target)` pairs, loss and gradient together.
//!
//! Both forms are rewritten around `a = |x|`, `e = exp(-a)`, `d = 1/(1+e)`, `l = log1p(e)`,
//! which give `max(p, q) = d`, `min(p, q) = d·e`, `-ln max(p,q) = l`, `-ln min(p,q) = a + l`
//! with no cancellation anywhere. Let `w` be the target weight on the side the logit points
//! away from (`w = 1-t` for `x >= 0`, `w = t` for `x < 0`), `w̄ = 1 - w` and `s = sign(x)`:
//!
//! * (A) `u = 1 - p_t = d·(w + w̄·e)`, `ce = l + w·a`, `r = p·q/u = d·e/(w + w̄·e)`,
//!   `L = α_t·u^γ·ce`, `dL/dx = s·α_t·u^γ·[γ·(2w-1)·r·ce + d·(w - w̄·e)]`;
//! * (B) with `W` the weight of the term whose log is `-ln min(p,q)` and `W̄` the other,
//!   `L = W·d^γ·(a+l) + W̄·(d·e)^γ·l`,
//!   `dL/dx = s·(W·d^γ·[γ·d·e·(a+l) + d] - W̄·(d·e)^γ·[γ·d·l + d·e])`.
//!
//! Products of an exactly-zero weight with an infinite log (only at `x = ±inf`) are taken as
//! 0, their limit.
//!
//! Hard targets (dense detection: every target 0 or 1, about 99 % zeros) make `w` 0 or 1,
//! so every product by `w` or `w̄` above is a choice between two values. At the `γ` compiled
//! in (2), the SIMD loop runs groups of vectors whose targets are all 0 or 1 and whose
//! logits have no `|x| > 87` through [`eval_a_hard`] or [`eval_b_hard`], in a loop of their
//! own that tests each group (one pair of comparisons and one mask test per vector): the
//! same operations on the values that survive, so the same bits as the general path, which
//! every other group (and the head, the tail and the scalar backend) takes, testing for
//! hard targets only every [`LOOK`] groups.

use super::Mode;
use super::check::{first_outside_unit, fold_unit, outside_unit_seen};
use crate::math::{exp, exp_nonpos, exp_normal_nonpos, ln, log1p_unit};
use crate::simd::{
    LINE, Lanes, MAX_WIDE, Scalar, Total, first_lanes, load_tail, mul_or_zero, prefetch,
    prefetch_write, store_tail,
};

/// `γ` handled at run time through `exp(γ·ln u)`.
pub(crate) const GENERAL: u32 = u32::MAX;

/// The loss parameters the kernel needs, already validated.
#[derive(Clone, Copy)]
pub(crate) struct Params {
    /// `true` for form (B), per-term.
    pub per_term: bool,
    /// `Some(α)` or no balancing.
    pub alpha: Option<f32>,
    /// `γ >= 0`, finite.
    pub gamma: f32,
    /// [`gamma_code`] of `gamma`.
    pub code: u32,
}

/// One call's slices, as raw pointers so that the gradient may overwrite the logits.
#[derive(Clone, Copy)]
pub(crate) struct Job {
    pub x: *const f32,
    pub t: *const f32,
    pub n: usize,
    pub mode: Mode,
}

/// How `γ` reaches the formulas: fixed at compile time ([`Fixed`]: the SIMD backends compile
/// one loop per value) or read at run time ([`Runtime`]: the scalar backend has one loop for
/// every value, which is what a microcontroller's flash affords, and a predictable branch
/// costs it about a cycle). Both compute `u^γ` with the same operations: the same bits.
pub(crate) trait Gamma: Copy {
    /// Whether the SIMD sigmoid loop has a short path for hard targets at this `γ`: only
    /// for `γ` fixed at compile time (2), where it costs least code (the build-cost
    /// numbers are in docs/performance.md, "Hard targets").
    const SHORT: bool = false;
    /// `γ = 0`; `gamma` is `γ` itself (read by [`GENERAL`], which serves every `γ`).
    fn zero(self, gamma: f32) -> bool;
    /// `u^γ` without `exp` and `ln` where `γ` allows it: by multiplication for `γ` in 0 to 4
    /// (`0^0 = 1`), times one correctly rounded `√u` for `γ` in 0.5 to 4.5 halfway between
    /// (so `u^2.5 = u²·√u`: as accurate as `u^3`, and a twentieth of the work of
    /// `exp(γ·ln u)` on a Cortex-M4F). `None` for every other `γ`: the caller takes
    /// `exp(γ·ln u)` with its own, more accurate, `ln u`. `gamma` is `γ` itself.
    fn pow<S: Lanes>(self, u: S, gamma: f32) -> Option<S>;
}

/// `γ` of code `G` (see [`gamma_code`]), known at compile time. The SIMD backends compile
/// [`GENERAL`] for the half-integers too and find them at run time (a branch per vector).
#[derive(Clone, Copy)]
pub(crate) struct Fixed<const G: u32>;

/// `γ` from [`gamma_code`], read at run time.
#[derive(Clone, Copy)]
pub(crate) struct Runtime(pub u32);

impl<const G: u32> Gamma for Fixed<G> {
    const SHORT: bool = G != GENERAL;
    #[inline(always)]
    fn zero(self, gamma: f32) -> bool {
        if G == GENERAL { gamma == 0.0 } else { G == 0 }
    }
    #[inline(always)]
    fn pow<S: Lanes>(self, u: S, gamma: f32) -> Option<S> {
        if G == GENERAL {
            pow_code(u, gamma_code(gamma))
        } else {
            pow_code(u, G)
        }
    }
}

impl Gamma for Runtime {
    #[inline(always)]
    fn zero(self, _gamma: f32) -> bool {
        self.0 == 0
    }
    #[inline(always)]
    fn pow<S: Lanes>(self, u: S, _gamma: f32) -> Option<S> {
        pow_code(u, self.0)
    }
}

/// `u^γ` for the code `g = 2γ` of [`gamma_code`]: `u^(g/2)` by multiplication for even `g`
/// (`0^0 = 1`), times `√u` for odd `g`; `None` for [`GENERAL`]. (Ten arms rather than a
/// power then an odd test: one jump per element on the scalar backend, 5 instructions fewer
/// per element on a Cortex-M4F.)
#[inline(always)]
fn pow_code<S: Lanes>(u: S, g: u32) -> Option<S> {
    if S::N == 1 {
        // One lane: `u²` before the jump, so that the arm of `γ = 2` (the default) is empty
        // and its jump goes straight to the code after the match (one branch fewer per
        // element on a Cortex-M4F). The vector backends, which take this jump only for a
        // `γ` read at run time, keep each product in its arm: `GENERAL` multiplies nothing.
        // (One match for both, `u²` made early through an `Option` on one lane: 106.8 →
        // 108.8 per element.)
        let u2 = u.mul(u);
        return Some(match g {
            0 => S::splat(1.0),
            1 => u.sqrt(),
            2 => u,
            3 => u.mul(u.sqrt()),
            4 => u2,
            5 => u2.mul(u.sqrt()),
            6 => u2.mul(u),
            7 => u2.mul(u).mul(u.sqrt()),
            8 => u2.mul(u2),
            9 => u2.mul(u2).mul(u.sqrt()),
            _ => return None,
        });
    }
    let u2 = || u.mul(u);
    let u4 = || {
        let u2 = u2();
        u2.mul(u2)
    };
    Some(match g {
        0 => S::splat(1.0),
        1 => u.sqrt(),
        2 => u,
        3 => u.mul(u.sqrt()),
        4 => u2(),
        5 => u2().mul(u.sqrt()),
        6 => u2().mul(u),
        7 => u2().mul(u).mul(u.sqrt()),
        8 => u4(),
        9 => u4().mul(u.sqrt()),
        _ => return None,
    })
}

/// The shared part of both forms.
#[derive(Clone, Copy)]
struct Common<S: Lanes> {
    a: S,
    e: S,
    d: S,
    l: S,
    pos: S::Mask,
    w: S,
    wbar: S,
    /// Some `|x| > 87` (or infinite): the products that may meet an infinite logit take
    /// their guarded form.
    big: bool,
}

/// Whether some `|x| > 87` (or is infinite). Nearly always none is: then `exp` needs neither
/// its clamp nor its subnormal care (the same bits), and no logit is infinite, so the
/// evaluation can skip its guards.
#[inline(always)]
fn big<S: Lanes>(x: S) -> bool {
    S::any(S::splat(87.0).lt(x.abs()))
}

/// `big` is [`big`]`(x)`, passed in so that a caller that branches on it anyway (the scalar
/// loop) compiles a copy without the guards.
#[inline(always)]
fn common<S: Lanes>(k: Logs<S>, t: S, big: bool) -> Common<S> {
    let omt = S::splat(1.0).sub(t);
    Common {
        a: k.a,
        e: k.e,
        d: k.d,
        l: k.l,
        pos: k.pos,
        w: S::select(k.pos, omt, t),
        wbar: S::select(k.pos, t, omt),
        big,
    }
}

/// The part of [`Common`] that does not depend on the target: the exponential, reciprocal
/// and logarithm, computed once before the loop chooses between the general path and the
/// short one for hard targets (so that they are not compiled twice).
#[derive(Clone, Copy)]
struct Logs<S: Lanes> {
    a: S,
    e: S,
    d: S,
    l: S,
    pos: S::Mask,
}

/// [`Logs`] of `x`; `big` is [`big`]`(x)`.
#[inline(always)]
fn logs<S: Lanes>(x: S, big: bool) -> Logs<S> {
    let a = x.abs();
    let e = if big {
        exp_nonpos(a.neg())
    } else {
        exp_normal_nonpos(a.neg())
    };
    logs_from(x, e)
}

/// [`logs`] of `x` from its exponential `e = exp(-|x|)`, computed beforehand (by [`logs`],
/// or a turn ahead by [`hard_run`]): the same operations.
#[inline(always)]
fn logs_from<S: Lanes>(x: S, e: S) -> Logs<S> {
    let d = S::splat(1.0).add(e).recip_1_2();
    let l = log1p_unit(e);
    Logs {
        a: x.abs(),
        e,
        d,
        l,
        pos: S::splat(0.0).le(x),
    }
}

/// Whether every target of `t` is exactly 0 or 1 (hard), which is what dense detection
/// gives (about 99 % zeros): one comparison pair and one mask test per vector. A vector of
/// such targets with no `|x| > 87` ([`big`]) can take [`Eval::eval_hard`]. (Targets a sum
/// has not checked yet may be NaN or outside `[0, 1]` here: they count as hard and give
/// some finite or NaN loss, which the sum's check then replaces by NaN.)
#[inline(always)]
fn all_hard<S: Lanes>(t: S) -> bool {
    // `t < 1` is `hard`'s `lt_one` too: the compiler keeps one of the two compares.
    !S::any(S::splat(0.0).lt_within(t, t.lt(S::splat(1.0))))
}

/// The part of both forms that a vector of hard targets (see [`all_hard`]) and no
/// `|x| > 87` needs: there `w` is 0 or 1, so every product by `w` or `w̄` is a choice
/// between its two values, with the same bits as the product (`e > 0` and nothing is
/// infinite), and `α_t` is `α` or `1 - α`.
#[derive(Clone, Copy)]
struct Hard<S: Lanes> {
    a: S,
    l: S,
    d: S,
    /// `d·e`.
    de: S,
    /// `a + l`.
    apl: S,
    /// `x >= 0`.
    pos: S::Mask,
    /// `t = 0` (here: `t < 1`, or `t != 1` in mask registers).
    zero: S::Mask,
    /// `w = 0`: the logit points to the target's side (`x >= 0` exactly where `t = 1`).
    right: S::Mask,
    /// `-ln p_t`: `l` where `right`, `a + l` elsewhere (form (A)'s `ce = l + w·a`).
    ce: S,
    /// `1 - p_t`: `d·e` where `right`, `d` elsewhere (form (A)'s `d·v`).
    u: S,
}

#[inline(always)]
fn hard<S: Lanes>(k: Logs<S>, t: S) -> Hard<S> {
    let Logs { a, e, d, l, pos } = k;
    let lt_one = t.lt(S::splat(1.0));
    let right = S::xor(pos, lt_one);
    // In mask registers, `t = 0` again as `t != 1` (the same lanes for hard targets): a
    // compare of its own, which the compiler places where the mask is used instead of
    // keeping a group's four masks live across the whole evaluation. AVX-512 has eight
    // mask registers; spilling them cost mask moves (tv hard targets: 1.05x without them).
    // In vectors the extra compare costs more than it saves (AVX2: 0.96x).
    let zero = if S::MASK_REGS {
        t.ne(S::splat(1.0))
    } else {
        lt_one
    };
    let de = d.mul(e);
    let apl = a.add(l);
    Hard {
        a,
        l,
        d,
        de,
        apl,
        pos,
        zero,
        right,
        ce: S::select(right, l, apl),
        u: S::select(right, de, d),
    }
}

/// `α_t`: `1 - α` where `t = 0`, `α` where `t = 1`, 1 without alpha (the bits of form (A)'s
/// `t·α + (1-t)·(1-α)`).
#[inline(always)]
fn alpha_t<S: Lanes>(h: &Hard<S>, alpha: Option<f32>) -> Option<S> {
    alpha.map(|alpha| S::select(h.zero, S::splat(1.0 - alpha), S::splat(alpha)))
}

/// What one vector evaluates to: the loss, and the gradient as `s·g` with `s = +1` where
/// `pos` and `-1` elsewhere (the driver folds the sign into the multiply it does anyway).
#[derive(Clone, Copy)]
struct Out<S: Lanes> {
    loss: S,
    g: S,
    pos: S::Mask,
}

impl<S: Lanes> Out<S> {
    /// The gradient times `f` (which may be a per-element vector).
    #[inline(always)]
    fn grad_times(self, f: S) -> S {
        self.g.mul(S::select(self.pos, f, f.neg()))
    }
}

/// One form at one compile-time `γ`: what the loop evaluates per vector. (A trait, not a
/// closure, so that it is always inlined into the target-feature entry point.)
trait Eval {
    /// `γ`'s type.
    type G: Gamma;
    /// Whether the SIMD loop takes [`eval_hard`](Eval::eval_hard) for hard targets: for
    /// `γ` fixed at compile time only (2, see [`Gamma::SHORT`]).
    const SHORT: bool;
    /// Whether that short path is software-pipelined where the backend asks for it
    /// ([`Lanes::PIPELINED_HARD`], see [`hard_run`]). Form (A) only, the default and
    /// torchvision's: form (B)'s hard targets gained less (0.94 of the fused call's time,
    /// against 0.86-0.87 for form (A); Zen 3 VM, `docs/tools/ab`), and its fused call on
    /// soft targets measured 1.04-1.05x (its general loop is the same code, so perhaps
    /// layout, which moves identical code by as much in that harness), for 2 KB of `.text`.
    const PIPELINED: bool;
    /// `big` is [`big`]`(x)`.
    #[inline(always)]
    fn eval<S: Lanes>(&self, x: S, t: S, big: bool) -> Out<S> {
        self.eval_logs(logs(x, big), t, big)
    }
    /// [`eval`](Eval::eval) from `x`'s [`Logs`] (computed with the same `big`).
    fn eval_logs<S: Lanes>(&self, k: Logs<S>, t: S, big: bool) -> Out<S>;
    /// [`eval`](Eval::eval) for a vector whose targets are all 0 or 1 and where no
    /// `|x| > 87` (see [`all_hard`]), from its [`Logs`]: the same bits with less work.
    fn eval_hard<S: Lanes>(&self, k: Logs<S>, t: S) -> Out<S>;
    /// The parameters.
    fn params(&self) -> &Params;
    /// `γ`.
    fn gamma(&self) -> Self::G;
}

/// Form (A) at `γ` of `G`.
struct FormA<'p, G>(&'p Params, G);
/// Form (B) at `γ` of `G`.
struct FormB<'p, G>(&'p Params, G);

impl<G: Gamma> Eval for FormA<'_, G> {
    type G = G;
    const SHORT: bool = G::SHORT;
    const PIPELINED: bool = true;
    #[inline(always)]
    fn eval_logs<S: Lanes>(&self, k: Logs<S>, t: S, big: bool) -> Out<S> {
        eval_a(k, t, big, self.0, self.1)
    }
    #[inline(always)]
    fn eval_hard<S: Lanes>(&self, k: Logs<S>, t: S) -> Out<S> {
        eval_a_hard(k, t, self.0, self.1)
    }
    #[inline(always)]
    fn params(&self) -> &Params {
        self.0
    }
    #[inline(always)]
    fn gamma(&self) -> G {
        self.1
    }
}

impl<G: Gamma> Eval for FormB<'_, G> {
    type G = G;
    const SHORT: bool = G::SHORT;
    const PIPELINED: bool = false;
    #[inline(always)]
    fn eval_logs<S: Lanes>(&self, k: Logs<S>, t: S, big: bool) -> Out<S> {
        eval_b(k, t, big, self.0, self.1)
    }
    #[inline(always)]
    fn eval_hard<S: Lanes>(&self, k: Logs<S>, t: S) -> Out<S> {
        eval_b_hard(k, t, self.0, self.1)
    }
    #[inline(always)]
    fn params(&self) -> &Params {
        self.0
    }
    #[inline(always)]
    fn gamma(&self) -> G {
        self.1
    }
}

/// Form (A): `L` and `dL/dx`.
#[inline(always)]
fn eval_a<S: Lanes, G: Gamma>(k: Logs<S>, t: S, big: bool, p: &Params, g: G) -> Out<S> {
    let c = common(k, t, big);
    let zero = S::splat(0.0);
    let one = S::splat(1.0);
    let w_zero = c.w.eq(zero);
    let w_one = c.w.eq(one);
    let soft = S::not(S::or(w_zero, w_one));
    let any_soft = S::any(soft);
    // Only an infinite logit makes a product 0·inf below; vectors that may hold one take
    // the guarded path (the limits; the same bits where nothing is infinite), every other
    // vector skips the guards.
    let any_inf = c.big;
    // ce = l + w·a.
    let mut ce = c.w.mul_add(c.a, c.l);
    if any_inf {
        ce = S::select(w_zero, c.l, ce);
    }
    // v = w + w̄·e, u = d·v = 1 - p_t.
    let v = c.wbar.mul_add(c.e, c.w);
    let u = c.d.mul(v);
    let gamma = S::splat(p.gamma);
    let upow = match g.pow(u, p.gamma) {
        Some(upow) => upow,
        None => {
            // ln v is exactly -a (w = 0) or 0 (w = 1) for hard targets.
            let hard = S::select(w_zero, c.a.neg(), zero);
            let ln_v = if any_soft {
                // On the scalar backend the guarded path shares the rescue's out-of-line `ln`
                // (the same function, the same bits); vector backends keep one inline `ln`.
                S::select(
                    soft,
                    if S::N == 1 && any_inf {
                        v.ln_rare()
                    } else {
                        ln(v)
                    },
                    hard,
                )
            } else {
                hard
            };
            exp(gamma.mul(ln_v.sub(c.l)))
        }
    };
    // r = d·e/v, formed as d·(e/v): `e/v` is exactly 1 where w = 0 (then v = e) and e where
    // w = 1 (v = 1), so for hard targets this is `d` or `d·e` exactly, with no choice. (At an
    // infinite logit e = 0, and where w = 0 then v = 0 too: there the choice of `d` stays.)
    let r = if any_inf {
        S::select(w_zero, c.d, c.d.mul(c.e.div(v)))
    } else if S::N == 1 || any_soft {
        // One lane: the division is one instruction on a Cortex-M4F, where the choice on
        // w = 0 took five (fused sigmoid, N = 4096: 106.0 → 101.0 instructions per element).
        c.d.mul(c.e.div(v))
    } else {
        // Hard targets only (the SIMD backends' general path): the same bits, no division.
        S::select(w_zero, c.d, c.d.mul(c.e))
    };
    let mut lv = upow.mul(ce);
    if any_inf {
        // At an infinite logit a soft target near 0 or 1 makes `ce` infinite while `u^γ`
        // underflows to 0 (`u` itself is positive): the limit is +inf, not 0·inf = NaN.
        let lost = S::and(ce.eq(S::splat(f32::INFINITY)), zero.lt(u));
        lv = S::select(lost, ce, lv);
        // At a huge finite logit a soft target that close to 0 or 1 makes `ce` huge and
        // `u^γ` subnormal or 0 although their product is a normal number (x = -f32::MAX,
        // t = 1e-20, γ = 2.5: 3.4e-32, not 0; audit finding): there the product is
        // `exp(γ·ln u + ln ce)`, with `ln u = ln v - l`, within the bound's `3·cond`.
        let under = S::and(
            upow.lt(S::splat(f32::MIN_POSITIVE)),
            S::and(one.lt(ce), ce.lt(S::splat(f32::INFINITY))),
        );
        if S::any(under) {
            lv = S::select(under, S::pow_rescue(v, c.l, ce, gamma), lv);
        }
    }
    // d·(w - w̄·e): the BCE part of the gradient, up to sign.
    let mut bracket = c.d.mul(c.wbar.neg_mul_add(c.e, c.w));
    if !g.zero(p.gamma) {
        // γ·(2w - 1)·r·ce
        let k = c.w.mul_add(gamma.add(gamma), gamma.neg());
        let rce = if any_inf {
            mul_or_zero(r, ce)
        } else {
            r.mul(ce)
        };
        bracket = k.mul_add(rce, bracket);
    }
    let mut g = upow.mul(bracket);
    if S::N == 1 && !any_inf {
        // One lane, nothing infinite: `α_t = t·a + (1-t)·b` with no test of `α` per element,
        // `(a, b) = (α, 1-α)` with `α` and `(1, 1)` without, which gives exactly 1 for every
        // target in `[0, 1]` (the only ones that get here): `1 - t` is exact from `t = 1/2`
        // up, and below it is within 2^-25 of `1 - t`, so `t + (1 - t)` rounds to 1. The
        // products by 1 are exact: the same bits as the branch on `α`, which cost a
        // Cortex-M4F 3 instructions per element (fused sigmoid, N = 4096: 115.1 → 113.1
        // with a first form that added 0 or 1, 108.8 → 107.8 without that addition).
        let (ta, tb) = match p.alpha {
            Some(alpha) => (alpha, 1.0 - alpha),
            None => (1.0, 1.0),
        };
        let at = t.mul_add(S::splat(ta), one.sub(t).mul(S::splat(tb)));
        lv = at.mul(lv);
        g = at.mul(g);
    } else if let Some(alpha) = p.alpha {
        let at = t.mul_add(S::splat(alpha), one.sub(t).mul(S::splat(1.0 - alpha)));
        lv = if any_inf {
            mul_or_zero(at, lv)
        } else {
            at.mul(lv)
        };
        g = at.mul(g);
    }
    Out {
        loss: lv,
        g,
        pos: c.pos,
    }
}

/// Form (B): `L` and `dL/dx`.
#[inline(always)]
fn eval_b<S: Lanes, G: Gamma>(k: Logs<S>, t: S, big: bool, p: &Params, g: G) -> Out<S> {
    let c = common(k, t, big);
    let (a0, a1) = match p.alpha {
        Some(alpha) => (alpha, 1.0 - alpha),
        None => (1.0, 1.0),
    };
    // Alpha weight of the term with the large log (a + l), and of the other one. Each term
    // multiplies by its alpha last: `α·t` first would underflow for a subnormal `α` and lose
    // the term's relative accuracy (fuzz finding, `tests/fuzz_regressions.rs`).
    let aw = S::select(c.pos, S::splat(a1), S::splat(a0));
    let ac = S::select(c.pos, S::splat(a0), S::splat(a1));
    let gamma = S::splat(p.gamma);
    let pc = c.d;
    let pw = c.d.mul(c.e);
    let sp_w = c.a.add(c.l);
    let sp_c = c.l;
    let (pc_g, pw_g) = match (g.pow(pc, p.gamma), g.pow(pw, p.gamma)) {
        (Some(pc_g), Some(pw_g)) => (pc_g, pw_g),
        _ => (exp(gamma.mul(c.l.neg())), exp(gamma.mul(sp_w.neg()))),
    };
    let lw = mul_or_zero(c.w, pc_g.mul(sp_w));
    // `lw` is infinite only at an infinite logit, where a zero alpha weight must give 0.
    let lw = if c.big {
        mul_or_zero(aw, lw)
    } else {
        aw.mul(lw)
    };
    let lv = lw.add(c.wbar.mul(pw_g).mul(sp_c).mul(ac));
    let (bw, bc) = if g.zero(p.gamma) {
        (pc, pw)
    } else {
        (
            gamma.mul_add(mul_or_zero(pw, sp_w), pc),
            gamma.mul(pc).mul_add(sp_c, pw),
        )
    };
    let g =
        c.w.mul(pc_g)
            .mul(bw)
            .mul(aw)
            .sub(c.wbar.mul(pw_g).mul(bc).mul(ac));
    Out {
        loss: lv,
        g,
        pos: c.pos,
    }
}

/// [`eval_a`] for hard targets and no `|x| > 87` (see [`Hard`]). With `w` 0 or 1 the
/// bracket `γ·(2w-1)·r·ce + d·(w - w̄·e)` is `±(γ·r·ce + u)`, minus exactly where `w = 0`;
/// that sign and the one of `x` (`s`) make the sign of `t = 0`, which goes into `pos`, so
/// the multiply the driver does anyway applies it. The products and the fused sum are those
/// of [`eval_a`] up to signs, which rounding keeps: the same bits.
#[inline(always)]
fn eval_a_hard<S: Lanes, G: Gamma>(k: Logs<S>, t: S, p: &Params, g: G) -> Out<S> {
    let h = hard(k, t);
    let gamma = S::splat(p.gamma);
    let upow = match g.pow(h.u, p.gamma) {
        Some(upow) => upow,
        // ln v: -a (w = 0) or 0 (w = 1), as in `eval_a`.
        None => exp(gamma.mul(S::select(h.right, h.a.neg(), S::splat(0.0)).sub(h.l))),
    };
    let mut lv = upow.mul(h.ce);
    let mut bracket = h.u;
    if !g.zero(p.gamma) {
        let r = S::select(h.right, h.d, h.de);
        bracket = gamma.mul_add(r.mul(h.ce), bracket);
    }
    let mut g = upow.mul(bracket);
    if let Some(at) = alpha_t(&h, p.alpha) {
        lv = at.mul(lv);
        g = at.mul(g);
    }
    Out {
        loss: lv,
        g,
        pos: h.zero,
    }
}

/// [`eval_b`] for hard targets and no `|x| > 87` (see [`Hard`]): one of its two terms is
/// exactly 0, so only the other is evaluated, with the same operations: the same bits.
#[inline(always)]
fn eval_b_hard<S: Lanes, G: Gamma>(k: Logs<S>, t: S, p: &Params, g: G) -> Out<S> {
    let h = hard(k, t);
    let gamma = S::splat(p.gamma);
    // `u` is `pc = d` where `w = 1` and `pw = d·e` where `w = 0`.
    let upow = match g.pow(h.u, p.gamma) {
        Some(upow) => upow,
        None => exp(gamma.mul(S::select(h.right, h.apl, h.l).neg())),
    };
    // Without alpha `eval_b` multiplies by 1: the same bits as not multiplying.
    let at = alpha_t(&h, p.alpha).unwrap_or(S::splat(1.0));
    let lv = upow.mul(h.ce).mul(at);
    let b = if g.zero(p.gamma) {
        h.u
    } else {
        // `bw` where `w = 1`, `bc` where `w = 0`.
        let bw = gamma.mul_add(h.de.mul(h.apl), h.d);
        let bc = gamma.mul(h.d).mul_add(h.l, h.de);
        S::select(h.right, bc, bw)
    };
    let y = upow.mul(b).mul(at);
    // Where w = 0 `eval_b` subtracts the term from `w·(...)`, a zero with the sign of `t`
    // (`-0.0` is a valid target): `t·0 - y`, not `-y`, for y = +0.
    let z = t.mul(S::splat(0.0));
    Out {
        loss: lv,
        g: S::select(h.right, z.sub(y), y),
        pos: h.pos,
    }
}

/// The code of `gamma` for [`Gamma`]: `2γ` where that is an integer from 0 to 9 (`γ` in
/// 0, 0.5, 1, ..., 4.5: powers by multiplication and at most one square root), else
/// [`GENERAL`] (`exp(γ·ln u)`). The SIMD backends compile code 4 (`γ = 2`) and
/// [`GENERAL`] (see `backend::by_gamma`). Arithmetic rather than ten comparisons: about 10
/// instructions on a Cortex-M4F, which the builders spend once, when `γ` is set (a `const`
/// builder: at compile time), rather than in every call.
pub(crate) const fn gamma_code(gamma: f32) -> u32 {
    // 2γ is exact (+inf from 2^127 up, which gives GENERAL). The conversion saturates
    // (-0 gives 0, which is right), and a `k` that gives `h` back is it.
    let h = gamma * 2.0;
    let k = h as u32;
    if k <= 9 && k as f32 == h { k } else { GENERAL }
}

/// Runs `job` with lanes `S`, form (B) if `PER_TERM` else (A), the loop `M` (the job's mode,
/// [`mode_id`], or the loop of several modes that reads it: [`LOSSES`], [`GRADS`]), `γ` of
/// code `G` (see [`gamma_code`]), and returns the sum of the losses (0 unless the mode
/// sums). [`Mode::Sum`], which writes nothing, also checks the targets as it reads them: NaN
/// if one is NaN or outside `[0, 1]`.
///
/// # Safety
/// `job.x`, `job.t` (and the upstream pointer) must be valid for reading `job.n` values; the
/// output pointer for writing `job.n` values. The output may be `job.x` itself; no other
/// overlap is allowed. `M` is the job's mode or a loop that serves it.
#[inline(always)]
pub(crate) unsafe fn run<S: Lanes, const PER_TERM: bool, const M: u8, const G: u32>(
    job: &Job,
    p: &Params,
) -> Total {
    debug_assert!(match M {
        LOSSES => matches!(mode_id(job.mode), SUM | LOSS),
        GRADS => matches!(mode_id(job.mode), GRAD | GRAD_UP),
        _ => mode_id(job.mode) == M,
    });
    // SAFETY (both arms): forwarded from this function's contract.
    unsafe {
        if PER_TERM {
            lanes::<S, _, M>(job, &FormB(p, Fixed::<G>))
        } else {
            lanes::<S, _, M>(job, &FormA(p, Fixed::<G>))
        }
    }
}

pub(crate) const SUM: u8 = 0;
pub(crate) const LOSS: u8 = 1;
pub(crate) const GRAD: u8 = 2;
pub(crate) const GRAD_UP: u8 = 3;
pub(crate) const SUM_GRAD: u8 = 4;

/// How far ahead of the loop the inputs are prefetched, in elements (2 KiB). Measured at
/// N = 16 Mi, fused AVX-512, on two machines: on an Intel Xeon VM 2, 4 and 8 KiB ran the same
/// and no prefetch was 15% slower; on an AMD EPYC VM (medians of 8 alternating runs) 2 KiB
/// beat 4 KiB by 7% in a quiet hour (0.93 against 0.87 G elements/s) and by 11% in a busy
/// one, 8 and 16 KiB were slower than 4, and no prefetch ran as 2 KiB.
const PREFETCH: usize = 512;

/// The loop of the SIMD backends for [`SUM`] and [`LOSS`], the mode read at run time: no
/// gradient is computed.
pub(crate) const LOSSES: u8 = 5;
/// The loop of the SIMD backends for [`GRAD`] and [`GRAD_UP`], the mode read at run time: no
/// sum is kept. ([`SUM_GRAD`], the fused call, has a loop of its own: in this one, a sum
/// under a run-time test made [`GRAD`] 6-20 % slower on the portable backend.)
pub(crate) const GRADS: u8 = 6;

/// The mode a loop for mode `M` runs: `M`, or the job's for [`ANY_MODE`], [`LOSSES`] and
/// [`GRADS`]. A constant for the loops of one mode, so that their tests of it fold away.
#[inline(always)]
fn mode_of<const M: u8>(job: &Job) -> u8 {
    match M {
        ANY_MODE | LOSSES | GRADS => mode_id(job.mode),
        _ => M,
    }
}

/// Whether mode `m`, run by the loop for `M`, is [`SUM`] (which checks the targets): never in
/// the loops of [`GRADS`] and [`SUM_GRAD`], which then compile no check. (Tested as `m ==
/// SUM`, the [`GRADS`] loops carried the check, and the compiler copied their loops around
/// it: 100 KB, a tenth of the library's x86_64 `.text`.)
#[inline(always)]
fn is_sum<const M: u8>(m: u8) -> bool {
    M != GRADS && M != SUM_GRAD && m == SUM
}

/// Whether mode `m`, run by the loop for `M`, sums the losses.
#[inline(always)]
fn sums<const M: u8>(m: u8) -> bool {
    M != GRADS && (m == SUM || m == SUM_GRAD)
}

/// What mode `m`, run by the loop for `M`, writes for vector `o`: its losses, or its
/// gradient times `c` or times the upstream gradient, which `up` loads (called for
/// [`GRAD_UP`] only). Unused for [`SUM`].
#[inline(always)]
fn output<V: Lanes, const M: u8>(o: Out<V>, m: u8, c: f32, up: impl FnOnce() -> V) -> V {
    if M == LOSSES {
        // The loop of the modes without a gradient: it is never computed.
        return o.loss;
    }
    match m {
        LOSS => o.loss,
        GRAD_UP => o.grad_times(up()),
        _ => o.grad_times(V::splat(c)),
    }
}

/// Writes the output of vector `o`, evaluated at element `i`, for mode `m` (`c` is the
/// gradient scale, `up` the upstream gradient).
///
/// # Safety
/// `out` (and `up` for [`GRAD_UP`]) must be valid for `V::N` elements from `i`.
#[inline(always)]
unsafe fn emit<V: Lanes, const M: u8>(
    o: Out<V>,
    m: u8,
    out: *mut f32,
    c: f32,
    up: *const f32,
    i: usize,
) {
    if m != SUM {
        // SAFETY: forwarded from this function's contract.
        unsafe { output::<V, M>(o, m, c, || V::load(up.add(i))).store(out.add(i)) };
    }
}

/// Losses are non-negative: summing BLOCK of them per lane in `f32` before adding the block
/// to the accumulator bounds the relative error of those sums by `(BLOCK - 1)·2^-24`
/// (6.6e-7). With the accumulator's own (below `6e-8` over 10^8 elements on the scalar
/// backend's float-float, far less in the SIMD backends' `f64`) and the final rounding
/// (`2^-24`), the reduced sum stays within the specification's 1e-6. 12 rather than 8: on a
/// Cortex-M4F each block costs about 30 instructions (the float-float addition and the
/// block loop), 3.75 per element in blocks of 8, 2.5 in blocks of 12.
const BLOCK: usize = 12;

/// How many elements come before the output is aligned to a whole vector of `S`:
/// full-vector stores that straddle two cache lines cost more (AVX2 at 64 Ki with every
/// slice 16 bytes off alignment: 0.686 → 0.700 G/s). Always below `S::N`; 0 for the scalar
/// backend, and 0 when the mode sums the losses: the order of a sum must not depend on where
/// the slice sits in memory (bit-identical results for the same values), and keeping it
/// fixed under a head measured slower than the alignment gains.
#[inline(always)]
fn head<S: Lanes, const M: u8>(job: &Job, m: u8) -> usize {
    if sums::<M>(m) {
        return 0;
    }
    let (out, ..) = job.mode.parts();
    let size = S::N * core::mem::size_of::<f32>();
    // `f32` pointers are 4-aligned, so this is a whole number of elements below S::N.
    let off = (out as usize) % size;
    let h = if off == 0 {
        0
    } else {
        (size - off) / core::mem::size_of::<f32>()
    };
    h.min(job.n)
}

/// Evaluates the `r <= S::N` elements from `i` as the first lanes of one vector of `S` (the
/// others padded), writes their outputs and returns their losses (0 in the padding lanes).
/// The head and the tail of the slice go through it, so that every element goes through the
/// same vector code.
///
/// # Safety
/// As for [`run`], with `i + r <= job.n` and `r <= S::N`.
#[inline(always)]
unsafe fn partial<S: Lanes, F: Eval, const M: u8>(
    job: &Job,
    m: u8,
    eval: &F,
    i: usize,
    r: usize,
) -> S {
    let (out, c, up) = job.mode.parts();
    // SAFETY: the r <= S::N elements from i are in bounds (contract). Each slice made here is
    // used once and dropped before the next one over the same memory (the output may be the
    // logits).
    unsafe {
        let x: S = load_tail(core::slice::from_raw_parts(job.x.add(i), r), 0.0);
        let t: S = load_tail(core::slice::from_raw_parts(job.t.add(i), r), 0.0);
        let o = eval.eval(x, t, big(x));
        if m != SUM {
            let v = output::<S, M>(o, m, c, || {
                load_tail(core::slice::from_raw_parts(up.add(i), r), 0.0)
            });
            store_tail(v, core::slice::from_raw_parts_mut(out.add(i), r));
        }
        S::select(first_lanes::<S>(r), o.loss, S::splat(0.0))
    }
}

/// How many groups the general path of [`wide`](fn@wide) runs before it looks for hard targets
/// again. The short path tests every group it takes; the general one tests only every
/// `LOOK`-th, so that soft targets pay one test per `LOOK` groups. A run of hard targets is
/// found at most `LOOK - 1` groups late: the same bits either way.
///
/// Measured on an Intel Xeon (AVX-512, 64 Ki, fused, against the same loop without the short
/// path): one loop holding both paths and testing every group made soft targets 4-7 %
/// slower (AVX-512 and AVX2) and gained hard targets 1.02x on AVX-512; one loop testing
/// every 16th group, soft 1-5 % slower; two loops, testing every 4th group, soft 1-3 %
/// slower; every 16th, soft even (0.99-1.02) and hard 1.08x (AVX-512), 1.10x (AVX2).
const LOOK: usize = 16;

/// The running state of [`wide`](fn@wide): the accumulator, the `f32` partial sums not yet added to
/// it, how many are in them, and the folded targets (see [`fold_unit`]).
struct Sink<W: Lanes> {
    acc: W::Acc,
    part: W,
    filled: usize,
    top: W,
}

impl<W: Lanes> Sink<W> {
    /// Adds the losses `loss` of one group to the partial sums.
    #[inline(always)]
    fn add(&mut self, loss: W) {
        self.part = self.part.add(loss);
        self.filled += 1;
        if self.filled == BLOCK {
            self.acc = W::acc_add(self.acc, self.part);
            self.part = W::splat(0.0);
            self.filled = 0;
        }
    }

    /// Takes the results `o` of the group at `i` (targets `t`): folds the targets, adds the
    /// losses and writes the outputs, as mode `m` asks, to `d`.
    ///
    /// # Safety
    /// As for [`emit`] with `V = W`, with `d` made by [`Dest::new`] for this job.
    #[inline(always)]
    unsafe fn take<const M: u8>(&mut self, job: &Job, m: u8, d: &Dest, o: Out<W>, t: W, i: usize) {
        // SAFETY (all arms): `d` writes and reads `W::N` values from `i` of the job's buffers
        // (valid: contract), or the first ones of its spare vector (`MAX_WIDE >= W::N`).
        unsafe {
            match M {
                LOSSES => {
                    // SUM and LOSS alike: fold, sum and store (SUM into the spare vector).
                    // (Folding and summing only for SUM measured 1.08-1.24x for form (B)'s
                    // SUM on AVX-512, and LOSS 1.02-1.11x when it sums on AVX2.)
                    if W::UMAX_BITS {
                        self.top = fold_unit(self.top, t);
                    }
                    self.add(o.loss);
                    o.loss.store(d.out.wrapping_add(i & d.out_mask));
                }
                GRADS => o
                    .grad_times(W::load(d.up.wrapping_add(i & d.up_mask)))
                    .store(d.out.wrapping_add(i)),
                _ => {
                    let (out, c, up) = job.mode.parts();
                    if is_sum::<M>(m) && W::UMAX_BITS {
                        self.top = fold_unit(self.top, t);
                    }
                    if sums::<M>(m) {
                        self.add(o.loss);
                    }
                    emit::<W, M>(o, m, out, c, up, i);
                }
            }
        }
    }
}

/// Where [`wide`](fn@wide)'s loops write element `i`'s outputs (`out + (i & out_mask)`) and, for a
/// gradient, what they multiply it by (`up + (i & up_mask)`), fixed before the loop. The
/// loops that serve two modes ([`LOSSES`], [`GRADS`]) then run the same operations for
/// both: [`SUM`] stores its losses into a spare vector (its `out_mask` is 0), [`LOSS`] sums
/// them too, and [`GRAD`] reads its scale from the spare vector. With a test of the mode per
/// group for these, the compiler kept some of the loops twice, once per mode: 7 KB more of
/// the library's x86_64 `.text` (docs/performance.md, "Build cost"). The same values are
/// computed and stored: the same bits.
struct Dest {
    out: *mut f32,
    out_mask: usize,
    up: *const f32,
    up_mask: usize,
}

impl Dest {
    /// The outputs of mode `m` in the loop `M`, with `spare` (every value the gradient
    /// scale) to write to or read from where the mode has no buffer: [`SUM`], which has no
    /// scale, writes to it, and [`GRAD`], which has no output of its own, reads it.
    #[inline(always)]
    fn new<const M: u8>(job: &Job, m: u8, spare: &mut [f32; MAX_WIDE]) -> Dest {
        let (out, _, up) = job.mode.parts();
        let spare = spare.as_mut_ptr();
        let (out, out_mask) = if is_sum::<M>(m) {
            (spare, 0)
        } else {
            (out, usize::MAX)
        };
        let (up, up_mask) = if m == GRAD_UP {
            (up, usize::MAX)
        } else {
            (spare.cast_const(), 0)
        };
        Dest {
            out,
            out_mask,
            up,
            up_mask,
        }
    }
}

/// Out of cache, the hardware prefetcher alone leaves the loop waiting on memory; the
/// output lines are asked for owned, ready for the stores (at N = 16 Mi on AVX-512 that
/// took the loop from 0.66 to 0.76 G/s; in cache it changes nothing). Not in the scalar
/// backend's loop: the `asm!` of `prefetch_write` would keep the compiler from vectorising
/// it (scalar backward at 64 Ki: 0.108 G/s without, 0.050 with).
#[inline(always)]
fn prefetch_ahead<W: Lanes>(job: &Job, d: &Dest, i: usize) {
    if W::N >= LINE {
        let mut p = 0;
        while p < W::N {
            let j = i + PREFETCH + p;
            prefetch(job.x.wrapping_add(j));
            prefetch(job.t.wrapping_add(j));
            // (SUM: its spare vector, which is in cache anyway: no test in the loop.)
            prefetch_write(d.out.wrapping_add(j & d.out_mask));
            p += LINE;
        }
    }
}

/// The short path of [`wide`](fn@wide): the groups from `i` on while they are hard
/// ([`all_hard`], no `|x| > 87`). Returns where it stopped: the first group that is not, or
/// the last whole group's end.
///
/// With [`Lanes::PIPELINED_HARD`] each turn computes the exponential of the next group
/// beside the rest of this one's evaluation: one group's chain of dependent operations
/// (`exp`, then `log1p`, the loss and the gradient) is longer than the core's window of
/// pending work, so neighbouring groups overlapped little. (Zen 3 VM, operations removed
/// from the loop one kind at a time, `docs/performance.md`: each FMA of `log1p_unit`'s
/// polynomial, which lies on the chain, cost about 3.7 % of the call, while the blends,
/// compares and constants beside the chain cost nothing measurable.) The same operations
/// for every element: the same bits.
///
/// # Safety
/// As for [`run`], with `d` made by [`Dest::new`] for this job.
#[inline(always)]
unsafe fn hard_run<W: Lanes, F: Eval, const M: u8>(
    job: &Job,
    m: u8,
    eval: &F,
    d: &Dest,
    s: &mut Sink<W>,
    mut i: usize,
) -> usize {
    let n = job.n;
    if !(W::PIPELINED_HARD && F::PIPELINED) {
        while i + W::N <= n {
            prefetch_ahead::<W>(job, d, i);
            // SAFETY: i + W::N <= n and every pointer is valid for n elements (contract of
            // `run`); the stores come after the loads, so the output may be the logits.
            let (t, x) = unsafe { (W::load(job.t.add(i)), W::load(job.x.add(i))) };
            if big(x) || !all_hard(t) {
                break;
            }
            let o = eval.eval_hard(logs(x, false), t);
            // SAFETY: as above.
            unsafe { s.take::<M>(job, m, d, o, t, i) };
            i += W::N;
        }
        return i;
    }
    // `e`: the exponential of the group at `i`, which has passed the test. (A loop that
    // also took the first group's, with a flag for "no group yet", saved this second copy
    // of `exp` but measured 0.91-1.0 of the plain loop's time, against 0.86-0.87 here.)
    // SAFETY: forwarded.
    let Some(mut e) = (unsafe { hard_ahead::<W>(job, i) }) else {
        return i;
    };
    loop {
        prefetch_ahead::<W>(job, d, i);
        let j = i + W::N;
        // SAFETY: forwarded.
        let next = unsafe { hard_ahead::<W>(job, j) };
        // The group at i again (in L1 now) rather than its registers, held across the
        // next group's work.
        // SAFETY: the group at i passed `hard_ahead`, so i + W::N <= n (contract of `run` for
        // the pointers); the stores come after the loads, so the output may be the logits.
        let (t, x) = unsafe { (W::load(job.t.add(i)), W::load(job.x.add(i))) };
        let o = eval.eval_hard(logs_from(x, e), t);
        // SAFETY: as above.
        unsafe { s.take::<M>(job, m, d, o, t, i) };
        i = j;
        match next {
            Some(v) => e = v,
            None => return i,
        }
    }
}

/// The exponential `exp(-|x|)` of the group at `j` for [`hard_run`]'s pipelined loop, if
/// there is a whole group there and it is hard ([`all_hard`], no `|x| > 87`). A function
/// inlined into the entry point, not a closure: a closure is not compiled with the entry
/// point's target features (tried: 19-23x the time).
///
/// # Safety
/// As for [`run`].
#[inline(always)]
unsafe fn hard_ahead<W: Lanes>(job: &Job, j: usize) -> Option<W> {
    if j + W::N > job.n {
        return None;
    }
    // SAFETY: j + W::N <= n and every pointer is valid for n elements (contract of `run`).
    let (t, x) = unsafe { (W::load(job.t.add(j)), W::load(job.x.add(j))) };
    if big(x) || !all_hard(t) {
        return None;
    }
    Some(exp_normal_nonpos(x.abs().neg()))
}

/// The main loop over groups `W` (several vectors evaluated in lockstep, see
/// [`Lanes::Wide`]) from element `i`, prefetching ahead. Returns where it stopped, the
/// accumulator, the `f32` partial sums not yet added to it (zeros unless the mode sums) and
/// the targets folded by [`fold_unit`] (for [`SUM`] with [`Lanes::UMAX_BITS`]; else 1).
///
/// Hard targets take the short path, in a loop of its own that runs while the groups are
/// hard ([`all_hard`], no `|x| > 87`); the general path runs [`LOOK`] groups at a time
/// between its tries. Only here, in the SIMD backends: the head and tail, and the scalar
/// backend's loops, run the general path, which gives the same bits.
///
/// # Safety
/// As for [`run`].
#[inline(always)]
unsafe fn wide<W: Lanes, F: Eval, const M: u8>(
    job: &Job,
    m: u8,
    eval: &F,
    mut i: usize,
) -> (usize, W::Acc, W, W) {
    let n = job.n;
    let mut s = Sink {
        acc: W::acc_zero(),
        part: W::splat(0.0),
        filled: 0,
        top: W::splat(1.0),
    };
    let mut spare = [job.mode.parts().1; MAX_WIDE];
    let d = Dest::new::<M>(job, m, &mut spare);
    // `α = -0.0` (valid, and useless) gives zeros whose signs the short path does not
    // reproduce: it keeps the general path.
    let short = W::N > 1
        && W::HARD_PATH
        && F::SHORT
        && eval
            .params()
            .alpha
            .is_none_or(|a| a.to_bits() != (-0.0f32).to_bits());
    while i + W::N <= n {
        if short {
            // SAFETY: forwarded.
            i = unsafe { hard_run::<W, F, M>(job, m, eval, &d, &mut s, i) };
        }
        let stop = if short {
            n.min(i.saturating_add(LOOK * W::N))
        } else {
            n
        };
        while i + W::N <= stop {
            prefetch_ahead::<W>(job, &d, i);
            // SAFETY: as above.
            let (t, x) = unsafe { (W::load(job.t.add(i)), W::load(job.x.add(i))) };
            let b = big(x);
            let o = eval.eval_logs(logs(x, b), t, b);
            // SAFETY: as above.
            unsafe { s.take::<M>(job, m, &d, o, t, i) };
            i += W::N;
        }
    }
    (i, s.acc, s.part, s.top)
}

/// The loop shared by every mode and backend: a padded vector up to the output's alignment
/// ([`head`]), groups of vectors in lockstep ([`wide`](fn@wide)), then padded vectors for the tail.
/// Every element goes through the same vector code, so its result does not depend on where
/// it sits in the slice.
///
/// A sum adds element `i` to lane `i mod L` (`L` the group's lanes) of `f32` partial sums,
/// each added to its lane's accumulator every `BLOCK` elements and at the end; the
/// lanes are then reduced in a fixed order. (Sums have no head, see [`head`].)
#[inline(always)]
unsafe fn lanes<S: Lanes, F: Eval, const M: u8>(job: &Job, eval: &F) -> Total {
    let (n, m) = (job.n, mode_of::<M>(job));
    let h = head::<S, M>(job, m);
    if h > 0 {
        // SAFETY: h <= n and h < S::N (contract of `run` forwarded). No sum has a head.
        unsafe { partial::<S, F, M>(job, m, eval, 0, h) };
    }
    // SAFETY: the targets hold n values and are never written (contract of `run`).
    let targets = unsafe { core::slice::from_raw_parts(job.t, n) };
    // A sum writes nothing: its targets are checked by the loop (see `fold_unit`), or before
    // it by lanes without a one-instruction unsigned maximum; a bad one gives NaN.
    if is_sum::<M>(m) && !S::UMAX_BITS && first_outside_unit::<S>(targets).is_some() {
        return Total::from_f32(f32::NAN);
    }
    // SAFETY: forwarded from `run`'s contract.
    let (i, acc, mut part, top) = unsafe { wide::<S::Wide, F, M>(job, m, eval, h) };
    if is_sum::<M>(m)
        && S::UMAX_BITS
        && (outside_unit_seen(top)
            || first_outside_unit::<S>(targets.get(i..).unwrap_or(&[])).is_some())
    {
        return Total::from_f32(f32::NAN);
    }
    if i < n {
        // The tail: the first n - i lanes of one more group, a vector of S at a time.
        let mut buf = [0.0f32; MAX_WIDE];
        let mut j = 0;
        while i + j < n {
            // SAFETY: i + j + r <= n with r <= S::N; `buf` holds MAX_WIDE >= W::N >= j + S::N
            // values.
            unsafe {
                let r = (n - i - j).min(S::N);
                partial::<S, F, M>(job, m, eval, i + j, r).store(buf.as_mut_ptr().add(j));
            }
            j += S::N;
        }
        // SAFETY: `buf` holds MAX_WIDE >= W::N values.
        part = part.add(unsafe { <S::Wide as Lanes>::load(buf.as_ptr()) });
    }
    <S::Wide as Lanes>::acc_sum(<S::Wide as Lanes>::acc_add(acc, part))
}

/// The scalar backend's loops, where the SIMD backends compile a loop per form, `γ` and mode
/// ([`run`]): for form (A), one loop per `M` (three serve the five modes, see
/// [`scalar_loop`]; only those a program calls are linked; one, [`ANY_MODE`], without an FPU:
/// see [`ONE_LOOP`]) for every `γ`, read at run time; for form (B), one loop for every mode
/// ([`run_scalar_per_term`]). A microcontroller runs these: there flash is scarce and a
/// predictable branch costs about a cycle. The formulas are those of [`eval_a`] and
/// [`eval_b`], and the sum has the structure of [`lanes`] with one lane (`BLOCK` losses in
/// `f32`, then into the [`Total`]), so this computes what `run::<Scalar, ..>` would, bit for
/// bit.
///
/// The choice of loop is inlined into the caller, so that form (B)'s loop runs beneath the
/// method's frame rather than beneath form (A)'s: nested, the two loops' frames took 272
/// bytes of a Cortex-M4F's stack, each saving every callee-saved register.
///
/// # Safety
/// As for [`run`], and `job.mode` is mode `M` (or a mode whose loop `M` serves: see
/// [`scalar_loop`]).
#[inline(always)]
pub(crate) unsafe fn run_scalar<const M: u8>(job: &Job, p: &Params) -> Total {
    if let Mode::Sum = job.mode {
        // SAFETY: the targets hold n values (contract).
        let targets = unsafe { core::slice::from_raw_parts(job.t, job.n) };
        if first_outside_unit::<Scalar>(targets).is_some() {
            return Total::from_f32(f32::NAN);
        }
    }
    // SAFETY (both arms): forwarded.
    unsafe {
        if p.per_term {
            run_scalar_per_term(job, p)
        } else {
            run_scalar_a::<M>(job, p)
        }
    }
}

/// Form (A) on the scalar backend: [`scalar_loop`] for mode `M`, every `γ`.
///
/// # Safety
/// As for [`run_scalar`].
#[inline(never)]
unsafe fn run_scalar_a<const M: u8>(job: &Job, p: &Params) -> Total {
    // SAFETY: forwarded.
    unsafe { scalar_loop::<_, M>(job, &FormA(p, Runtime(p.code))) }
}

/// Form (B) on the scalar backend: one loop for every mode (read at run time), since only
/// the default form (A) gets a loop per mode: a few instructions more per element for the
/// mmcv and kornia form, a fifth of the flash for a program that calls every method.
///
/// # Safety
/// As for [`run`].
#[inline(never)]
unsafe fn run_scalar_per_term(job: &Job, p: &Params) -> Total {
    // SAFETY: forwarded.
    unsafe { scalar_loop::<_, ANY_MODE>(job, &FormB(p, Runtime(p.code))) }
}

/// The mode of [`scalar_loop`] read at run time.
pub(crate) const ANY_MODE: u8 = u8::MAX;

/// Whether the scalar backend runs form (A) in one loop for every mode, as it does form (B):
/// on targets without a hardware FPU (Arm Cortex-M0, M0+, M3; RISC-V without the F
/// extension, such as `riscv32imac`), where every floating-point operation is a library
/// call, a mode read per element costs nothing measurable, and the two loops saved are
/// about 5 KB of flash for a program that calls every method. The same operations either
/// way: the same bits.
pub(crate) const ONE_LOOP: bool = cfg!(any(
    all(target_arch = "arm", not(target_abi = "eabihf")),
    all(
        any(target_arch = "riscv32", target_arch = "riscv64"),
        not(target_feature = "f")
    )
));

/// The mode constant of `mode`, for [`run`] and [`run_scalar`].
#[inline(always)]
pub(crate) fn mode_id(mode: Mode) -> u8 {
    match mode {
        Mode::Sum => SUM,
        Mode::Loss(..) => LOSS,
        Mode::Grad(..) => GRAD,
        Mode::GradUpstream(..) => GRAD_UP,
        Mode::SumGrad(..) => SUM_GRAD,
    }
}

/// [`run_scalar`]'s loop for one form, for mode `M` (or any, [`ANY_MODE`]). A sum is always
/// kept (one addition per element), so [`GRAD`] can run the loop of [`SUM_GRAD`], and the
/// [`LOSS`] loop stores only where there is an output, so [`SUM`] runs it too.
///
/// # Safety
/// As for [`run_scalar`] (`job.mode` is `M`, or any mode for [`ANY_MODE`]; [`SUM_GRAD`] also
/// runs [`GRAD`]).
#[inline(always)]
unsafe fn scalar_loop<F: Eval, const M: u8>(job: &Job, eval: &F) -> Total {
    let (out, c, up) = job.mode.parts();
    // Pointers moved one element per step and a count of what is left, rather than an index
    // and a block end: on a Cortex-M4F each block of BLOCK elements then starts without
    // recomputing its four pointers from the index (39 → 31 instructions of the block's own,
    // the fixed cost of a call 361.9 → 353.7, 172 bytes less for a program that calls every
    // method).
    let (mut px, mut pt, mut po, mut pu) = (job.x, job.t, out, up);
    let mut acc = Total::ZERO;
    let mut left = job.n;
    while left > 0 {
        let k = left.min(BLOCK);
        left -= k;
        let mut part = 0.0f32;
        for _ in 0..k {
            // SAFETY: fewer than n elements were read before this one, and every pointer is
            // valid for n elements (contract); the store comes after the loads, so the output
            // may be the logits. A null output (SUM) is never dereferenced and is moved with
            // wrapping arithmetic.
            unsafe {
                let (x, t) = (Scalar::load(px), Scalar::load(pt));
                px = px.add(1);
                pt = pt.add(1);
                // What the gradient modes multiply the gradient by.
                let f = if M == GRAD_UP {
                    Scalar::load(pu)
                } else {
                    Scalar(c)
                };
                // `f` with the sign of `o.g`'s (`grad_times`), where it is not applied yet.
                let (o, fs) = if M == ANY_MODE {
                    // Form (B)'s single loop keeps its guards inline: one copy of the
                    // formulas, not two.
                    let o = eval.eval(x, t, big(x));
                    part += o.loss.0;
                    (o, f)
                } else if big(x) {
                    let (loss, g) = eval_guarded(x, t, eval.params(), eval.gamma());
                    // Through `black_box` (on this rare path only), so that the compiler
                    // cannot merge this addition with the one of the path below into one
                    // after both: there, next to the product by `α_t` that makes the loss,
                    // the two fuse into one `vmla` on a Cortex-M4F (fused sigmoid, N = 4096:
                    // 107.8 → 106.8 instructions per element). The same sum.
                    part = core::hint::black_box(part) + loss;
                    let o = Out {
                        loss: Scalar(loss),
                        g: Scalar(g),
                        pos: true,
                    };
                    (o, f)
                } else {
                    // `grad_times`' choice of sign, made here, next to the evaluation's own
                    // choices on the sign of `x`: the compiler makes them all under one
                    // comparison, where the choice made at the store compared again (two
                    // instructions per element on a Cortex-M4F).
                    let fs = Scalar::select(Scalar(0.0).le(x), f, f.neg());
                    let o = eval.eval(x, t, false);
                    part += o.loss.0;
                    (o, fs)
                };
                if M == LOSS {
                    // Also serves SUM, whose output is null (see `run_scalar`).
                    if !out.is_null() {
                        o.loss.store(po);
                    }
                } else if M != ANY_MODE {
                    // GRAD, GRAD_UP and SUM_GRAD: `emit`'s `o.grad_times(f)`.
                    o.g.mul(fs).store(po);
                } else if !out.is_null() {
                    let v = match job.mode {
                        Mode::Loss(..) => o.loss,
                        Mode::GradUpstream(..) => o.grad_times(Scalar::load(pu)),
                        _ => o.grad_times(Scalar(c)),
                    };
                    v.store(po);
                }
                po = po.wrapping_add(1);
                pu = pu.wrapping_add(1);
            }
        }
        // The first block's sum is the block's (the same bits as `ZERO.add`): one test per
        // block, 20 instructions fewer for a call with N <= BLOCK on a Cortex-M4F.
        acc = if left + k == job.n {
            Total::of(part)
        } else {
            acc.add(part)
        };
    }
    acc
}

/// One element with `|x| > 87` for [`run_scalar`]'s form (A) loops: out of line, so that
/// the loops' copies of the formulas have no guards for infinite logits.
///
/// Returns the loss and the gradient with its sign (two `f32`, which come back in registers
/// where the struct would go through memory).
#[cold]
#[inline(never)]
fn eval_guarded<G: Gamma>(x: Scalar, t: Scalar, p: &Params, g: G) -> (f32, f32) {
    let o = eval_a(logs(x, true), t, true, p, g);
    (o.loss.0, o.grad_times(Scalar(1.0)).0)
}
