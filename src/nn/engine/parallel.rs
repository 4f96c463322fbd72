//! Parallel output: a layer's fresh output buffer, written once, in parallel, never zeroed.
//!
//! **Why.** Every layer returns a new tensor. The obvious `vec![0.0; len]` first writes zeros
//! into all of it on one thread, and then the layer overwrites every value anyway. For a
//! `16×256×256×32` feature map (134 MB) the zeroing alone takes about as long as a ReLU over it.
//! Copying the input and then changing it in place (`x.to_owned()`, then a parallel loop) costs
//! the same serial pass. Here every rayon task writes its own chunk of the output exactly once.
//!
//! **How.** The vector is allocated with capacity only. Each chunk is handed to `fill` as an
//! [`OutputChunk`], which can only be written front to back through safe methods and counts what
//! was written. When every chunk reports that it is full, the vector's length is set; a chunk
//! left short is a bug in the layer and panics (before any unwritten value can be read).

use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::ops::Range;

/// Values per rayon task in element-wise layers (ReLU, dropout, batch norm, copies): 128 KiB,
/// big enough to amortise the scheduling, small enough to stay in a core's L2 cache.
pub const ELEMENTS_PER_TASK: usize = 1 << 15;

/// One chunk of an output vector being filled: written front to back, each value once.
pub struct OutputChunk<'a> {
    values: &'a mut [MaybeUninit<f32>],
    /// Index, in the whole output, of this chunk's first value.
    start: usize,
    written: usize,
}

impl OutputChunk<'_> {
    /// The indices, in the whole output, of the values this chunk holds: the same range of an
    /// input of the output's length is what an element-wise layer reads for this chunk.
    pub fn range(&self) -> Range<usize> {
        self.start..self.start + self.values.len()
    }

    /// Values this chunk holds when full.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the chunk holds no values at all.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Append the values of `source`.
    ///
    /// # Panics
    /// If they do not fit in the rest of the chunk (a bug in the caller).
    pub fn push_slice(&mut self, source: &[f32]) {
        let end = self.written + source.len();
        self.values[self.written..end].write_copy_of_slice(source);
        self.written = end;
    }

    /// Append values from an iterator until it ends or the chunk is full. The loop is a plain
    /// zip, so an arithmetic iterator (`x.iter().map(…)`) vectorises.
    pub fn push_iter(&mut self, source: impl IntoIterator<Item = f32>) {
        let mut count = 0;
        for (slot, value) in self.values[self.written..].iter_mut().zip(source) {
            slot.write(value);
            count += 1;
        }
        self.written += count;
    }

    /// The values written so far, to be changed in place (for example a band of a convolution's
    /// output that starts as the bias and then accumulates a matrix product).
    pub fn written_mut(&mut self) -> &mut [f32] {
        // SAFETY: the first `written` values were each written by `push_slice` or `push_iter`.
        unsafe { self.values[..self.written].assume_init_mut() }
    }
}

/// A vector of `len` values computed in parallel: chunk `i` holds values `i·chunk ..
/// min((i+1)·chunk, len)` and is written by `fill(i, &mut OutputChunk)`, which must fill it.
///
/// # Panics
/// If `fill` leaves a chunk short (a bug in the layer), or `chunk` is 0 with `len > 0`.
pub fn parallel_output(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut OutputChunk) + Sync + Send,
) -> Vec<f32> {
    let mut nothing = vec![(); len];
    parallel_output_with(len, chunk, &mut nothing, |index, out, _| fill(index, out))
}

// ANCHOR: parallel_output_with
/// Like [`parallel_output`], with a `companion` slice of the same length cut into the same
/// chunks and handed to `fill` beside its output chunk, so a layer can write what its backward
/// pass needs (ReLU's mask, max pooling's arg-max, batch norm's x̂) in the same pass.
///
/// # Panics
/// If `companion.len() != len`, or as [`parallel_output`].
pub fn parallel_output_with<T: Send>(
    len: usize,
    chunk: usize,
    companion: &mut [T],
    fill: impl Fn(usize, &mut OutputChunk, &mut [T]) + Sync + Send,
) -> Vec<f32> {
    assert_eq!(companion.len(), len, "parallel_output: companion length");
    let mut output = Vec::with_capacity(len);
    if len == 0 {
        return output;
    }
    output.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk)
        .zip(companion.par_chunks_mut(chunk))
        .enumerate()
        .for_each(|(index, (values, companion))| {
            let mut out = OutputChunk {
                values,
                start: index * chunk,
                written: 0,
            };
            fill(index, &mut out, companion);
            assert_eq!(
                out.written,
                out.values.len(),
                "parallel_output: chunk {index} was left short"
            );
        });
    // SAFETY: every chunk of the first `len` values was completely written (checked above);
    // a panic in any chunk would have unwound before reaching this line.
    unsafe { output.set_len(len) };
    output
}
// ANCHOR_END: parallel_output_with

/// A vector of `len` values computed in fixed blocks of `block` values, in parallel: block `i`
/// (values `i·block .. min((i+1)·block, len)`) is handed to `fill(i, values, companion)` as a
/// slice of zeros, with the same block of `companion` (a per-value buffer the caller fills
/// alongside, e.g. max pooling's arg-max). For layers that work one image at a time: the zeros
/// are written by the block's own task, while the block is in that core's cache.
///
/// # Panics
/// As [`parallel_output_with`].
pub fn parallel_blocks_with<T: Send>(
    len: usize,
    block: usize,
    companion: &mut [T],
    fill: impl Fn(usize, &mut [f32], &mut [T]) + Sync + Send,
) -> Vec<f32> {
    parallel_output_with(len, block, companion, |index, out, companion| {
        out.push_iter(std::iter::repeat(0.0));
        fill(index, out.written_mut(), companion);
    })
}

/// [`parallel_blocks_with`] without a companion buffer.
pub fn parallel_blocks(
    len: usize,
    block: usize,
    fill: impl Fn(usize, &mut [f32]) + Sync + Send,
) -> Vec<f32> {
    let mut nothing = vec![(); len];
    parallel_blocks_with(len, block, &mut nothing, |index, values, _| {
        fill(index, values)
    })
}

/// Overwrite `values` block by block in parallel: block `i` (values `i·ELEMENTS_PER_TASK ..`,
/// the last one shorter) is handed to `fill(i, block)`. The blocks depend on the length only,
/// so a block's content may depend on its index (dropout draws each block's mask from a seed
/// made of (seed, step, block)) and still be the same on any number of threads.
pub fn fill_in_blocks<T: Send>(values: &mut [T], fill: impl Fn(usize, &mut [T]) + Sync + Send) {
    values
        .par_chunks_mut(ELEMENTS_PER_TASK)
        .enumerate()
        .for_each(|(index, block)| fill(index, block));
}

/// The element-wise sum of `partials` (each `len` values), added in the order of the slice:
/// the last step of a sum computed in a fixed number of parallel parts, so that the result does
/// not depend on the number of threads (the parts' count and content depend on shapes only).
pub fn sum_in_order(partials: &[Vec<f32>], len: usize) -> Vec<f32> {
    let mut total = vec![0.0f32; len];
    for partial in partials {
        total.iter_mut().zip(partial).for_each(|(t, p)| *t += p);
    }
    total
}

/// A copy of `values` as an array of `shape`, copied in parallel blocks of
/// [`ELEMENTS_PER_TASK`]; into `previous` when it has that shape already (nothing allocated:
/// a layer keeping its input for the backward pass reuses last step's copy).
///
/// # Panics
/// If `values.len()` is not the product of `shape` (a bug in the caller).
pub fn copy_reusing(previous: Option<ArrayD<f32>>, values: &[f32], shape: &[usize]) -> ArrayD<f32> {
    match previous {
        Some(mut kept) if kept.shape() == shape && kept.is_standard_layout() => {
            let slots = kept.as_slice_mut().expect("standard layout");
            slots
                .par_chunks_mut(ELEMENTS_PER_TASK)
                .zip(values.par_chunks(ELEMENTS_PER_TASK))
                .for_each(|(to, from)| to.copy_from_slice(from));
            kept
        }
        _ => {
            let copy = parallel_output(values.len(), ELEMENTS_PER_TASK, |_, out| {
                let range = out.range();
                out.push_slice(&values[range])
            });
            ArrayD::from_shape_vec(IxDyn(shape), copy).expect("values fill the shape")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_is_written_in_place() {
        let source: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let doubled = parallel_output(1000, 64, |index, out| {
            assert_eq!(out.range().start, index * 64);
            let range = out.range();
            out.push_iter(source[range].iter().map(|v| 2.0 * v));
        });
        assert_eq!(doubled.len(), 1000);
        assert!(doubled.iter().zip(&source).all(|(d, s)| *d == 2.0 * s));
    }

    #[test]
    fn written_values_can_be_changed_in_place() {
        let output = parallel_output(10, 4, |_, out| {
            out.push_slice(&[1.0, 2.0][..out.len().min(2)]);
            out.push_iter(std::iter::repeat(5.0));
            out.written_mut().iter_mut().for_each(|v| *v += 1.0);
        });
        assert_eq!(output, [2.0, 3.0, 6.0, 6.0, 2.0, 3.0, 6.0, 6.0, 2.0, 3.0]);
    }

    #[test]
    fn the_companion_is_cut_into_the_same_chunks() {
        let mut positions = vec![0usize; 10];
        let output = parallel_output_with(10, 3, &mut positions, |index, out, positions| {
            for (i, p) in positions.iter_mut().enumerate() {
                *p = index * 3 + i;
            }
            out.push_iter(positions.iter().map(|&p| p as f32));
        });
        assert_eq!(positions, (0..10).collect::<Vec<_>>());
        assert_eq!(output, (0..10).map(|p| p as f32).collect::<Vec<_>>());
    }

    #[test]
    fn blocks_start_as_zeros_and_a_copy_reuses_its_buffer() {
        let sums = parallel_blocks(10, 4, |index, values| {
            assert!(values.iter().all(|&v| v == 0.0));
            values[0] = index as f32;
        });
        assert_eq!(sums, [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
        let values: Vec<f32> = (0..2 * ELEMENTS_PER_TASK + 3).map(|v| v as f32).collect();
        let first = copy_reusing(None, &values, &[values.len()]);
        let address = first.as_ptr();
        let doubled: Vec<f32> = values.iter().map(|v| 2.0 * v).collect();
        let second = copy_reusing(Some(first), &doubled, &[values.len()]);
        assert_eq!(second.as_ptr(), address, "the same buffer is reused");
        assert_eq!(second.as_slice().unwrap(), doubled.as_slice());
    }

    #[test]
    #[should_panic(expected = "left short")]
    fn a_chunk_left_short_is_caught() {
        parallel_output(10, 4, |_, out| out.push_slice(&[1.0]));
    }
}
