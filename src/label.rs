//! Class-index types accepted as softmax labels.

mod sealed {
    /// A slice of labels with its element type as a run-time tag. The kernels take this
    /// instead of a type parameter, so they are compiled once, in this crate, whatever label
    /// type a caller uses; only the small per-type loops of [`super::Visit`] are generic.
    #[derive(Clone, Copy, Debug)]
    pub enum Labels<'a> {
        U8(&'a [u8]),
        U16(&'a [u16]),
        U32(&'a [u32]),
        U64(&'a [u64]),
        Usize(&'a [usize]),
        I32(&'a [i32]),
        I64(&'a [i64]),
    }

    pub trait Sealed: Sized {
        fn erase(labels: &[Self]) -> Labels<'_>;
    }
}

pub(crate) use sealed::Labels;

/// An integer type usable as a class label: `u8`, `u16`, `u32`, `u64`, `usize`, `i32`, `i64`.
///
/// Sealed: the crate decides how each type widens, so that `u64::MAX` never compares equal to
/// an `i64` ignore index and negative labels are never mistaken for large classes.
pub trait ClassIndex: Copy + PartialEq + sealed::Sealed {
    /// The label, widened losslessly.
    #[doc(hidden)]
    fn widen(self) -> i128;
    /// `v` as this type, if it is one (the ignore index, for comparisons in the label's own
    /// type).
    #[doc(hidden)]
    fn narrow(v: i64) -> Option<Self>;
    /// The label as a class index (meaningful for validated labels, which are in `0..C`).
    #[doc(hidden)]
    fn index(self) -> usize;
    /// `v`, or this type's maximum if `v` is larger (the last class, as a bound in the
    /// label's own type).
    #[doc(hidden)]
    fn saturate(v: usize) -> Self;
    /// Whether the label is in `0..=last`, compared in its own type.
    #[doc(hidden)]
    fn upto(self, last: Self) -> bool;
    /// Whether the label is in `0..c`, compared as `usize`.
    #[doc(hidden)]
    fn below(self, c: usize) -> bool;
    /// The label as `f32` (exact below 2^24, so for every class of the short rows that
    /// compare it).
    #[doc(hidden)]
    fn to_f32(self) -> f32;
}

/// A loop over labels, written once and run on the slice of each label type.
pub(crate) trait Visit {
    /// What the loop gives.
    type Out;
    /// The loop over labels of type `L`.
    fn run<L: ClassIndex>(self, labels: &[L]) -> Self::Out;
}

macro_rules! class_index {
    ($($t:ty => $v:ident),*) => {
        $(
            impl sealed::Sealed for $t {
                #[inline(always)]
                fn erase(labels: &[$t]) -> Labels<'_> {
                    Labels::$v(labels)
                }
            }
            impl ClassIndex for $t {
                #[inline(always)]
                fn widen(self) -> i128 {
                    self as i128
                }
                #[inline(always)]
                fn narrow(v: i64) -> Option<Self> {
                    <$t>::try_from(v).ok()
                }
                #[inline(always)]
                fn index(self) -> usize {
                    self as usize
                }
                #[inline(always)]
                fn saturate(v: usize) -> Self {
                    <$t>::try_from(v).unwrap_or(<$t>::MAX)
                }
                #[inline(always)]
                fn upto(self, last: Self) -> bool {
                    (0..=last).contains(&self)
                }
                #[inline(always)]
                fn below(self, c: usize) -> bool {
                    usize::try_from(self).is_ok_and(|v| v < c)
                }
                #[inline(always)]
                fn to_f32(self) -> f32 {
                    // On 32-bit targets through `usize`: a validated class is in `0..C`, and
                    // the same value converts to the same `f32`, where `i64 as f32` is a
                    // call (`__aeabi_l2f`, 16 bytes of a Cortex-M's stack).
                    #[cfg(target_pointer_width = "32")]
                    return self.index() as f32;
                    #[cfg(not(target_pointer_width = "32"))]
                    {
                        self as f32
                    }
                }
            }
        )*

        impl Labels<'_> {
            /// The number of labels.
            #[inline(always)]
            pub(crate) fn len(&self) -> usize {
                match *self {
                    $(Labels::$v(s) => s.len(),)*
                }
            }

            /// Labels `first..first + n` (empty if that is out of range, which callers
            /// rule out).
            #[inline(always)]
            pub(crate) fn part(&self, first: usize, n: usize) -> Self {
                match *self {
                    $(Labels::$v(s) => {
                        Labels::$v(first.checked_add(n).and_then(|end| s.get(first..end)).unwrap_or(&[]))
                    })*
                }
            }

            /// Row `r`'s class, or `None` if its label is `ignore` (or `r` is past the end).
            /// For validated labels: each is the ignore index or a class in `0..C`, so a
            /// call without an ignore index passes a value no valid label has.
            #[inline(always)]
            pub(crate) fn class_at(&self, r: usize, ignore: i64) -> Option<usize> {
                match *self {
                    $(Labels::$v(s) => {
                        let l = *s.get(r)?;
                        if <$t>::narrow(ignore) == Some(l) {
                            None
                        } else {
                            Some(l.index())
                        }
                    })*
                }
            }

            /// Runs `v` on the labels, as the type they have.
            #[inline(always)]
            pub(crate) fn visit<V: Visit>(&self, v: V) -> V::Out {
                match *self {
                    $(Labels::$v(s) => v.run(s),)*
                }
            }
        }
    };
}
class_index!(u8 => U8, u16 => U16, u32 => U32, u64 => U64, usize => Usize, i32 => I32, i64 => I64);

/// `labels` with its type erased.
#[inline(always)]
pub(crate) fn erase<L: ClassIndex>(labels: &[L]) -> Labels<'_> {
    L::erase(labels)
}

/// What a label means.
#[derive(Clone, Copy)]
pub(crate) enum Meaning {
    /// A class in `0..C`.
    Class(usize),
    /// The ignore index.
    Ignored,
    /// Neither: the label, widened.
    Bad(i128),
}

/// Classifies one label against `C` classes and the ignore index (which wins over a class of
/// the same value).
#[inline(always)]
pub(crate) fn classify<L: ClassIndex>(
    label: L,
    num_classes: usize,
    ignore: Option<i64>,
) -> Meaning {
    let v = label.widen();
    if ignore.is_some_and(|i| i as i128 == v) {
        Meaning::Ignored
    } else if v >= 0 && v < num_classes as i128 {
        Meaning::Class(v as usize)
    } else {
        Meaning::Bad(v)
    }
}

/// A label's class, or `None` if it is the ignore index or not a class.
#[inline(always)]
pub(crate) fn resolve<L: ClassIndex>(
    label: L,
    num_classes: usize,
    ignore: Option<i64>,
) -> Option<usize> {
    match classify(label, num_classes, ignore) {
        Meaning::Class(k) => Some(k),
        Meaning::Ignored | Meaning::Bad(_) => None,
    }
}

/// The first row whose label is neither a class nor the ignore index (with the label
/// widened), or the number of rows that are not ignored.
#[derive(Clone, Copy)]
pub(crate) struct Check {
    /// The number of classes.
    pub num_classes: usize,
    /// The ignore index.
    pub ignore: Option<i64>,
}

/// What [`Check`] finds: the number of rows not ignored, or the first bad row and its label
/// (widened).
pub(crate) type LabelCheck = Result<usize, (usize, i128)>;

impl Visit for Check {
    type Out = LabelCheck;

    // Inline into `backend::check_labels`' copies with the x86_64 backends' features (out
    // of line, the loop lost them: the fused softmax at 4 classes ran 1.14x slower on
    // AVX-512).
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    fn run<L: ClassIndex>(self, labels: &[L]) -> Self::Out {
        // Branch-free over each chunk, so the loop vectorises; only a chunk that holds a bad
        // label is scanned again, in order, for the first one.
        const CHUNK: usize = 64;
        let ignore = self.ignore.and_then(L::narrow);
        // Every label below C is a class: C - 1, or the type's maximum if C is larger.
        #[cfg(target_pointer_width = "64")]
        let (last, none) = (
            L::saturate(self.num_classes.saturating_sub(1)),
            self.num_classes == 0,
        );
        let class = |l: L| {
            // 64-bit targets compare in the label's own type: the loop vectorises (32 `u8`
            // labels to an AVX2 vector, not 4; as `usize`, the fused softmax with 4 classes
            // and `i64` labels ran 1.04-1.08x slower on AVX2 and AVX-512).
            #[cfg(target_pointer_width = "64")]
            return !none && l.upto(last);
            // Others compare as `usize`: on a Cortex-M4F the bound in the label's type cost
            // a softmax call 9 instructions more.
            #[cfg(not(target_pointer_width = "64"))]
            l.below(self.num_classes)
        };
        // Without an ignore index that a label can equal (the common case), a label is good
        // exactly when it is a class, and every label of a good chunk counts. Where the
        // loop does not vectorise (32-bit targets: on a Cortex-M4F 18 instructions a label
        // with the comparison, 8 without) that case has a loop without the comparison;
        // 64-bit targets keep one loop (one vector compare more; two cost x86_64 7.5 KB of
        // `.text`, measured even).
        let plain = cfg!(not(target_pointer_width = "64")) && ignore.is_none();
        let mut valid = 0usize;
        for (n, chunk) in labels.chunks(CHUNK).enumerate() {
            let (bad, classes) = if plain {
                let bad = chunk.iter().fold(false, |bad, &l| bad | !class(l));
                (bad, chunk.len())
            } else {
                let (mut bad, mut classes) = (false, 0u32);
                for &l in chunk {
                    let ignored = ignore == Some(l);
                    let class = !ignored && class(l);
                    bad |= !(ignored || class);
                    classes += u32::from(class);
                }
                (bad, classes as usize)
            };
            if bad {
                for (i, &l) in chunk.iter().enumerate() {
                    if let Meaning::Bad(v) = classify(l, self.num_classes, self.ignore) {
                        return Err((n * CHUNK + i, v));
                    }
                }
            }
            valid += classes;
        }
        Ok(valid)
    }
}
