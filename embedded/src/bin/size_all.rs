//! Code size of every public method of both kernels: the six `SigmoidFocal` methods (plain
//! and `Targets::checked` targets) and the six `SoftmaxFocal` methods for `u8`, `u16`, `i32`
//! and `i64` labels (the label types of the `check` cases), every parameter behind
//! `black_box`. Links only if no panic path survives.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _;
use cortex_m_rt::entry;
use focal_loss::{Alpha, ClassIndex, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal, Targets};

focal_loss_embedded::link_time_no_panic!();

static X: [f32; 20] = [0.5; 20];
static T: [f32; 20] = [1.0; 20];

fn sigmoid(t: Targets) {
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

#[inline(never)]
fn softmax<L: ClassIndex>(labels: &[L]) {
    let f = SoftmaxFocal::new()
        .alpha(black_box(Alpha::None))
        .gamma(black_box(2.0))
        .ignore_index(black_box(Some(-100)));
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

#[entry]
fn main() -> ! {
    sigmoid(Targets::from(black_box(&T[..])));
    if let Ok(t) = Targets::checked(black_box(&T[..])) {
        sigmoid(t);
    }
    softmax(&[1u8, 3]);
    softmax(&[1u16, 3]);
    softmax(&[1i32, 3]);
    softmax(&[1i64, 3]);
    loop {
        black_box(());
    }
}
