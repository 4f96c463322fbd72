//! `cargo bench --bench conv_layers`: GFLOP/s of every convolution of the article's network —
//! forward, backward-data (input gradient) and backward-weights (kernel gradient) — on a batch
//! of `LUMBAR_BENCH_BATCH` images (default 4) of `LUMBAR_BENCH_SIZE`² pixels (default 256),
//! with all cores, on the engine each shape takes. Each operation is timed `REPEATS` times
//! after one warm-up; the best time is reported (the least disturbed by other work on the
//! machine).
//!
//! `cargo bench --bench conv_layers -- compare`: the engines against each other instead, on the
//! same layers: for each forward pass and input gradient that a micro-kernel can compute (a
//! multiple of 16 output channels, whatever its `MAX_CHANNELS`), the AVX-512 micro-kernel, the
//! AVX2 one and the portable im2col + GEMM, timed in `LUMBAR_BENCH_ROUNDS` (default 7)
//! interleaved rounds (AVX-512, AVX2, portable, AVX-512, AVX2, portable, …), so that a
//! disturbance on a shared machine hits all of them alike. Each timing runs the operation as
//! many times as take at least `MIN_TIMING_SECONDS` (the same count for every engine). It
//! prints each engine's median GFLOP/s and the median and range, over the rounds, of the
//! AVX2/AVX-512 and portable/AVX-512 time ratios measured within a round (above 1: AVX-512
//! faster). An engine the CPU
//! lacks is left out and named.
//!
//! `LUMBAR_BENCH_ENGINES=avx512,avx2` (any of `avx512`, `avx2`, `portable`) compares only
//! those.
//!
//! `LUMBAR_BENCH_CLOCK=cpu` times the comparison by the time the process's threads spent on a
//! CPU (the sum over `/proc/self/task/*/schedstat`, Linux) instead of the wall clock: on a
//! machine whose cores are oversubscribed by other jobs the wall clock mostly measures the
//! share of the cores the bench was given, the on-CPU time what the engine needed (it also
//! counts rayon's workers spinning while they wait for work, so it favours no engine).
//!
//! FLOP = 2 × multiply-adds. Every figure comes after a line naming the CPU.

use lumbar_cnn::nn::engine::{
    conv_engine, conv_forward, conv_forward_on, conv_input_gradient, conv_input_gradient_on,
    conv_kernel_gradient, ConvEngine, ConvGeometry,
};
use lumbar_cnn::nn::Tensor;
use ndarray::IxDyn;
use std::time::Instant;

/// Large freed blocks are kept for the next step (see `lumbar_cnn::recycling_allocator`).
#[global_allocator]
static ALLOCATOR: lumbar_cnn::RecyclingAllocator = lumbar_cnn::RecyclingAllocator;

const REPEATS: usize = 3;
/// Shortest timing in the comparison: operations shorter than this are repeated.
const MIN_TIMING_SECONDS: f64 = 0.1;
/// The engines the comparison times, in the order of a round.
const COMPARED: [ConvEngine; 3] = [
    ConvEngine::Avx512MicroKernel,
    ConvEngine::Avx2MicroKernel,
    ConvEngine::Im2colGemm,
];

fn best_seconds(mut f: impl FnMut()) -> f64 {
    f();
    (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// What the comparison's timings measure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clock {
    /// Elapsed real time.
    Wall,
    /// Time the process's threads spent running on a CPU.
    OnCpu,
}

impl Clock {
    /// Seconds on this clock since some fixed start.
    fn now(self, start: Instant) -> f64 {
        match self {
            Clock::Wall => start.elapsed().as_secs_f64(),
            Clock::OnCpu => on_cpu_seconds().expect("/proc/self/task/*/schedstat is readable"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Clock::Wall => "wall-clock time",
            Clock::OnCpu => "on-CPU time of all threads",
        }
    }
}

/// Seconds the process's threads have spent on a CPU: the first field (nanoseconds) of every
/// `/proc/self/task/*/schedstat`, summed. `None` where it cannot be read.
fn on_cpu_seconds() -> Option<f64> {
    let mut nanoseconds = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        nanoseconds += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(nanoseconds as f64 * 1e-9)
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One convolution of the network: its name, input size and channels, and its data.
struct Layer {
    name: String,
    size: usize,
    cin: usize,
    cout: usize,
    g: ConvGeometry,
    x: Vec<f32>,
    kernel: Vec<f32>,
    dy: Vec<f32>,
}

/// The ten convolutions of `paper_cnn` for `size`² inputs, with deterministic data for a
/// batch of `batch` images.
fn layers(size: usize, batch: usize) -> Vec<Layer> {
    let mut layers = Vec::new();
    let (mut size, mut cin) = (size, 3);
    for filters in [32usize, 64, 128, 256, 512] {
        for _ in 0..2 {
            let g = ConvGeometry {
                h: size,
                w: size,
                c: cin,
                kh: 3,
                kw: 3,
                pad_top: 1,
                pad_left: 1,
                ho: size,
                wo: size,
            };
            let x = (0..batch * size * size * cin)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
                .collect();
            let kernel = Tensor::from_shape_fn(IxDyn(&[3, 3, cin, filters]), |i| {
                ((i[2] + i[3]) % 7) as f32 * 0.01
            });
            let dy = (0..batch * size * size * filters)
                .map(|i| ((i * 31) % 100) as f32 / 100.0)
                .collect();
            let name = match layers.len() {
                0 => "conv2d".to_string(),
                i => format!("conv2d_{i}"),
            };
            layers.push(Layer {
                name,
                size,
                cin,
                cout: filters,
                g,
                x,
                kernel: kernel.into_raw_vec_and_offset().0,
                dy,
            });
            cin = filters;
        }
        size /= 2;
    }
    layers
}

fn main() {
    println!("{}", lumbar_cnn::cpu::cpu_description());
    let batch = env_number("LUMBAR_BENCH_BATCH", 4);
    let size = env_number("LUMBAR_BENCH_SIZE", 256);
    if std::env::args().any(|a| a == "compare") {
        let clock = match std::env::var("LUMBAR_BENCH_CLOCK").as_deref() {
            Ok("cpu") if on_cpu_seconds().is_some() => Clock::OnCpu,
            Ok("cpu") => {
                eprintln!("the on-CPU time cannot be read here: timing by the wall clock");
                Clock::Wall
            }
            _ => Clock::Wall,
        };
        compare(
            size,
            batch,
            env_number("LUMBAR_BENCH_ROUNDS", 7).max(1),
            clock,
        );
    } else {
        table(size, batch);
    }
}

/// The table of every layer on the engine each shape takes.
fn table(size: usize, batch: usize) {
    println!(
        "conv layers of paper_cnn at {size}×{size}, batch {batch}, {} thread(s); best of {REPEATS}",
        rayon::current_num_threads()
    );
    println!(
        "{:<10} {:>9} {:>6} {:>6} {:>10} {:>10} {:>10}  engines (fwd / bwd-data)",
        "layer", "input", "cin", "cout", "fwd GF/s", "bwd-data", "bwd-wgt"
    );
    for layer in layers(size, batch) {
        let Layer {
            g,
            cin,
            cout: filters,
            ..
        } = layer;
        let (x, k, dy) = (&layer.x, &layer.kernel, &layer.dy);
        let bias = vec![0.0f32; filters];
        let flops = 2.0 * (batch * g.out_pixels() * g.patch_len() * filters) as f64;
        let forward = best_seconds(|| {
            std::hint::black_box(conv_forward(x, &g, batch, k, filters, Some(&bias)));
        });
        let backward_data = best_seconds(|| {
            let channels = (cin, filters);
            std::hint::black_box(conv_input_gradient(dy, &g, batch, k, channels));
        });
        let backward_weights = best_seconds(|| {
            std::hint::black_box(conv_kernel_gradient(x, &g, batch, dy, filters));
        });
        println!(
            "{:<10} {:>9} {cin:>6} {filters:>6} {:>10.1} {:>10.1} {:>10.1}  {} / {}",
            layer.name,
            format!("{}²", layer.size),
            flops / forward / 1e9,
            flops / backward_data / 1e9,
            flops / backward_weights / 1e9,
            conv_engine(g.patch_len(), filters).name(),
            conv_engine(g.kh * g.kw * filters, cin).name(),
        );
    }
}

/// The interleaved comparison of the engines (see the top of the file).
fn compare(size: usize, batch: usize, rounds: usize, clock: Clock) {
    let wanted = std::env::var("LUMBAR_BENCH_ENGINES").unwrap_or_default();
    let chosen = |e: &ConvEngine| {
        let name = match e {
            ConvEngine::Avx512MicroKernel => "avx512",
            ConvEngine::Avx2MicroKernel => "avx2",
            ConvEngine::Im2colGemm => "portable",
        };
        wanted.is_empty() || wanted.split(',').any(|w| w.trim() == name)
    };
    let engines: Vec<ConvEngine> = COMPARED
        .into_iter()
        .filter(|e| e.cpu_has_it() && chosen(e))
        .collect();
    for missing in COMPARED.iter().filter(|e| chosen(e) && !e.cpu_has_it()) {
        match missing {
            ConvEngine::Avx512MicroKernel => eprintln!("skipped: CPU lacks AVX-512F"),
            other => eprintln!("skipped: CPU lacks the {}", other.name()),
        }
    }
    let names: Vec<String> = engines.iter().map(|e| e.name()).collect();
    println!(
        "conv layers of paper_cnn at {size}×{size}, batch {batch}, {} thread(s); {rounds} interleaved rounds of {}; median GFLOP/s by {}",
        rayon::current_num_threads(),
        names.join(", "),
        clock.name()
    );
    print!(
        "{:<10} {:>6} {:>5} {:>5} {:>8}",
        "layer", "input", "cin", "cout", "pass"
    );
    for engine in &engines {
        print!(" {:>12}", short_name(*engine));
    }
    println!("  AVX2/AVX-512 time [min, max]  portable/AVX-512 time [min, max]  automatic");
    for layer in layers(size, batch) {
        let (g, cin, cout) = (layer.g, layer.cin, layer.cout);
        let flops = 2.0 * (batch * g.out_pixels() * g.patch_len() * cout) as f64;
        let bias = vec![0.0f32; cout];
        for pass in ["forward", "dx"] {
            // Output channels and row length of the product this pass computes.
            let (channels, k) = match pass {
                "forward" => (cout, g.patch_len()),
                _ => (cin, g.kh * g.kw * cout),
            };
            if !channels.is_multiple_of(16) {
                continue; // no micro-kernel computes it
            }
            let run = |engine: ConvEngine| {
                let result = match pass {
                    "forward" => conv_forward_on(
                        engine,
                        &layer.x,
                        &g,
                        batch,
                        &layer.kernel,
                        cout,
                        Some(&bias),
                    ),
                    _ => conv_input_gradient_on(
                        engine,
                        &layer.dy,
                        &g,
                        batch,
                        &layer.kernel,
                        (cin, cout),
                    ),
                };
                std::hint::black_box(result.expect("the engine runs on this CPU"));
            };
            let seconds = interleaved(&engines, rounds, clock, run);
            print!(
                "{:<10} {:>6} {cin:>5} {cout:>5} {pass:>8}",
                layer.name,
                format!("{}²", layer.size)
            );
            for times in &seconds {
                print!(" {:>12.1}", flops / median(times) / 1e9);
            }
            let position = |wanted| engines.iter().position(|e| *e == wanted);
            let avx512 = position(ConvEngine::Avx512MicroKernel);
            for other in [ConvEngine::Avx2MicroKernel, ConvEngine::Im2colGemm] {
                match (avx512, position(other)) {
                    (Some(a), Some(b)) => {
                        let ratios: Vec<f64> = seconds[b]
                            .iter()
                            .zip(&seconds[a])
                            .map(|(b, a)| b / a)
                            .collect();
                        let (low, high) = ratios
                            .iter()
                            .fold((f64::INFINITY, 0.0f64), |(l, h), &r| (l.min(r), h.max(r)));
                        print!("  {:>6.2} [{low:.2}, {high:.2}]", median(&ratios));
                    }
                    _ => print!("  {:>19}", "—"),
                }
            }
            println!("   {}", short_name(conv_engine(k, channels)));
        }
    }
}

/// The engine's name in a column header.
fn short_name(engine: ConvEngine) -> &'static str {
    match engine {
        ConvEngine::Avx512MicroKernel => "AVX-512",
        ConvEngine::Avx2MicroKernel => "AVX2",
        ConvEngine::Im2colGemm => "portable",
    }
}

/// Seconds per call of `run(engine)` for every engine, `rounds` times, the engines taking turns
/// within each round; after one warm-up call each, which also sets how many calls one timing
/// makes (enough for [`MIN_TIMING_SECONDS`] on the fastest engine).
fn interleaved(
    engines: &[ConvEngine],
    rounds: usize,
    clock: Clock,
    run: impl Fn(ConvEngine),
) -> Vec<Vec<f64>> {
    let origin = Instant::now();
    let fastest = engines
        .iter()
        .map(|&engine| {
            let start = clock.now(origin);
            run(engine);
            clock.now(origin) - start
        })
        .fold(f64::INFINITY, f64::min);
    let calls = (MIN_TIMING_SECONDS / fastest.max(1e-9)).ceil().max(1.0) as usize;
    let mut seconds = vec![Vec::with_capacity(rounds); engines.len()];
    for _ in 0..rounds {
        for (times, &engine) in seconds.iter_mut().zip(engines) {
            let start = clock.now(origin);
            for _ in 0..calls {
                run(engine);
            }
            times.push((clock.now(origin) - start) / calls as f64);
        }
    }
    seconds
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}
