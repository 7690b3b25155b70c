//! Every method of every kernel on inputs of several blocks (the unit `split` cuts long
//! calls into), as labelled bit patterns: what must not change with the number of threads or
//! with the way a call is cut into chunks.

use super::Rng;
use focal_loss::{Alpha, Backend, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal};

/// A labelled result: the bits of every value a call returned or wrote.
pub type Bits = (String, Vec<u32>);

fn push(out: &mut Vec<Bits>, what: String, v: &[f32]) {
    out.push((what, v.iter().map(|x| x.to_bits()).collect()));
}

/// Sigmoid inputs of `n` elements: soft targets, hard ones (1 % positive), a few extreme but
/// finite logits (so that the sums stay finite and the bits of the loss are tested).
pub fn sigmoid_inputs(seed: u64, n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let mut x: Vec<f32> = (0..n).map(|_| rng.logit()).collect();
    let t: Vec<f32> = (0..n)
        .map(|i| {
            if i % 3 == 0 {
                rng.target()
            } else {
                (rng.below(100) == 0) as u8 as f32
            }
        })
        .collect();
    for (i, v) in [1e30, -3e4, 88.0, -104.0].into_iter().enumerate() {
        if n > 0 {
            x[(i * 7919) % n] = v;
        }
    }
    (x, t)
}

/// Row-major softmax inputs: `rows × c` logits, labels with about 1 in 13 ignored (-100).
pub fn softmax_inputs(seed: u64, rows: usize, c: usize) -> (Vec<f32>, Vec<i64>) {
    let mut rng = Rng::new(seed);
    let z = (0..rows * c).map(|_| rng.range(-8.0, 8.0)).collect();
    let labels = (0..rows)
        .map(|_| {
            if rng.below(13) == 0 {
                -100
            } else {
                rng.below(c) as i64
            }
        })
        .collect();
    (z, labels)
}

const REDUCTIONS: [Reduction; 4] = [
    Reduction::Sum,
    Reduction::Mean,
    Reduction::MeanValid,
    Reduction::Normalize(3.0),
];

/// Every sigmoid method on `n` elements, on backend `b`.
pub fn sigmoid_calls(b: Backend, n: usize) -> Vec<Bits> {
    let (x, t) = sigmoid_inputs(7, n);
    let up: Vec<f32> = (0..n).map(|i| 0.5 + (i % 5) as f32).collect();
    let mut out = Vec::new();
    for form in [SigmoidForm::ModulatedBce, SigmoidForm::PerTerm] {
        for gamma in [2.0, 2.5, 0.0, 1.3] {
            let f = SigmoidFocal::new().form(form).gamma(gamma).backend(b);
            let tag = format!("{b:?} sigmoid {form:?} γ={gamma} n={n}");
            for r in REDUCTIONS {
                let l = f.loss(&x, &t[..], r).unwrap();
                let mut g = vec![0.0; n];
                let lg = f.loss_and_grad(&x, &t[..], r, &mut g).unwrap();
                push(&mut out, format!("{tag} loss_and_grad {r:?}"), &g);
                let mut g2 = vec![0.0; n];
                f.grad(&x, &t[..], r, 0.75, &mut g2).unwrap();
                push(&mut out, format!("{tag} grad {r:?}"), &g2);
                let mut inp = x.clone();
                let li = f.loss_and_grad_in_place(&mut inp, &t[..], r).unwrap();
                push(&mut out, format!("{tag} in place {r:?}"), &inp);
                push(&mut out, format!("{tag} losses {r:?}"), &[l, lg, li]);
            }
            let mut e = vec![0.0; n];
            f.loss_elementwise(&x, &t[..], &mut e).unwrap();
            push(&mut out, format!("{tag} loss_elementwise"), &e);
            f.grad_elementwise(&x, &t[..], &up, &mut e).unwrap();
            push(&mut out, format!("{tag} grad_elementwise"), &e);
        }
    }
    out
}

/// Every softmax method (row-major and channels-first, with and without label smoothing)
/// on backend `b`, for shapes of several blocks each (at least the 4 that the `parallel`
/// feature shares out, see `split::rows_per_block`).
pub fn softmax_calls(b: Backend) -> Vec<Bits> {
    let mut out = Vec::new();
    let weights = [0.25, 0.5, 1.0, 0.75, 0.1];
    for (rows, c) in [(3000, 80), (160, 1000), (5, 17000), (40000, 4)] {
        let (z, labels) = softmax_inputs(rows as u64 * 31 + c as u64, rows, c);
        let per_class: Vec<f32> = (0..c).map(|j| weights[j % weights.len()]).collect();
        let up: Vec<f32> = (0..rows).map(|i| 1.0 + (i % 3) as f32).collect();
        for (smooth, gamma, alpha) in [
            (0.0, 2.0, Alpha::None),
            (0.0, 2.5, Alpha::PerClass(&per_class)),
            (0.1, 2.0, Alpha::Scalar(0.25)),
        ] {
            let mut f = SoftmaxFocal::torch().gamma(gamma).alpha(alpha).backend(b);
            if smooth > 0.0 {
                f = f.label_smoothing(smooth);
            }
            // Channels-first: the same logits as images of `s` positions (rows a multiple
            // of it), and as row-major rows.
            let s = if rows % 1000 == 0 { 1000 } else { 1 };
            let cf = f.channels_first(s);
            let tag = format!("{b:?} softmax {rows}x{c} γ={gamma} ε={smooth} {alpha:?}");
            for r in REDUCTIONS {
                let mut g = vec![0.0; z.len()];
                let l = f.loss(&z, c, &labels, r).unwrap();
                let lg = f.loss_and_grad(&z, c, &labels, r, &mut g).unwrap();
                push(&mut out, format!("{tag} loss_and_grad {r:?}"), &g);
                f.grad(&z, c, &labels, r, 0.5, &mut g).unwrap();
                push(&mut out, format!("{tag} grad {r:?}"), &g);
                let mut inp = z.clone();
                let li = f.loss_and_grad_in_place(&mut inp, c, &labels, r).unwrap();
                push(&mut out, format!("{tag} in place {r:?}"), &inp);
                let cl = cf.loss(&z, c, &labels, r).unwrap();
                let clg = cf.loss_and_grad(&z, c, &labels, r, &mut g).unwrap();
                push(
                    &mut out,
                    format!("{tag} channels-first S={s} loss_and_grad {r:?}"),
                    &g,
                );
                // One image of every row (N = 1): split inside the image.
                let one = f.channels_first(rows);
                let l1 = one.loss_and_grad(&z, c, &labels, r, &mut g).unwrap();
                push(
                    &mut out,
                    format!("{tag} channels-first N=1 loss_and_grad {r:?}"),
                    &g,
                );
                push(
                    &mut out,
                    format!("{tag} losses {r:?}"),
                    &[l, lg, li, cl, clg, l1],
                );
            }
            let mut per_row = vec![0.0; rows];
            f.loss_per_row(&z, c, &labels, &mut per_row).unwrap();
            push(&mut out, format!("{tag} loss_per_row"), &per_row);
            let mut g = vec![0.0; z.len()];
            f.grad_per_row(&z, c, &labels, &up, &mut g).unwrap();
            push(&mut out, format!("{tag} grad_per_row"), &g);
            cf.grad_per_position(&z, c, &labels, &up, &mut g).unwrap();
            push(
                &mut out,
                format!("{tag} channels-first grad_per_position"),
                &g,
            );
        }
    }
    out
}
