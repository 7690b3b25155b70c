//! No method allocates, including long calls of several blocks and the chunk API: a
//! counting global allocator sees no allocation during the calls. (Without `parallel`: with
//! it, rayon's own queues allocate.) The count is per thread: libtest's main thread may
//! allocate while it waits for the test thread (its channel's wait context), which once made
//! a global count fail about one run in five.
#![cfg(not(feature = "parallel"))]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::backends;
use common::calls::{sigmoid_inputs, softmax_inputs};
use focal_loss::{Reduction, SigmoidFocal, SoftmaxFocal};

struct Counting;

thread_local! {
    /// Allocations made by this thread (a `const` initialiser: reading it never allocates).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: a thread being torn down has no counter left, and must not panic here.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn no_method_allocates() {
    let n = 3 * 16384 + 5;
    let (x, t) = sigmoid_inputs(1, n);
    let (rows, c) = (700, 80);
    let (z, labels) = softmax_inputs(2, rows, c);
    let (mut g, mut gz, mut e, mut xz) =
        (vec![0.0; n], vec![0.0; z.len()], vec![0.0; n], x.clone());
    let mut per_row = vec![0.0; rows];
    let up = vec![1.0; n];
    for b in backends() {
        let f = SigmoidFocal::new().gamma(2.5).backend(b);
        let s = SoftmaxFocal::torch().backend(b);
        let before = allocations();
        f.loss(&x, &t[..], Reduction::Mean).unwrap();
        f.loss_and_grad(&x, &t[..], Reduction::Mean, &mut g)
            .unwrap();
        f.loss_and_grad_in_place(&mut xz, &t[..], Reduction::Sum)
            .unwrap();
        f.grad(&x, &t[..], Reduction::Mean, 1.0, &mut g).unwrap();
        f.loss_elementwise(&x, &t[..], &mut e).unwrap();
        f.grad_elementwise(&x, &t[..], &up, &mut g).unwrap();
        let plan = f.chunks(n, Reduction::Mean).unwrap();
        let p = plan
            .loss_and_grad(&x[..16384], &t[..16384], &mut g[..16384])
            .unwrap();
        plan.finish(p.join(plan.loss(&x[16384..], &t[16384..]).unwrap()));
        s.loss(&z, c, &labels, Reduction::MeanValid).unwrap();
        s.loss_and_grad(&z, c, &labels, Reduction::MeanValid, &mut gz)
            .unwrap();
        s.loss_per_row(&z, c, &labels, &mut per_row).unwrap();
        s.label_smoothing(0.1)
            .loss_and_grad(&z, c, &labels, Reduction::Mean, &mut gz)
            .unwrap();
        s.channels_first(70)
            .loss_and_grad(&z, c, &labels, Reduction::Mean, &mut gz)
            .unwrap();
        let sp = s.chunks(c, &labels, Reduction::Mean).unwrap();
        sp.finish(sp.loss_and_grad(&z, &labels, &mut gz).unwrap());
        let after = allocations();
        assert_eq!(after, before, "{b:?}: {} allocations", after - before);
    }
}
