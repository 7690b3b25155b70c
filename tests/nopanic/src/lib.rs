//! Every public method of `focal-loss` (both layouts, label smoothing, the chunk API), with
//! each backend forced, each label type and the TorchBlocks modules, called from one exported
//! function whose arguments come from the caller (so nothing is folded away). The crate is
//! `no_std` with a `#[panic_handler]` that calls an undefined symbol: linked as a `cdylib`
//! with `--no-undefined`, the link fails if any panic path survives optimisation
//! (`panic = "abort"`, fat LTO). `run.sh` builds it, and builds it again with the
//! `planted-panic` feature to show that such a link fails.
#![no_std]

use core::panic::PanicInfo;
use core::slice;

use focal_loss::compat::torchblocks::{BinaryFocalLoss, FocalLoss};
use focal_loss::{
    Alpha, Backend, ClassIndex, FocalError, Partial, Reduction, SigmoidFocal, SigmoidForm,
    SoftmaxFocal, Targets,
};

unsafe extern "C" {
    /// Defined nowhere: a reference to it that survives linking fails the link.
    fn focal_loss_panic_reachable() -> !;
}

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    // SAFETY: the function does not exist; if this call is reachable the link fails, which
    // is the point. It can never run.
    unsafe { focal_loss_panic_reachable() }
}

/// Arguments of [`focal_nopanic_probe`], all from the caller.
#[repr(C)]
pub struct Probe {
    /// Logits (`n` of them), writable: the in-place methods overwrite them.
    pub x: *mut f32,
    /// Targets, `n`.
    pub t: *const f32,
    /// Upstream gradients, `n`.
    pub up: *const f32,
    /// Outputs, `n`.
    pub out: *mut f32,
    /// Number of logits.
    pub n: usize,
    /// Number of classes.
    pub c: usize,
    /// Labels as bytes: `n_labels · 8` of them, read as each label type.
    pub labels: *const u64,
    /// Number of labels.
    pub n_labels: usize,
    /// Per-class alpha, `c` of them.
    pub class_alpha: *const f32,
    /// Gamma, alpha, upstream, normaliser, epsilon.
    pub params: [f32; 5],
    /// Ignore index.
    pub ignore: i64,
    /// Which reduction (mod 4).
    pub reduction: u32,
}

fn ok<T>(r: Result<T, FocalError>, acc: &mut u32) {
    *acc = acc.wrapping_mul(31).wrapping_add(match r {
        Ok(_) => 1,
        Err(e) => e.index().unwrap_or(7) as u32 + 2,
    });
}

/// Every softmax method, and the TorchBlocks softmax module, for one label type.
#[allow(clippy::too_many_arguments)]
fn softmax<L: ClassIndex>(
    f: &SoftmaxFocal<'_>,
    p: &Probe,
    x: &mut [f32],
    up: &[f32],
    out: &mut [f32],
    r: Reduction,
    labels: &[L],
    acc: &mut u32,
) {
    let c = p.c;
    let [gamma, alpha, u, _, epsilon] = p.params;
    ok(f.loss(x, c, labels, r), acc);
    ok(f.loss_per_row(x, c, labels, out), acc);
    ok(f.grad(x, c, labels, r, u, out), acc);
    ok(f.grad_per_row(x, c, labels, up, out), acc);
    ok(f.loss_and_grad(x, c, labels, r, out), acc);
    ok(f.loss_and_grad_in_place(x, c, labels, r), acc);
    let cf = f.channels_first((p.reduction / 4) as usize);
    ok(cf.loss(x, c, labels, r), acc);
    ok(cf.loss_per_position(x, c, labels, out), acc);
    ok(cf.grad(x, c, labels, r, u, out), acc);
    ok(cf.grad_per_position(x, c, labels, up, out), acc);
    ok(cf.loss_and_grad(x, c, labels, r, out), acc);
    ok(cf.loss_and_grad_in_place(x, c, labels, r), acc);
    let smooth = f.label_smoothing(epsilon);
    ok(smooth.loss_and_grad(x, c, labels, r, out), acc);
    ok(
        smooth
            .channels_first((p.reduction / 4) as usize)
            .loss(x, c, labels, r),
        acc,
    );
    if let Ok(plan) = smooth.chunks(c, labels, r) {
        ok(plan.loss(x, labels).map(|s| plan.finish(s)), acc);
        ok(
            plan.loss_and_grad(x, labels, out)
                .map(|s| s.join(Partial::EMPTY)),
            acc,
        );
        ok(plan.grad(x, labels, u, out), acc);
    }
    if let Ok(plan) = cf.chunks(c, labels, r) {
        ok(Ok::<_, FocalError>(plan.rows_per_chunk()), acc);
        ok(
            plan.loss_and_grad(x, labels, out).map(|s| plan.finish(s)),
            acc,
        );
    }
    let tb = FocalLoss {
        gamma,
        alpha: Alpha::Scalar(alpha),
        epsilon,
    };
    ok(tb.loss(x, c, labels), acc);
    ok(tb.loss_and_grad(x, c, labels, out), acc);
}

/// The label buffer read as labels of type `T` (as many as fit).
fn cast<T: ClassIndex>(v: &[u64]) -> &[T] {
    let len = core::mem::size_of_val(v) / core::mem::size_of::<T>();
    // SAFETY: `T` is an integer type of at most 8 bytes, so a `u64`'s alignment suffices and
    // every bit pattern is a valid `T`; `len` elements of `T` span at most the same bytes.
    unsafe { slice::from_raw_parts(v.as_ptr().cast::<T>(), len) }
}

/// Calls every public method with every backend forced; returns a hash of the outcomes.
///
/// # Safety
/// `p` points to a valid [`Probe`] whose pointers are valid for the lengths it gives, `out`
/// and `x` not overlapping the others.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn focal_nopanic_probe(p: *const Probe) -> u32 {
    // SAFETY: the caller's contract.
    let p = unsafe { &*p };
    let n = p.n;
    // SAFETY: the caller's contract: each pointer is valid for these lengths, `x` and `out`
    // are not aliased by the others.
    let (x, t, up, out, labels, class_alpha) = unsafe {
        (
            slice::from_raw_parts_mut(p.x, n),
            slice::from_raw_parts(p.t, n),
            slice::from_raw_parts(p.up, n),
            slice::from_raw_parts_mut(p.out, n),
            slice::from_raw_parts(p.labels, p.n_labels),
            slice::from_raw_parts(p.class_alpha, p.c),
        )
    };
    #[cfg(feature = "planted-panic")]
    if n == 12345 {
        panic!("planted");
    }
    let [gamma, alpha, u, d, eps] = p.params;
    let r = match p.reduction % 4 {
        0 => Reduction::Sum,
        1 => Reduction::Mean,
        2 => Reduction::MeanValid,
        _ => Reduction::Normalize(d),
    };
    let mut acc = 0u32;
    let checked = Targets::checked(t);
    for b in Backend::ALL {
        for form in [SigmoidForm::ModulatedBce, SigmoidForm::PerTerm] {
            let f = SigmoidFocal::new()
                .alpha(Some(alpha))
                .gamma(gamma)
                .form(form)
                .backend(b);
            ok(f.loss(x, t, r), &mut acc);
            ok(f.loss_elementwise(x, t, out), &mut acc);
            ok(f.grad(x, t, r, u, out), &mut acc);
            ok(f.grad_elementwise(x, t, up, out), &mut acc);
            ok(f.loss_and_grad(x, t, r, out), &mut acc);
            if let Ok(tc) = checked {
                ok(f.loss_and_grad(x, tc, r, out), &mut acc);
                ok(f.loss_and_grad_in_place(x, tc, r), &mut acc);
            }
            ok(f.loss_and_grad_in_place(x, t, r), &mut acc);
            if let Ok(plan) = f.chunks(n, r) {
                ok(plan.loss(x, t).map(|s| plan.finish(s)), &mut acc);
                ok(plan.loss_and_grad(x, t, out), &mut acc);
                ok(plan.grad(x, t, u, out), &mut acc);
            }
        }
        for a in [
            Alpha::None,
            Alpha::Scalar(alpha),
            Alpha::PerClass(class_alpha),
        ] {
            let f = SoftmaxFocal::new()
                .alpha(a)
                .gamma(gamma)
                .ignore_index(Some(p.ignore))
                .backend(b);
            let h = &mut acc;
            softmax(&f, p, x, up, out, r, cast::<u8>(labels), h);
            softmax(&f, p, x, up, out, r, cast::<u16>(labels), h);
            softmax(&f, p, x, up, out, r, cast::<u32>(labels), h);
            softmax(&f, p, x, up, out, r, labels, h);
            softmax(&f, p, x, up, out, r, cast::<usize>(labels), h);
            softmax(&f, p, x, up, out, r, cast::<i32>(labels), h);
            softmax(&f, p, x, up, out, r, cast::<i64>(labels), h);
        }
    }
    let bin = BinaryFocalLoss {
        gamma,
        alpha,
        epsilon: eps,
    };
    ok(bin.loss(x, t), &mut acc);
    ok(bin.loss_and_grad(x, t, out), &mut acc);
    acc
}
