//! Batches assembled ahead of the training step on a background thread.
//!
//! [`for_each_batch`] walks an epoch's shuffled order in batches. One loader thread calls
//! [`Dataset::batch`] for the next batches (a [`super::StreamedDataset`] decodes and augments
//! them on the rayon pool) while the caller's `step` trains on the current one. A bounded
//! channel keeps at most [`BATCHES_AHEAD`] finished batches waiting, so memory holds at most
//! `BATCHES_AHEAD + 2` batches (waiting, being built, being trained on) whatever the size of
//! the dataset.
//!
//! A batch is a pure function of `(indices, epoch)`, so which thread builds it and when does
//! not change a single number: training is bit-identical to calling `batch` in the loop.

use super::dataset::Dataset;
use crate::error::Result;
use crate::nn::Tensor;
use std::sync::mpsc::{sync_channel, Receiver};
use std::time::{Duration, Instant};

/// Finished batches that may wait for the step (2: enough to hide a slow batch behind the
/// next step, small next to the step's own memory).
pub const BATCHES_AHEAD: usize = 2;

/// How long an epoch's step waited for its data.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoaderWait {
    /// Time the step spent blocked on the loader, summed over the batches.
    pub waited: Duration,
    /// Batches delivered.
    pub batches: usize,
}

/// Call `step(batch_index, indices, images)` for each batch of `order` (chunks of
/// `batch_size`), in order, with `images = data.batch(indices, epoch)` built ahead on a
/// loader thread. Stops at the first error, of the loader or of `step`, and returns it.
pub fn for_each_batch(
    data: &dyn Dataset,
    order: &[usize],
    batch_size: usize,
    epoch: usize,
    step: impl FnMut(usize, &[usize], Tensor) -> Result<()>,
) -> Result<LoaderWait> {
    let chunks: Vec<&[usize]> = order.chunks(batch_size.max(1)).collect();
    let (sender, receiver) = sync_channel::<Result<Tensor>>(BATCHES_AHEAD);
    std::thread::scope(|scope| {
        let loader_chunks = &chunks;
        scope.spawn(move || {
            for chunk in loader_chunks {
                let batch = data.batch(chunk, epoch);
                let failed = batch.is_err();
                // A closed channel means the step stopped early: nothing more to build.
                if sender.send(batch).is_err() || failed {
                    return;
                }
            }
        });
        // `receive` owns the receiver: when it returns early (an error), the receiver is
        // dropped, the loader's next `send` fails and the loader ends, so the scope can join it.
        receive(receiver, &chunks, step)
    })
}

/// The step's side of [`for_each_batch`]: take each batch from the loader, in order, and
/// train on it, timing the waits.
fn receive(
    receiver: Receiver<Result<Tensor>>,
    chunks: &[&[usize]],
    mut step: impl FnMut(usize, &[usize], Tensor) -> Result<()>,
) -> Result<LoaderWait> {
    let mut wait = LoaderWait::default();
    for (batch_index, chunk) in chunks.iter().enumerate() {
        let asked = Instant::now();
        let images = receiver
            .recv()
            .expect("the loader sends one result per batch before it ends")?;
        wait.waited += asked.elapsed();
        wait.batches += 1;
        step(batch_index, chunk, images)?;
    }
    Ok(wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::train::InMemoryDataset;
    use ndarray::Array4;

    fn numbered(n: usize) -> InMemoryDataset {
        let images = Array4::from_shape_fn((n, 2, 2, 1), |(i, _, _, _)| i as f32).into_dyn();
        InMemoryDataset::new(images, vec![0; n]).unwrap()
    }

    #[test]
    fn batches_arrive_in_order_and_equal_direct_calls() {
        let data = numbered(11);
        let order: Vec<usize> = (0..11).rev().collect();
        let mut seen = Vec::new();
        let wait = for_each_batch(&data, &order, 4, 1, |index, indices, images| {
            assert_eq!(images, data.batch(indices, 1).unwrap());
            seen.push((index, indices.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(wait.batches, 3);
        let expected: Vec<(usize, Vec<usize>)> = order
            .chunks(4)
            .enumerate()
            .map(|(i, c)| (i, c.to_vec()))
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn an_error_of_the_step_or_of_the_loader_stops_the_epoch() {
        let data = numbered(10);
        let order: Vec<usize> = (0..10).collect();
        let mut calls = 0;
        let error = for_each_batch(&data, &order, 2, 1, |index, _, _| {
            calls += 1;
            if index == 1 {
                Err(Error::invalid("step failed"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(error.to_string().contains("step failed"));
        assert_eq!(calls, 2);

        let order = vec![0, 1, 2, 99, 3];
        let mut calls = 0;
        let error = for_each_batch(&data, &order, 2, 1, |_, _, _| {
            calls += 1;
            Ok(())
        })
        .unwrap_err();
        assert!(error.to_string().contains("99"), "{error}");
        assert_eq!(calls, 1, "the batch before the bad one is trained on");
    }
}
