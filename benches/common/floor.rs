//! The streaming floors, shared by `focal.rs` and `parallel.rs`: the same loops in both, so
//! that the floor of one thread and of every core are the same code.

/// Elements per chunk (rows of about as many logits: [`rows_per_chunk`]) where a floor is
/// spread over threads, handed out one at a time so that a slow thread does not hold the
/// call (`parallel.rs` through rayon, `floor_lib.rs` through its own pool).
#[allow(dead_code)] // not in `focal.rs`, which runs the floors on one thread
pub const CHUNK: usize = 1 << 16;

/// Whole rows of `c` logits per chunk of about [`CHUNK`] logits, at least one.
#[allow(dead_code)] // as `CHUNK`
pub fn rows_per_chunk(c: usize) -> usize {
    (CHUNK / c.max(1)).max(1)
}

/// Reads logits and targets, writes the gradient buffer: the memory traffic of the fused
/// kernel with no arithmetic to speak of.
/// The sum runs in 16 independent lanes, so it vectorises and is no dependency chain: one
/// running `f32` sum would bound the loop by the add latency instead of memory.
pub fn sigmoid(x: &[f32], t: &[f32], grad: &mut [f32]) -> f32 {
    const L: usize = 16;
    let mut s = [0.0f32; L];
    let n = grad.len().min(x.len()).min(t.len());
    let (mut gc, xc, tc) = (
        grad[..n].chunks_exact_mut(L),
        x[..n].chunks_exact(L),
        t[..n].chunks_exact(L),
    );
    for ((g, x), t) in (&mut gc).zip(xc).zip(tc) {
        for j in 0..L {
            g[j] = x[j] - t[j];
            s[j] += t[j];
        }
    }
    let done = n - gc.into_remainder().len();
    for i in done..n {
        grad[i] = x[i] - t[i];
        s[0] += t[i];
    }
    s.iter().sum()
}

/// The softmax's floor: copies the logits to the gradient buffer and sums the labelled
/// logits. The traffic of the fused call (the logits read, the gradient written, the labels
/// read) with no arithmetic. It goes by blocks of rows of about 1 Ki logits (one copy, which
/// vectorises whatever the row length, then the labels' logits from L1), so short rows do not
/// pay a call per row and long rows are not read twice from memory.
pub fn softmax<L: Copy + Into<i64>>(z: &[f32], c: usize, labels: &[L], grad: &mut [f32]) -> f32 {
    let rows = (1024 / c).max(1);
    let mut s = 0.0f32;
    for ((z, g), l) in z
        .chunks(rows * c)
        .zip(grad.chunks_mut(rows * c))
        .zip(labels.chunks(rows))
    {
        g.copy_from_slice(z);
        for (row, &k) in z.chunks_exact(c).zip(l) {
            s += row[k.into() as usize];
        }
    }
    s
}
