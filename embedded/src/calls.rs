//! The calls of the size binaries (`size_all`, `size_every`): every public method of a
//! kernel, every parameter and slice behind `black_box`, results kept with `black_box`.

use core::hint::black_box;

use focal_loss::Targets;
use focal_loss::{Alpha, ClassIndex, Partial, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal};

static X: [f32; 20] = [0.5; 20];
static T: [f32; 20] = [1.0; 20];

/// The six `SigmoidFocal` methods on targets `t`.
pub fn sigmoid(t: Targets) {
    let f = SigmoidFocal::new()
        .alpha(black_box(Some(0.25)))
        .gamma(black_box(2.0))
        .form(black_box(SigmoidForm::ModulatedBce));
    let (x, r) = (black_box(&X[..]), black_box(Reduction::Mean));
    let mut g = [0.0f32; 20];
    let mut x2 = [0.0f32; 20];
    black_box(f.loss(x, t, r)).ok();
    black_box(f.loss_elementwise(x, t, black_box(&mut g[..]))).ok();
    black_box(f.grad(x, t, r, black_box(1.0), black_box(&mut g[..]))).ok();
    black_box(f.grad_elementwise(x, t, black_box(&T[..]), black_box(&mut g[..]))).ok();
    black_box(f.loss_and_grad(x, t, r, black_box(&mut g[..]))).ok();
    black_box(f.loss_and_grad_in_place(black_box(&mut x2[..]), t, r)).ok();
}

/// [`sigmoid`] on targets checked on each call and on `Targets::checked` ones.
pub fn sigmoid_both_targets() {
    let t = black_box(&T[..]);
    sigmoid(Targets::from(t));
    if let Ok(t) = Targets::checked(t) {
        sigmoid(t);
    }
}

/// A softmax focal loss with every parameter behind `black_box`. (Not label smoothing:
/// setting it, even to 0 behind `black_box`, links its kernel.)
fn softmax_focal() -> SoftmaxFocal<'static> {
    SoftmaxFocal::new()
        .alpha(black_box(Alpha::None))
        .gamma(black_box(2.0))
        .ignore_index(black_box(Some(-100)))
}

/// The six `SoftmaxFocal` methods with labels of type `L`.
#[inline(never)]
pub fn softmax<L: ClassIndex>(labels: &[L]) {
    softmax_with(softmax_focal(), labels);
}

#[inline(never)]
fn softmax_with<L: ClassIndex>(f: SoftmaxFocal, labels: &[L]) {
    let (z, c, r) = (black_box(&X[..]), black_box(10), black_box(Reduction::Mean));
    let labels = black_box(labels);
    let mut g = [0.0f32; 20];
    let mut z2 = [0.0f32; 20];
    black_box(f.loss(z, c, labels, r)).ok();
    black_box(f.loss_per_row(z, c, labels, black_box(&mut g[..2]))).ok();
    black_box(f.grad(z, c, labels, r, black_box(1.0), black_box(&mut g[..]))).ok();
    black_box(f.grad_per_row(z, c, labels, black_box(&T[..2]), black_box(&mut g[..]))).ok();
    black_box(f.loss_and_grad(z, c, labels, r, black_box(&mut g[..]))).ok();
    black_box(f.loss_and_grad_in_place(black_box(&mut z2[..]), c, labels, r)).ok();
}

/// The channels-first layout's six methods (`[N, C, S]`), unsmoothed or smoothed.
#[inline(never)]
fn channels_first<L: ClassIndex>(f: SoftmaxFocal, labels: &[L]) {
    let cf = f.channels_first(black_box(2));
    let (z, c, r) = (black_box(&X[..]), black_box(10), black_box(Reduction::Mean));
    let labels = black_box(labels);
    let mut g = [0.0f32; 20];
    let mut z2 = [0.0f32; 20];
    black_box(cf.loss(z, c, labels, r)).ok();
    black_box(cf.loss_per_position(z, c, labels, black_box(&mut g[..2]))).ok();
    black_box(cf.grad(z, c, labels, r, black_box(1.0), black_box(&mut g[..]))).ok();
    black_box(cf.grad_per_position(z, c, labels, black_box(&T[..2]), black_box(&mut g[..]))).ok();
    black_box(cf.loss_and_grad(z, c, labels, r, black_box(&mut g[..]))).ok();
    black_box(cf.loss_and_grad_in_place(black_box(&mut z2[..]), c, labels, r)).ok();
}

/// What [`sigmoid`] and [`softmax`] leave out, `u8` labels: the channels-first layout,
/// label smoothing in either layout, and the chunk API of both kernels (row-major and
/// channels-first plans, each chunk method and `finish`).
pub fn extras() {
    let labels = black_box(&[1u8, 3][..]);
    let smoothed = softmax_focal().label_smoothing(black_box(0.1));
    channels_first(softmax_focal(), labels);
    channels_first(smoothed, labels);
    softmax_with(smoothed, labels);

    let (x, t, r) = (
        black_box(&X[..]),
        black_box(&T[..]),
        black_box(Reduction::Mean),
    );
    let mut g = [0.0f32; 20];
    if let Ok(plan) = SigmoidFocal::new().gamma(black_box(2.0)).chunks(20, r) {
        let a = plan.loss(x, t).unwrap_or(Partial::EMPTY);
        let b = plan
            .loss_and_grad(x, t, black_box(&mut g[..]))
            .unwrap_or(Partial::EMPTY);
        black_box(plan.grad(x, t, black_box(1.0), black_box(&mut g[..]))).ok();
        black_box(plan.finish(a.join(b)));
    }
    for f in [softmax_focal(), smoothed] {
        let plans = [
            f.chunks(black_box(10), labels, r),
            f.channels_first(black_box(1))
                .chunks(black_box(10), labels, r),
        ];
        for plan in plans.into_iter().flatten() {
            let a = plan.loss(x, labels).unwrap_or(Partial::EMPTY);
            let b = plan
                .loss_and_grad(x, labels, black_box(&mut g[..]))
                .unwrap_or(Partial::EMPTY);
            black_box(plan.grad(x, labels, black_box(1.0), black_box(&mut g[..]))).ok();
            black_box(plan.finish(a.join(b)));
        }
    }
}
