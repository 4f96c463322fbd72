//! Element-wise layers two ways: the hand-written `parallel_output` (fixed blocks, fused loops)
//! against ndarray's own parallel `Zip::par_map_collect`, on a `16×256×256×32` feature map
//! (the paper's first block at 256², batch 16).
//!
//! `cargo bench --bench elementwise` (set `RAYON_NUM_THREADS=2` for two threads). Rounds are
//! interleaved (ours, ndarray's, ours, …) so that both see the same machine; the best time of
//! each and the median of the per-round ratios are printed. Each pair is also checked to give the same bits.

use lumbar_cnn::nn::engine::parallel::{parallel_output, parallel_output_with, ELEMENTS_PER_TASK};
use lumbar_cnn::recycling_allocator::RecyclingAllocator;
use ndarray::{Array1, Array2, ArrayD, IxDyn, Zip};
use std::time::Instant;

// As in the binary: freed feature maps are reused, not handed back to the operating system.
#[global_allocator]
static ALLOCATOR: RecyclingAllocator = RecyclingAllocator;

const SHAPE: [usize; 4] = [16, 256, 256, 32];
const ROUNDS: usize = 9;

fn relu(v: f32) -> f32 {
    if v > 0.0 || v.is_nan() {
        v
    } else {
        0.0
    }
}

/// ReLU forward + backward, hand-written: mask and output in one pass.
fn relu_ours(x: &[f32], dy: &[f32], mask: &mut Vec<bool>) -> (Vec<f32>, Vec<f32>) {
    mask.resize(x.len(), false);
    let y = parallel_output_with(x.len(), ELEMENTS_PER_TASK, mask, |_, out, mask| {
        let x = &x[out.range()];
        for (m, &v) in mask.iter_mut().zip(x) {
            *m = v > 0.0;
        }
        out.push_iter(x.iter().map(|&v| relu(v)));
    });
    let dx = parallel_output(dy.len(), ELEMENTS_PER_TASK, |_, out| {
        let range = out.range();
        let (g, m) = (&dy[range.clone()], &mask[range]);
        out.push_iter(g.iter().zip(m).map(|(&g, &m)| if m { g } else { 0.0 }));
    });
    (y, dx)
}

/// ReLU forward + backward with ndarray's parallel Zip.
fn relu_ndarray(x: &ArrayD<f32>, dy: &ArrayD<f32>) -> (ArrayD<f32>, ArrayD<f32>) {
    let mask = Zip::from(x).par_map_collect(|&v| v > 0.0);
    let y = Zip::from(x).par_map_collect(|&v| relu(v));
    let dx = Zip::from(dy)
        .and(&mask)
        .par_map_collect(|&g, &m| if m { g } else { 0.0 });
    (y, dx)
}

/// Dropout's `y = x ⊙ mask` and `dx = dy ⊙ mask` (mask given), hand-written.
fn dropout_ours(x: &[f32], dy: &[f32], mask: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let times = |a: &[f32]| {
        parallel_output(a.len(), ELEMENTS_PER_TASK, |_, out| {
            let range = out.range();
            out.push_iter(
                a[range.clone()]
                    .iter()
                    .zip(&mask[range])
                    .map(|(v, m)| v * m),
            );
        })
    };
    (times(x), times(dy))
}

/// The same with ndarray's parallel Zip.
fn dropout_ndarray(
    x: &ArrayD<f32>,
    dy: &ArrayD<f32>,
    mask: &ArrayD<f32>,
) -> (ArrayD<f32>, ArrayD<f32>) {
    let y = Zip::from(x).and(mask).par_map_collect(|&v, &m| v * m);
    let dx = Zip::from(dy).and(mask).par_map_collect(|&g, &m| g * m);
    (y, dx)
}

/// Per-channel vectors of batch norm: mean, 1/std, γ, β, and the backward's means.
struct Channels {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    mean_g: Vec<f32>,
    mean_gx: Vec<f32>,
}

/// Batch norm's element-wise parts (x̂ and y forward, dx backward), hand-written.
fn batch_norm_ours(
    x: &[f32],
    dy: &[f32],
    p: &Channels,
    x_hat: &mut Vec<f32>,
) -> (Vec<f32>, Vec<f32>) {
    let c = p.mean.len();
    let block = (ELEMENTS_PER_TASK / c) * c;
    x_hat.resize(x.len(), 0.0);
    let y = parallel_output_with(x.len(), block, x_hat, |_, out, hat_rows| {
        let x_rows = &x[out.range()];
        for (row, hat_row) in x_rows.chunks(c).zip(hat_rows.chunks_mut(c)) {
            for ((h, &v), (&mu, &is)) in hat_row
                .iter_mut()
                .zip(row)
                .zip(p.mean.iter().zip(&p.inv_std))
            {
                *h = (v - mu) * is;
            }
            out.push_iter(
                hat_row
                    .iter()
                    .zip(p.gamma.iter().zip(&p.beta))
                    .map(|(&h, (&g, &b))| g * h + b),
            );
        }
    });
    let scale: Vec<f32> = p.gamma.iter().zip(&p.inv_std).map(|(g, s)| g * s).collect();
    let dx = parallel_output(dy.len(), block, |_, out| {
        let g_rows = &dy[out.range()];
        let hat_rows = &x_hat[out.range()];
        for (g_row, hat_row) in g_rows.chunks(c).zip(hat_rows.chunks(c)) {
            let per_channel = scale.iter().zip(&p.mean_g).zip(&p.mean_gx);
            out.push_iter(
                g_row
                    .iter()
                    .zip(hat_row)
                    .zip(per_channel)
                    .map(|((&gv, &h), ((&sc, &mg), &mgx))| sc * (gv - mg - h * mgx)),
            );
        }
    });
    (y, dx)
}

/// The same with ndarray's parallel Zip over the `[M, C]` matrix, channels broadcast.
fn batch_norm_ndarray(
    x: &Array2<f32>,
    dy: &Array2<f32>,
    p: &Channels,
) -> (Array2<f32>, Array2<f32>) {
    let v = |values: &[f32]| Array1::from(values.to_vec());
    let (mean, inv_std, gamma, beta) = (v(&p.mean), v(&p.inv_std), v(&p.gamma), v(&p.beta));
    let x_hat = Zip::from(x)
        .and_broadcast(&mean)
        .and_broadcast(&inv_std)
        .par_map_collect(|&v, &mu, &is| (v - mu) * is);
    let y = Zip::from(&x_hat)
        .and_broadcast(&gamma)
        .and_broadcast(&beta)
        .par_map_collect(|&h, &g, &b| g * h + b);
    let scale = &gamma * &inv_std;
    let (mean_g, mean_gx) = (v(&p.mean_g), v(&p.mean_gx));
    let dx = Zip::from(dy)
        .and(&x_hat)
        .and_broadcast(&scale)
        .and_broadcast(&mean_g)
        .and_broadcast(&mean_gx)
        .par_map_collect(|&gv, &h, &sc, &mg, &mgx| sc * (gv - mg - h * mgx));
    (y, dx)
}

fn seconds(f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

fn main() {
    println!("{}", lumbar_cnn::cpu::cpu_description());
    let len: usize = SHAPE.iter().product();
    let values = |seed: u32| -> Vec<f32> {
        (0..len)
            .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    };
    let (xv, dyv) = (values(1), values(7));
    let x = ArrayD::from_shape_vec(IxDyn(&SHAPE), xv.clone()).unwrap();
    let dy = ArrayD::from_shape_vec(IxDyn(&SHAPE), dyv.clone()).unwrap();
    let maskv: Vec<f32> = values(3)
        .iter()
        .map(|&v| if v < 0.6 { 2.0 } else { 0.0 })
        .collect();
    let mask = ArrayD::from_shape_vec(IxDyn(&SHAPE), maskv.clone()).unwrap();
    let c = SHAPE[3];
    let p = Channels {
        mean: (0..c).map(|i| 0.01 * i as f32).collect(),
        inv_std: (0..c).map(|i| 1.0 + 0.02 * i as f32).collect(),
        gamma: (0..c).map(|i| 1.0 - 0.01 * i as f32).collect(),
        beta: (0..c).map(|i| 0.03 * i as f32).collect(),
        mean_g: (0..c).map(|i| 0.001 * i as f32).collect(),
        mean_gx: (0..c).map(|i| -0.002 * i as f32).collect(),
    };
    let x2 = x
        .view()
        .into_shape_with_order((len / c, c))
        .unwrap()
        .to_owned();
    let dy2 = dy
        .view()
        .into_shape_with_order((len / c, c))
        .unwrap()
        .to_owned();
    println!(
        "{} threads, {:?} = {} values, {ROUNDS} interleaved rounds (forward + backward)",
        rayon::current_num_threads(),
        SHAPE,
        len
    );

    // Same bits both ways.
    let mut bool_mask = Vec::new();
    let (a, b) = (relu_ours(&xv, &dyv, &mut bool_mask), relu_ndarray(&x, &dy));
    assert!(
        a.0 == b.0.as_slice().unwrap() && a.1 == b.1.as_slice().unwrap(),
        "relu differs"
    );
    let (a, b) = (
        dropout_ours(&xv, &dyv, &maskv),
        dropout_ndarray(&x, &dy, &mask),
    );
    assert!(
        a.0 == b.0.as_slice().unwrap() && a.1 == b.1.as_slice().unwrap(),
        "dropout differs"
    );
    let mut x_hat = Vec::new();
    let (a, b) = (
        batch_norm_ours(&xv, &dyv, &p, &mut x_hat),
        batch_norm_ndarray(&x2, &dy2, &p),
    );
    assert!(
        a.0 == b.0.as_slice().unwrap() && a.1 == b.1.as_slice().unwrap(),
        "batch norm differs"
    );

    // Per round and pair: (ours, ndarray's) seconds, measured one right after the other.
    let mut times: Vec<[Vec<f64>; 2]> = (0..3).map(|_| [Vec::new(), Vec::new()]).collect();
    for _ in 0..ROUNDS {
        let mut pair = |k: usize, ours: &mut dyn FnMut(), theirs: &mut dyn FnMut()| {
            times[k][0].push(seconds(ours));
            times[k][1].push(seconds(theirs));
        };
        pair(
            0,
            &mut || drop(relu_ours(&xv, &dyv, &mut bool_mask)),
            &mut || drop(relu_ndarray(&x, &dy)),
        );
        pair(
            1,
            &mut || drop(dropout_ours(&xv, &dyv, &maskv)),
            &mut || drop(dropout_ndarray(&x, &dy, &mask)),
        );
        pair(
            2,
            &mut || drop(batch_norm_ours(&xv, &dyv, &p, &mut x_hat)),
            &mut || drop(batch_norm_ndarray(&x2, &dy2, &p)),
        );
    }
    let names = ["ReLU", "Dropout (given mask)", "BatchNorm (element-wise)"];
    for (name, [ours, theirs]) in names.iter().zip(&times) {
        let best = |t: &[f64]| t.iter().copied().fold(f64::INFINITY, f64::min);
        let mut ratios: Vec<f64> = ours.iter().zip(theirs).map(|(o, t)| t / o).collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "{name:<28} hand-written best {:7.1} ms   ndarray best {:7.1} ms   ndarray/hand-written: median {:.2} (range {:.2}–{:.2})",
            best(ours) * 1e3,
            best(theirs) * 1e3,
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
}
