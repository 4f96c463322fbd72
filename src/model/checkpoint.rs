//! Saving and loading a model: weights as **safetensors**, architecture as JSON.
//!
//! A checkpoint is two files side by side:
//! - `NAME.safetensors` — every parameter as a little-endian `f32` tensor named
//!   `<layer>/<param>`, e.g. `conv2d/kernel`, `conv2d/bias`, `batch_normalization/gamma`,
//!   `batch_normalization/beta`, `batch_normalization/moving_mean`,
//!   `batch_normalization/moving_variance`, `dense/kernel`. Layouts are Keras':
//!   conv kernels `[kh, kw, cin, cout]` (HWIO), dense kernels `[in, out]`, vectors `[n]`;
//!   flattening follows NHWC order. The file's metadata repeats the architecture.
//! - `NAME.json` — the [`Architecture`] (network name, input size, channels, classes).
//!
//! From Python: `safetensors.numpy.load_file("model.safetensors")` gives a dict of numpy
//! arrays; for PyTorch, conv kernels need `permute(3, 2, 0, 1)` (to OIHW) and dense kernels
//! `.T`. Both files are written atomically, so a crash never leaves a half-written checkpoint.

use super::paper_cnn::Architecture;
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use crate::nn::{Sequential, Tensor};
use ndarray::IxDyn;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The architecture file that goes with a weights file: same name, `.json` extension.
pub fn architecture_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// The safetensors bytes of every parameter of `model`, with `metadata` in the header.
pub fn weights_to_bytes(model: &Sequential, metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = model
        .named_weights()
        .into_iter()
        .map(|(name, value)| {
            let data = value.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name, value.shape().to_vec(), data)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|view| (name.clone(), view))
                .map_err(|e| Error::invalid(format!("tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::invalid(format!("safetensors: {e}")))
}

/// Save `model`'s weights to `path` (`.safetensors`) and its architecture beside it (`.json`).
pub fn save_model(model: &Sequential, architecture: &Architecture, path: &Path) -> Result<()> {
    let json = serde_json::to_string_pretty(architecture).expect("architecture serialises");
    let metadata = HashMap::from([("architecture".to_string(), json.clone())]);
    write_atomic(path, &weights_to_bytes(model, metadata)?)?;
    write_atomic(architecture_path(path), json.as_bytes())
}

/// Read the architecture JSON that sits beside the weights file `path`.
pub fn load_architecture(path: &Path) -> Result<Architecture> {
    let json_path = architecture_path(path);
    let text = std::fs::read_to_string(&json_path).map_err(|e| Error::io(&json_path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::format(
            json_path.display(),
            format!("not a valid architecture: {e}"),
        )
    })
}

/// Rebuild the model described by the JSON beside `path` and load its weights.
pub fn load_model(path: &Path) -> Result<(Sequential, Architecture)> {
    let architecture = load_architecture(path)?;
    let mut model = architecture.build(0)?;
    load_weights(&mut model, path)?;
    Ok((model, architecture))
}

/// Load the safetensors file at `path` into `model`, which must have exactly the same tensors.
///
/// A missing, extra, mistyped or differently shaped tensor, or one holding a NaN or infinite
/// weight, is an error naming the first such tensor (in the model's layer order; with both
/// shapes for a shape mismatch); the model is left unchanged then.
pub fn load_weights(model: &mut Sequential, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| {
        Error::format(
            path.display(),
            format!("not a readable safetensors file ({e}); is it truncated?"),
        )
    })?;
    let location = |name: &str| format!("{}, tensor {name}", path.display());
    let mut values = Vec::new();
    let expected = model.named_weights();
    for (name, value) in &expected {
        let view = file.tensor(name).map_err(|_| {
            Error::format(
                location(name),
                "missing from the checkpoint (does it belong to another architecture?)",
            )
        })?;
        if view.dtype() != Dtype::F32 {
            return Err(Error::format(
                location(name),
                format!("dtype {:?}, expected F32", view.dtype()),
            ));
        }
        if view.shape() != value.shape() {
            return Err(Error::shape(location(name), value.shape(), view.shape()));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
            return Err(Error::format(
                location(name),
                format!(
                    "the model's weights are not finite (a weight is {bad}): training diverged before this model was saved, or the file is damaged; train the model again with `lumbar run`"
                ),
            ));
        }
        values.push(Tensor::from_shape_vec(IxDyn(view.shape()), data).expect("shape checked"));
    }
    if let Some(extra) = file
        .names()
        .into_iter()
        .find(|n| !expected.iter().any(|(name, _)| name == *n))
    {
        return Err(Error::format(
            location(extra),
            "is in the checkpoint but not in the model",
        ));
    }
    model.set_weights(&values)
}
