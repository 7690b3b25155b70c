//! Computes a sigmoid and a softmax focal loss with their gradients and prints them.
//!
//! `cargo run --release --example quickstart`

use focal_loss::{Backend, Reduction, SigmoidFocal, SoftmaxFocal};

fn main() -> Result<(), focal_loss::FocalError> {
    println!(
        "backend: {} ({} lanes)",
        Backend::detect().name(),
        Backend::detect().lanes()
    );

    // Dense detection style: 8 anchors × 1 class, two positives.
    let logits = [3.0, -2.0, 0.5, -4.0, 1.5, -0.5, -6.0, 2.0];
    let targets = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
    let mut grad = [0.0f32; 8];
    let positives = targets.iter().filter(|&&t| t == 1.0).count() as f32;
    let loss = SigmoidFocal::torchvision().loss_and_grad(
        &logits,
        &targets,
        Reduction::Normalize(positives),
        &mut grad,
    )?;
    println!("sigmoid focal loss (torchvision, ÷ positives) = {loss:.8}");
    println!("  dL/dx = {grad:?}");

    // Multi-class: 2 rows × 3 classes (the mmcv unit-test vector).
    let logits = [1.0, 0.0, -1.0, 0.0, 1.0, 2.0];
    let labels = [2u32, 1];
    let mut grad = [0.0f32; 6];
    let loss =
        SoftmaxFocal::mmcv().loss_and_grad(&logits, 3, &labels, Reduction::Mean, &mut grad)?;
    println!("softmax focal loss (mmcv, mean) = {loss:.8}   (mmcv: 0.34956908)");
    println!("  dL/dz = {grad:?}");

    // The same sigmoid vector from mmcv's tests: labels one-hot over 3 channels, ÷ rows.
    let targets = [0.0, 0.0, 1.0, 0.0, 1.0, 0.0];
    let loss = SigmoidFocal::mmcv().loss(&logits, &targets, Reduction::Normalize(2.0))?;
    println!("sigmoid focal loss (mmcv, ÷ rows) = {loss:.8}   (mmcv: 1.10251057)");
    Ok(())
}
