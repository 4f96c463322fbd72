//! Inference: class probabilities for a batch of images.

use crate::error::{Error, Result};
use crate::nn::{softmax, Sequential, Tensor};
use ndarray::{concatenate, Array2, Axis};

/// Softmax probabilities `[N, classes]` of `images` (`[N, H, W, C]`), computed in evaluation
/// mode (running batch-norm statistics, no dropout) `batch_size` images at a time. Errors,
/// naming the image, when an output is NaN or infinite.
pub fn predict(model: &mut Sequential, images: &Tensor, batch_size: usize) -> Result<Array2<f32>> {
    if batch_size == 0 {
        return Err(Error::invalid("predict: batch size must be at least 1"));
    }
    let n = images.shape().first().copied().unwrap_or(0);
    if n == 0 {
        return Err(Error::shape("predict", "[N ≥ 1, H, W, C]", images.shape()));
    }
    let mut parts = Vec::new();
    for start in (0..n).step_by(batch_size) {
        let end = (start + batch_size).min(n);
        let batch = images.slice_axis(Axis(0), (start..end).into()).to_owned();
        let probabilities = softmax(&model.infer(&batch)?)?;
        if let Some(row) = probabilities
            .rows()
            .into_iter()
            .position(|row| row.iter().any(|p| !p.is_finite()))
        {
            return Err(Error::invalid(format!(
                "the model's output for image {} of {n} is not a number: the image holds a NaN or infinite value, or it and the model's weights overflow 32-bit floats",
                start + row + 1
            )));
        }
        parts.push(probabilities);
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    Ok(concatenate(Axis(0), &views).expect("all parts have the same width"))
}

/// The index of the largest probability in each row (ties go to the lower class index).
pub fn argmax_rows(probabilities: &Array2<f32>) -> Vec<usize> {
    probabilities
        .rows()
        .into_iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &p)| {
                    if p > best.1 {
                        (i, p)
                    } else {
                        best
                    }
                })
                .0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::paper_cnn;
    use ndarray::IxDyn;

    #[test]
    fn a_non_finite_output_names_the_image_not_a_function() {
        let mut model = paper_cnn(32, 0).unwrap();
        let mut images = Tensor::zeros(IxDyn(&[3, 32, 32, 3]));
        assert!(predict(&mut model, &images, 2).is_ok());
        images[[1, 5, 5, 0]] = f32::NAN;
        let error = predict(&mut model, &images, 2).unwrap_err().to_string();
        assert!(
            error.starts_with("the model's output for image 2 of 3 is not a number"),
            "{error}"
        );
    }
}
