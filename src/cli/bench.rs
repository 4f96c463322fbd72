//! `lumbar bench`: how fast does the paper's network train and infer on this machine?
//!
//! Times a few training steps (forward, loss, backward, Adam) and inference batches on random
//! images, after [`WARM_UP_STEPS`] untimed steps of each, and prints images per second, the
//! GFLOP/s they amount to (the direct convolution's multiply-adds, [`paper_cnn_multiply_adds`],
//! also where Winograd's algorithm does fewer) as a share of the machine's measured
//! FMA peak ([`measure_fma_peak`], before and after the timed steps, the better of the two), and
//! the peak memory. Before that it names the CPU, its
//! vector extensions and the engine of every convolution. The last line is machine-readable:
//! `train_img_per_s=… infer_img_per_s=… peak_rss_mb=… fma_peak_gflops=… train_peak_share=…
//! infer_peak_share=…`.

use super::whole_number::whole_number;
use crate::error::{Error, Result};
use crate::model::flops::paper_cnn_multiply_adds;
use crate::model::memory::{available_bytes, ensure_fits, estimate};
use crate::model::paper_cnn;
use crate::model::paper_cnn::MIN_IMAGE_SIZE;
use crate::nn::engine::fma_peak::measure_fma_peak;
use crate::nn::engine::{conv_engine_name, ConvGeometry};
use crate::nn::{Pass, Sequential, SoftmaxCrossEntropy, Tensor};
use crate::optim::{Adam, Optimizer};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// Arguments of `lumbar bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Input height and width in pixels (at least 32).
    #[arg(long, default_value_t = 64, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the image size", MIN_IMAGE_SIZE as u32))]
    pub image_size: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 32, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the batch size", 1))]
    pub batch: usize,
    /// Worker threads (default: all cores).
    #[arg(long, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the number of threads", 1))]
    pub threads: Option<usize>,
    /// Timed steps (after two untimed warm-up steps).
    #[arg(long, default_value_t = 3, allow_negative_numbers = true,
          value_parser = whole_number::<usize>("the number of steps", 1))]
    pub steps: usize,
}

/// Untimed steps before the timed ones, for training and for inference alike: the first step
/// builds every buffer, and the second still gets some memory fresh from the operating system
/// (layers then hold last step's buffers while asking for this step's); from the third on, a
/// step reuses what the one before freed (see `recycling_allocator`). The reference script
/// `benches/reference_keras_torch.py` warms Keras and PyTorch up the same way.
pub const WARM_UP_STEPS: usize = 2;

/// Throughput measured by [`measure`].
#[derive(Clone, Copy, Debug)]
pub struct BenchResult {
    /// Training images per second (forward + backward + Adam step).
    pub train_images_per_second: f64,
    /// Inference images per second (the forward-only path, [`Sequential::infer`]).
    pub infer_images_per_second: f64,
    /// Peak resident memory of the process so far, in MiB (Linux; 0 elsewhere).
    pub peak_rss_mb: f64,
}

/// The process's peak resident set size in MiB, from `/proc/self/status` (`VmHWM`).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Time `steps` training steps and inference batches of the paper's network.
pub fn measure(image_size: usize, batch: usize, steps: usize) -> Result<BenchResult> {
    if batch == 0 || steps == 0 {
        return Err(Error::invalid("batch and steps must be at least 1"));
    }
    let mut model = paper_cnn(image_size, 0)?;
    let mut rng = StdRng::seed_from_u64(0);
    let shape = [batch, image_size, image_size, 3];
    let x = Tensor::from_shape_vec(
        IxDyn(&shape),
        (0..shape.iter().product())
            .map(|_| rng.random::<f32>())
            .collect(),
    )
    .expect("shape and count agree");
    let labels: Vec<usize> = (0..batch).map(|i| i % 3).collect();
    let mut loss = SoftmaxCrossEntropy::new();
    let mut adam = Adam::default();
    let mut train_step = |step: u64| -> Result<()> {
        let logits = model.forward(&x, Pass::Train { step })?;
        loss.forward(&logits, &labels)?;
        model.backward_params(&loss.backward()?)?;
        adam.step(&mut model.params_mut())
    };
    for step in 0..WARM_UP_STEPS as u64 {
        train_step(step)?;
    }
    let start = Instant::now();
    for step in (WARM_UP_STEPS..WARM_UP_STEPS + steps).map(|s| s as u64) {
        train_step(step)?;
    }
    let train = (steps * batch) as f64 / start.elapsed().as_secs_f64();
    for _ in 0..WARM_UP_STEPS {
        model.infer(&x)?;
    }
    let start = Instant::now();
    for _ in 0..steps {
        model.infer(&x)?;
    }
    let infer = (steps * batch) as f64 / start.elapsed().as_secs_f64();
    Ok(BenchResult {
        train_images_per_second: train,
        infer_images_per_second: infer,
        peak_rss_mb: peak_rss_mb(),
    })
}

/// One line per convolution of `model`: its name, channels, and the engine
/// ([`conv_engine_name`]) its forward pass and its input gradient run on, e.g.
/// `conv2d_7  256→256  forward: Winograd F(2×2, 3×3) + AVX-512 micro-kernel 14×32; input
/// gradient: …`. The first layer's input gradient is never computed in training (nothing
/// before it needs it). The paper's network halves the image after every second convolution.
pub fn conv_engine_lines(model: &Sequential) -> Vec<String> {
    let image_size = model.input_shape().first().copied().unwrap_or(0);
    let convolutions = model.layers().iter().filter(|l| l.kind() == "Conv2D");
    convolutions
        .enumerate()
        .filter_map(|(index, layer)| {
            let &[kh, kw, cin, cout] = layer.params().first()?.value.shape() else {
                return None;
            };
            let side = image_size >> (index / 2);
            let geometry = |c: usize| ConvGeometry::same(side, side, c, (kh, kw));
            let backward = if index == 0 {
                "not computed".to_string()
            } else {
                conv_engine_name(&geometry(cout), cin)
            };
            Some(format!(
                "{:<10} {:>9}   forward: {}; input gradient: {backward}",
                layer.name(),
                format!("{cin}→{cout}"),
                conv_engine_name(&geometry(cin), cout),
            ))
        })
        .collect()
}

/// Run the benchmark with the requested thread count and print the results, after checking
/// that the training step fits in the available memory.
pub fn run(args: &Args) -> Result<()> {
    ensure_fits(
        estimate(args.image_size, args.batch).training_step_bytes(),
        available_bytes(),
        &format!(
            "--image-size {} with --batch {}",
            args.image_size, args.batch
        ),
        "the training step (parameters, gradients, Adam moments, activations)",
    )?;
    let threads = args.threads.unwrap_or_else(rayon::current_num_threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::invalid(format!("cannot start {threads} threads: {e}")))?;
    println!("{}", crate::cpu::cpu_description());
    println!("convolution engines:");
    for line in conv_engine_lines(&paper_cnn(args.image_size, 0)?) {
        println!("  {line}");
    }
    println!(
        "paper_cnn {0}×{0}×3, batch {1}, {2} thread(s), {3} timed steps",
        args.image_size, args.batch, threads, args.steps
    );
    // The peak is measured before and after the timed steps and the better kept: on a shared
    // machine a neighbour that takes a core during one measurement would otherwise halve the
    // peak and double the share.
    let before = pool.install(measure_fma_peak);
    let result = pool.install(|| measure(args.image_size, args.batch, args.steps))?;
    let after = pool.install(measure_fma_peak);
    let peak = before.better_of(after);
    let width = match peak.lanes {
        16 => "AVX-512",
        8 => "AVX2+FMA",
        _ => "scalar",
    };
    println!(
        "FMA peak : {:8.1} GFLOP/s ({width} FMAs on registers, {} thread(s); \
         {:.1} before and {:.1} after the timed steps, the better kept)",
        peak.gflops, peak.threads, before.gflops, after.gflops
    );
    let work = paper_cnn_multiply_adds(args.image_size);
    let per_image = |flops: f64| flops / args.batch as f64;
    let train_gflops =
        result.train_images_per_second * per_image(work.training_flops(args.batch)) / 1e9;
    let infer_gflops =
        result.infer_images_per_second * per_image(work.inference_flops(args.batch)) / 1e9;
    let share = |gflops: f64| 100.0 * gflops / peak.gflops;
    println!(
        "training : {:8.1} images/s = {train_gflops:6.1} GFLOP/s, {:4.1} % of the FMA peak",
        result.train_images_per_second,
        share(train_gflops)
    );
    println!(
        "inference: {:8.1} images/s = {infer_gflops:6.1} GFLOP/s, {:4.1} % of the FMA peak",
        result.infer_images_per_second,
        share(infer_gflops)
    );
    println!("peak RSS : {:8.0} MiB", result.peak_rss_mb);
    println!("(GFLOP counted as the direct convolution's; Winograd's layers do fewer)");
    println!(
        "train_img_per_s={:.2} infer_img_per_s={:.2} peak_rss_mb={:.0} fma_peak_gflops={:.1} \
         train_peak_share={:.3} infer_peak_share={:.3}",
        result.train_images_per_second,
        result.infer_images_per_second,
        result.peak_rss_mb,
        peak.gflops,
        train_gflops / peak.gflops,
        infer_gflops / peak.gflops
    );
    Ok(())
}
