//! Class-index types accepted as softmax labels.

mod sealed {
    pub trait Sealed {}
}

/// An integer type usable as a class label: `u8`, `u16`, `u32`, `u64`, `usize`, `i32`, `i64`.
///
/// Sealed: the crate decides how each type widens, so that `u64::MAX` never compares equal to
/// an `i64` ignore index and negative labels are never mistaken for large classes.
pub trait ClassIndex: Copy + sealed::Sealed {
    /// The label, widened losslessly.
    #[doc(hidden)]
    fn widen(self) -> i128;
}

macro_rules! class_index {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl ClassIndex for $t {
            #[inline(always)]
            fn widen(self) -> i128 {
                self as i128
            }
        }
    )*};
}
class_index!(u8, u16, u32, u64, usize, i32, i64);

/// What a row's label means once checked.
#[inline(always)]
pub(crate) fn resolve<L: ClassIndex>(
    label: L,
    num_classes: usize,
    ignore: Option<i64>,
) -> Option<usize> {
    let v = label.widen();
    if ignore.is_some_and(|i| i as i128 == v) {
        return None;
    }
    if v >= 0 && v < num_classes as i128 {
        Some(v as usize)
    } else {
        None
    }
}

/// The first row whose label is neither a class nor the ignore index, and the number of rows
/// that are not ignored.
pub(crate) fn check<L: ClassIndex>(
    labels: &[L],
    num_classes: usize,
    ignore: Option<i64>,
) -> Result<usize, (usize, i128)> {
    let mut valid = 0usize;
    for (i, &l) in labels.iter().enumerate() {
        let v = l.widen();
        if ignore.is_some_and(|ig| ig as i128 == v) {
            continue;
        }
        if v < 0 || v >= num_classes as i128 {
            return Err((i, v));
        }
        valid += 1;
    }
    Ok(valid)
}
