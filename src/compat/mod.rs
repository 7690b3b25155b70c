//! Modules that reproduce other libraries' focal-loss classes, formula for formula.

pub mod torchblocks;
