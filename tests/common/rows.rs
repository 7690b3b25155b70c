//! Softmax test rows: the accuracy suites' batch generator (random rows at several scales,
//! arg-max targets by margins, ties, special values, one `+inf`, NaN, ignored rows), class
//! weights with 0 and 1 entries, and the channels-first transposes.

use super::Rng;

/// The ignore index of the generated batches.
pub const IGNORE: i64 = -100;

/// Rows of a batch with `c` classes, their labels (some `IGNORE`), as flat logits.
pub struct Batch {
    pub c: usize,
    pub z: Vec<f32>,
    pub labels: Vec<i64>,
}

impl Batch {
    /// The rows holding no NaN or infinity (for the reduced loss): their indices, their
    /// logits and their labels.
    pub fn finite_rows(&self) -> (Vec<usize>, Vec<f32>, Vec<i64>) {
        let c = self.c;
        let rows: Vec<usize> = (0..self.labels.len())
            .filter(|&r| self.z[r * c..(r + 1) * c].iter().all(|v| v.is_finite()))
            .collect();
        let z = rows
            .iter()
            .flat_map(|&r| self.z[r * c..(r + 1) * c].iter().copied())
            .collect();
        let labels = rows.iter().map(|&r| self.labels[r]).collect();
        (rows, z, labels)
    }
}

/// Row-major `[N·S × C]` (rows `n·S + s`) to channels-first `[N, C, S]`.
pub fn to_channels_first(z: &[f32], c: usize, spatial: usize) -> Vec<f32> {
    let mut t = vec![0.0; z.len()];
    for (r, row) in z.chunks(c).enumerate() {
        let (n, s) = (r / spatial, r % spatial);
        for (j, &v) in row.iter().enumerate() {
            t[n * c * spatial + j * spatial + s] = v;
        }
    }
    t
}

/// The inverse of [`to_channels_first`].
pub fn from_channels_first(t: &[f32], c: usize, spatial: usize) -> Vec<f32> {
    let mut z = vec![0.0; t.len()];
    for (r, row) in z.chunks_mut(c).enumerate() {
        let (n, s) = (r / spatial, r % spatial);
        for (j, v) in row.iter_mut().enumerate() {
            *v = t[n * c * spatial + j * spatial + s];
        }
    }
    z
}

pub fn special_value(rng: &mut Rng) -> f32 {
    rng.pick(&[
        0.0f32,
        -0.0,
        f32::from_bits(1),
        -1e-40,
        f32::MIN_POSITIVE,
        1e4,
        -1e4,
        f32::NEG_INFINITY,
        88.7,
        -103.0,
    ])
}

pub fn batch(c: usize, seed: u64) -> Batch {
    let mut rng = Rng::new(seed ^ ((c as u64) << 20));
    let rows = (1500 / c).max(16);
    let mut z = Vec::with_capacity(rows * c);
    let mut labels = Vec::with_capacity(rows);
    for r in 0..rows {
        let k = rng.below(c);
        let s = rng.pick(&[1.0, 4.0, 16.0, 40.0, 100.0]);
        let mut row: Vec<f32> = (0..c).map(|_| rng.range(-s, s)).collect();
        match r % 10 {
            // the target is the arg-max by a margin
            0 | 1 => {
                let m = row.iter().fold(f32::NEG_INFINITY, |a, v| a.max(*v));
                let margin =
                    rng.pick(&[0.0f32, 1e-3, 0.5, 1.0, 5.0, 10.0, 17.0, 20.0, 50.0, 100.0]);
                row[k] = m + margin;
            }
            // special values somewhere in the row
            2 => {
                for _ in 0..1 + rng.below(3) {
                    let j = rng.below(c);
                    row[j] = special_value(&mut rng);
                }
                if row.iter().all(|v| *v == f32::NEG_INFINITY) {
                    row[0] = 0.0;
                }
            }
            // one +inf logit, at the target or elsewhere
            3 if r % 20 == 3 => {
                let j = if rng.below(2) == 0 { k } else { rng.below(c) };
                row[j] = f32::INFINITY;
            }
            // ties
            4 if r % 20 == 4 => {
                let v = rng.range(-3.0, 3.0);
                for x in row.iter_mut() {
                    if rng.below(2) == 0 {
                        *x = v;
                    }
                }
                row[k] = v;
            }
            // NaN
            5 if r % 30 == 5 => {
                let j = rng.below(c);
                row[j] = f32::NAN;
            }
            _ => {}
        }
        z.extend_from_slice(&row);
        labels.push(if r % 13 == 6 { IGNORE } else { k as i64 });
    }
    Batch { c, z, labels }
}

pub fn class_alpha(c: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..c)
        .map(|j| match j % 7 {
            3 => 0.0,
            5 => 1.0,
            _ => rng.unit() as f32,
        })
        .collect()
}
