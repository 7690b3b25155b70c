//! The sigmoid's streaming floor, shared by `focal.rs` and `parallel.rs`: the same loop in
//! both, so that the floor of one thread and of every core are the same code.

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
