//! The resume state of a training run: what [`fit`](super::fit::fit) saves after every epoch so
//! that `lumbar run --resume` continues exactly where it stopped, and reads back.
//!
//! The checkpoint folder holds `state.json` (a [`ResumeState`]: the epoch counter, Adam's step
//! counter, the history, the early-stopping counters) and one `epoch-NNNN/` folder with
//! - `last.safetensors` — the model's weights after that epoch (the format of
//!   [`crate::model::checkpoint`], which also loads them);
//! - `best.safetensors` — the best weights early stopping holds, as an ordered tensor list;
//! - `optimizer.safetensors` — Adam's first moments then second moments, same format.
//!
//! The ordered tensor lists are named `0000`, `0001`, … and read back in that order.

use super::early_stopping::EarlyStopping;
use super::history::History;
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use crate::model::checkpoint::{load_weights, weights_to_bytes};
use crate::nn::{Sequential, Tensor};
use crate::optim::Adam;
use ndarray::IxDyn;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// What is saved after every epoch so that training can resume exactly where it stopped.
#[derive(Serialize, Deserialize)]
pub struct ResumeState {
    /// Sub-folder of the checkpoint folder holding this epoch's files (`epoch-NNNN`).
    pub folder: String,
    /// Epochs completed so far (1-based number of the last one).
    pub completed_epochs: usize,
    /// Adam's step counter `t` (its bias corrections depend on it).
    pub adam_iterations: u64,
    /// The per-epoch records so far.
    pub history: History,
    /// The early-stopping counters (its best weights are stored in `best.safetensors`).
    pub early_stopping: EarlyStopping,
}

/// The file in the checkpoint folder that names the latest complete epoch folder.
pub const STATE_FILE: &str = "state.json";

/// Save the model (last and best weights), Adam's moments and the loop state into
/// `dir/epoch-NNNN/`, then point `dir/state.json` at it (atomically), then remove older epochs.
/// At every instant `state.json` names a complete checkpoint.
pub fn save_resume_state(
    dir: &Path,
    model: &Sequential,
    adam: &Adam,
    stopping: &EarlyStopping,
    history: &History,
    epoch: usize,
) -> Result<()> {
    let folder = format!("epoch-{epoch:04}");
    let path = dir.join(&folder);
    write_atomic(
        path.join("last.safetensors"),
        &weights_to_bytes(model, HashMap::new())?,
    )?;
    if let Some(best) = &stopping.best_weights {
        write_atomic(path.join("best.safetensors"), &tensors_to_bytes(best)?)?;
    }
    let (m, v) = adam.moments();
    let moments: Vec<Tensor> = m.iter().chain(v.iter()).cloned().collect();
    write_atomic(
        path.join("optimizer.safetensors"),
        &tensors_to_bytes(&moments)?,
    )?;
    let state = ResumeState {
        folder: folder.clone(),
        completed_epochs: epoch,
        adam_iterations: adam.iterations(),
        history: history.clone(),
        early_stopping: stopping.clone(),
    };
    let json = serde_json::to_string_pretty(&state).expect("state serialises");
    write_atomic(dir.join(STATE_FILE), json.as_bytes())?;
    for entry in std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("epoch-") && name != folder {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// Read `dir/state.json` alone (no tensors), if it exists: what a resume would continue from.
pub fn read_resume_state(dir: &Path) -> Result<Option<ResumeState>> {
    let state_path = dir.join(STATE_FILE);
    if !state_path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::format(state_path.display(), format!("not a training state: {e}")))
}

/// Load what [`save_resume_state`] wrote, if `dir/state.json` exists.
pub fn load_resume_state(
    dir: &Path,
    model: &mut Sequential,
    adam: &mut Adam,
    stopping: &mut EarlyStopping,
) -> Result<Option<ResumeState>> {
    let Some(state) = read_resume_state(dir)? else {
        return Ok(None);
    };
    let path = dir.join(&state.folder);
    load_weights(model, &path.join("last.safetensors"))?;
    *stopping = state.early_stopping.clone();
    let best_path = path.join("best.safetensors");
    if best_path.exists() {
        stopping.best_weights = Some(tensors_from_file(&best_path)?);
    }
    let moments = tensors_from_file(&path.join("optimizer.safetensors"))?;
    let half = moments.len() / 2;
    let (m, v) = moments.split_at(half);
    adam.restore(state.adam_iterations, m.to_vec(), v.to_vec());
    Ok(Some(state))
}

/// An ordered list of tensors as safetensors bytes, named `0000`, `0001`, …
fn tensors_to_bytes(tensors: &[Tensor]) -> Result<Vec<u8>> {
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                format!("{i:04}"),
                t.shape().to_vec(),
                t.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = data
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::invalid(format!("tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| Error::invalid(format!("safetensors: {e}")))
}

/// Read back what [`tensors_to_bytes`] wrote, in order.
fn tensors_from_file(path: &Path) -> Result<Vec<Tensor>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::format(path.display(), format!("unreadable: {e}")))?;
    let mut names: Vec<&str> = file.names();
    names.sort_unstable();
    names
        .into_iter()
        .map(|name| {
            let view = file.tensor(name).expect("listed name");
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok(Tensor::from_shape_vec(IxDyn(view.shape()), values).expect("consistent shape"))
        })
        .collect()
}
