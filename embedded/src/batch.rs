//! The measurement batches, drawn on the target with the shared [`Rng`].

use crate::prng::Rng;

/// A firmware author's detection batch for the sigmoid loss: logits uniform in `[-8, 8]`, a
/// quarter of the targets soft (uniform in `[0, 1)`), the rest hard (0 or 1, equally likely).
pub fn detection(x: &mut [f32], t: &mut [f32], seed: u64) {
    let mut rng = Rng::new(seed);
    for (x, t) in x.iter_mut().zip(t.iter_mut()) {
        *x = rng.uniform(-8.0, 8.0);
        *t = if rng.below(4) == 0 {
            rng.unit()
        } else {
            rng.below(2) as f32
        };
    }
}

/// A classification batch for the softmax loss: logits uniform in `[-4, 4]`, labels uniform
/// in `0..classes`.
pub fn classification(z: &mut [f32], labels: &mut [u8], classes: u32, seed: u64) {
    let mut rng = Rng::new(seed);
    z.iter_mut().for_each(|v| *v = rng.uniform(-4.0, 4.0));
    labels
        .iter_mut()
        .for_each(|l| *l = rng.below(classes) as u8);
}
