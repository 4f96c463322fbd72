//! `Sequential`: a stack of layers run one after the other (Keras `Sequential`).
//!
//! Forward runs the layers first to last; backward runs them last to first, each turning
//! `dL/d(output)` into `dL/d(input)` — the chain rule, one layer at a time.
//!
//! A model's *weights* are, layer by layer, its parameters and then its state: Keras'
//! `get_weights()` order (per batch-norm layer: gamma, beta, moving_mean, moving_variance),
//! which is also the order of the tensors in a checkpoint, named `<layer>/<name>`.

use super::layer::{Layer, Param, Pass, State, Tensor};
use crate::error::{Error, Result};

/// An ordered stack of layers with a fixed per-sample input shape.
pub struct Sequential {
    name: String,
    /// The shape of one input sample (no batch axis), e.g. `[256, 256, 3]`.
    input_shape: Vec<usize>,
    layers: Vec<Box<dyn Layer>>,
}

impl Sequential {
    /// An empty model taking samples of `input_shape` (no batch axis).
    pub fn new(name: impl Into<String>, input_shape: &[usize]) -> Self {
        Sequential {
            name: name.into(),
            input_shape: input_shape.to_vec(),
            layers: Vec::new(),
        }
    }

    /// Append a layer, checking that it accepts the current output shape.
    pub fn push(&mut self, layer: impl Layer + 'static) -> Result<()> {
        let shape = self.output_shape()?;
        layer.output_shape(&shape)?;
        if self.layers.iter().any(|l| l.name() == layer.name()) {
            return Err(Error::invalid(format!(
                "model {}: two layers are named {}",
                self.name,
                layer.name()
            )));
        }
        self.layers.push(Box::new(layer));
        Ok(())
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shape of one input sample.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// Mutable access to the layers, e.g. to time or inspect them one by one.
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer>] {
        &mut self.layers
    }

    /// The shape of one output sample, computed through every layer.
    pub fn output_shape(&self) -> Result<Vec<usize>> {
        let mut shape = self.input_shape.clone();
        for layer in &self.layers {
            shape = layer.output_shape(&shape)?;
        }
        Ok(shape)
    }

    // ANCHOR: forward
    /// Run a batch `[N, input_shape…]` through every layer: `y = f_L(… f_2(f_1(x)))`.
    pub fn forward(&mut self, x: &Tensor, pass: Pass) -> Result<Tensor> {
        self.check_input(x)?;
        let Some((first, rest)) = self.layers.split_first_mut() else {
            return Ok(x.clone()); // no layer: the identity
        };
        // The first layer reads x itself; each next layer reads the output before it.
        let mut y = first.forward(x, pass)?;
        for layer in rest {
            y = layer.forward(&y, pass)?;
        }
        Ok(y)
    }
    // ANCHOR_END: forward

    // ANCHOR: infer
    /// The forward-only path for inference (`predict`, evaluation, `lumbar bench`): the same
    /// output as [`Sequential::forward`] with [`Pass::Eval`] (up to rounding), computed with
    /// [`Layer::infer`], which keeps nothing for a backward pass, and with every run of
    /// per-channel maps after a layer (ReLU, batch norm, dropout: [`Layer::inference_maps`])
    /// handed to that layer ([`Layer::infer_then`]): a convolution applies them to its output
    /// while it is still in the cache, instead of three more passes over memory.
    /// A `backward` after `infer` is an error.
    pub fn infer(&mut self, x: &Tensor) -> Result<Tensor> {
        self.check_input(x)?;
        let mut y = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            let mut maps = Vec::new();
            let mut next = i + 1;
            while let Some(more) = self.layers.get(next).and_then(|l| l.inference_maps()) {
                maps.extend(more);
                next += 1;
            }
            y = self.layers[i].infer_then(y, &maps)?;
            i = next;
        }
        Ok(y)
    }
    // ANCHOR_END: infer

    /// [`Sequential::forward`], also returning a copy of the output of layer number `keep`
    /// (what Grad-CAM needs: a convolution's activations and the model's scores in one pass).
    pub fn forward_keeping(
        &mut self,
        x: &Tensor,
        pass: Pass,
        keep: usize,
    ) -> Result<(Tensor, Tensor)> {
        self.check_input(x)?;
        if keep >= self.layers.len() {
            return Err(self.no_layer_error(keep));
        }
        let mut y = x.clone();
        let mut kept = None;
        for (index, layer) in self.layers.iter_mut().enumerate() {
            y = layer.forward(&y, pass)?;
            if index == keep {
                kept = Some(y.clone());
            }
        }
        Ok((y, kept.expect("keep < number of layers")))
    }

    /// The error for a layer number the model does not have.
    fn no_layer_error(&self, index: usize) -> Error {
        Error::invalid(format!(
            "model {} has {} layers, so there is no layer number {index}",
            self.name,
            self.layers.len()
        ))
    }

    /// Refuse an input that is not a non-empty batch of `input_shape` samples.
    fn check_input(&self, x: &Tensor) -> Result<()> {
        if x.ndim() != self.input_shape.len() + 1
            || x.shape()[1..] != self.input_shape[..]
            || x.shape()[0] == 0
        {
            let mut expected = vec![0];
            expected.extend_from_slice(&self.input_shape);
            return Err(Error::shape(
                format!("model {} input (first axis = batch ≥ 1)", self.name),
                expected,
                x.shape(),
            ));
        }
        Ok(())
    }

    // ANCHOR: backward
    /// Back-propagate `dy = dL/d(output)` through every layer, last to first; returns
    /// `dL/d(input)` and leaves each parameter's gradient in its `grad`.
    pub fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let Some((last, rest)) = self.layers.split_last_mut() else {
            return Ok(dy.clone()); // no layer: the identity
        };
        // The last layer reads dy itself; each layer before it reads the gradient after it.
        let mut grad = last.backward(dy)?;
        for layer in rest.iter_mut().rev() {
            grad = layer.backward(&grad)?;
        }
        Ok(grad)
    }
    // ANCHOR_END: backward

    /// Back-propagate `dy = dL/d(output)` through the layers after layer number `layer`, last
    /// to first; returns `dL/d(output of that layer)` (Grad-CAM's gradient at a convolution).
    pub fn backward_to(&mut self, dy: &Tensor, layer: usize) -> Result<Tensor> {
        if layer >= self.layers.len() {
            return Err(self.no_layer_error(layer));
        }
        let mut grad = dy.clone();
        for after in self.layers[layer + 1..].iter_mut().rev() {
            grad = after.backward(&grad)?;
        }
        Ok(grad)
    }

    /// Back-propagate `dL/d(output)` to every parameter's `grad`, as [`Sequential::backward`],
    /// without the gradient with respect to the input: what training needs, and cheaper,
    /// because the first layer skips its input gradient.
    pub fn backward_params(&mut self, dy: &Tensor) -> Result<()> {
        let Some((first, rest)) = self.layers.split_first_mut() else {
            return Ok(());
        };
        let Some((last, middle)) = rest.split_last_mut() else {
            return first.backward_params_only(dy); // a single layer
        };
        let mut grad = last.backward(dy)?;
        for layer in middle.iter_mut().rev() {
            grad = layer.backward(&grad)?;
        }
        first.backward_params_only(&grad)
    }

    /// Every parameter with its layer's name, in layer order.
    pub fn params(&self) -> Vec<(&str, &Param)> {
        self.layers
            .iter()
            .flat_map(|l| {
                let name = l.name();
                l.params().into_iter().map(move |p| (name, p))
            })
            .collect()
    }

    /// Mutable access to every parameter, in the same order as [`Sequential::params`]: what an
    /// optimiser updates.
    pub fn params_mut(&mut self) -> Vec<&mut Param> {
        self.layers
            .iter_mut()
            .flat_map(|l| l.params_mut())
            .collect()
    }

    /// Every state tensor (batch norm's running statistics) with its layer's name, in layer
    /// order.
    pub fn state(&self) -> Vec<(&str, &State)> {
        self.layers
            .iter()
            .flat_map(|l| {
                let name = l.name();
                l.state().into_iter().map(move |s| (name, s))
            })
            .collect()
    }

    /// Every weight tensor as `(<layer>/<name>, value)`: layer by layer, its parameters then
    /// its state — Keras' `get_weights()` order, and the names of a checkpoint's tensors.
    pub fn named_weights(&self) -> Vec<(String, &Tensor)> {
        let mut weights = Vec::new();
        for layer in &self.layers {
            for p in layer.params() {
                weights.push((format!("{}/{}", layer.name(), p.name), &p.value));
            }
            for s in layer.state() {
                weights.push((format!("{}/{}", layer.name(), s.name), &s.value));
            }
        }
        weights
    }

    /// A copy of every weight value (parameters and running statistics), in the order of
    /// [`Sequential::named_weights`] — Keras' `get_weights()`. Used to remember the best epoch.
    pub fn weights(&self) -> Vec<Tensor> {
        self.named_weights()
            .into_iter()
            .map(|(_, w)| w.clone())
            .collect()
    }

    /// Overwrite every weight value from a [`Sequential::weights`] snapshot — Keras'
    /// `set_weights()`. The snapshot must have the same number of tensors and shapes.
    pub fn set_weights(&mut self, weights: &[Tensor]) -> Result<()> {
        let expected = self.named_weights();
        if expected.len() != weights.len() {
            return Err(Error::invalid(format!(
                "model {}: {} weight tensors given for {} weights",
                self.name,
                weights.len(),
                expected.len()
            )));
        }
        for ((name, value), w) in expected.iter().zip(weights) {
            if value.shape() != w.shape() {
                return Err(Error::shape(
                    format!("model {}, weight {name}", self.name),
                    value.shape(),
                    w.shape(),
                ));
            }
        }
        // Every shape matches: copy, layer by layer, its parameters and then its state.
        let mut next = weights.iter();
        for layer in &mut self.layers {
            for p in layer.params_mut() {
                p.value.assign(next.next().expect("counted above"));
            }
            for s in layer.state_mut() {
                s.value.assign(next.next().expect("counted above"));
            }
        }
        Ok(())
    }

    /// `(trainable, non-trainable)` scalar counts, as Keras reports them: parameters and state.
    pub fn parameter_counts(&self) -> (usize, usize) {
        let trainable = self.params().iter().map(|(_, p)| p.len()).sum();
        let frozen = self.state().iter().map(|(_, s)| s.len()).sum();
        (trainable, frozen)
    }

    /// A Keras-style summary table: layer (type), output shape, parameter count, and totals.
    pub fn summary(&self) -> Result<String> {
        let rule = |c: char| c.to_string().repeat(92);
        let mut out = format!("Model: \"{}\"\n{}\n", self.name, rule('_'));
        out += &format!(
            " {:<46}{:<30}{:>14}\n{}\n",
            "Layer (type)",
            "Output Shape",
            "Param #",
            rule('=')
        );
        let mut shape = self.input_shape.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            shape = layer.output_shape(&shape)?;
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            let count: usize = layer.params().iter().map(|p| p.len()).sum::<usize>()
                + layer.state().iter().map(|s| s.len()).sum::<usize>();
            out += &format!(
                " {:<46}{:<30}{:>14}\n",
                format!("{} ({})", layer.name(), layer.kind()),
                format!("(None, {})", dims.join(", ")),
                group_thousands(count)
            );
            if i + 1 < self.layers.len() {
                out += "\n";
            }
        }
        let (trainable, frozen) = self.parameter_counts();
        out += &format!(
            "{}\nTotal params: {} ({})\nTrainable params: {} ({})\nNon-trainable params: {} ({})\n{}\n",
            rule('='),
            group_thousands(trainable + frozen),
            human_bytes(4 * (trainable + frozen)),
            group_thousands(trainable),
            human_bytes(4 * trainable),
            group_thousands(frozen),
            human_bytes(4 * frozen),
            rule('_'),
        );
        Ok(out)
    }
}

/// `21627555` → `"21,627,555"`.
pub fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Bytes as Keras prints them: `82.50 MB`, `21.50 KB`, `12 B`.
fn human_bytes(bytes: usize) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.2} MB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2} KB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(21_627_555), "21,627,555");
    }
}
