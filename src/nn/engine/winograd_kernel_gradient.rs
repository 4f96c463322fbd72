//! The kernel gradient of a convolution by Winograd's F(2×2, 3×3) (read
//! [`super::winograd`] first): the same `dK = Σ im2col(x)ᵀ · dy` as
//! [`super::conv::conv_kernel_gradient`], with 2.25 times fewer multiplications.
//!
//! **Derivation.** For one tile the forward pass computes, per output channel `o`,
//! `M_o = Σ_c U_{c,o} ⊙ V_c` and `Y_o = Aᵀ M_o A`, with `U = G g Gᵀ` and `V = Bᵀ d B`. Each step
//! is linear, so the chain rule runs backwards through the same matrices:
//!
//! - `Y = Aᵀ M A` gives `∂L/∂M = A · dY · Aᵀ` (4×4 from the tile's 2×2 output gradient);
//! - `M_o = Σ_c U_{c,o} ⊙ V_c` gives `∂L/∂U_{c,o} = Σ_tiles V_c ⊙ ∂L/∂M_o`, position by
//!   position: for each `ξ` one matrix product `dU_ξ[cin, cout] = V_ξᵀ · dM_ξ` over all tiles;
//! - `U = G g Gᵀ` gives `∂L/∂g = Gᵀ · dU · G` (3×3 from 4×4).
//!
//! In exact arithmetic this is the direct kernel gradient; the tests hold it to the reference
//! within the same kind of bound as the forward pass.
//!
//! **How.** The tiles are taken in chunks of [`chunk_tiles`]: the chunk's transformed inputs
//! `V` and output gradients `dM` are computed in parallel, one tile's 16 positions together
//! (`[tile][ξ][channel]`), then the 16 products `dU_ξ += V_ξᵀ · dM_ξ` run in parallel, one
//! task per `ξ`, on `matrixmultiply` with strides that pick position `ξ` out of every tile.
//! Each `dU_ξ` adds the chunks in their order, so the result does not depend on the thread
//! count. Last, `Gᵀ dU G` gives the nine `[cin, cout]` planes of the kernel gradient.

use super::im2col::ConvGeometry;
use super::implicit_im2col::{automatic_micro_kernel, MicroKernel};
use super::winograd::{transform_input, winograd_applies, G, LANES};
use rayon::prelude::*;

/// Fewest input and output channels for which the kernel gradient takes this path
/// ([`winograd_kernel_gradient_applies`]). Measured at 256×256, batch 16, 2 threads (Intel Xeon,
/// family 6, model 167, AVX-512), three interleaved rounds, Winograd against im2col +
/// `matrixmultiply` and against the AVX-512 micro-kernel of [`super::implicit_kernel_gradient`]:
/// 128→128 at 64² 70.6 against 65.6 and 55.6 ms, 128→256 at 32² 44.1 against 37.7 and 28.2,
/// 256→256 at 32² 56.8 against 78.0 and 59.7, 256→512 at 16² 28.8 against 39.4 and 36.8,
/// 512→512 at 16² 47.9 against 84.1 and 74.1. (With 128, the threshold before those
/// measurements, `conv2d_5` and `conv2d_6` were slower by Winograd.)
pub const KERNEL_GRADIENT_MIN_CHANNELS: usize = 256;

/// Whether the kernel gradient of a convolution with geometry `g` into `cout` channels takes
/// this path: the forward pass would ([`winograd_applies`]) and both channel counts are at
/// least [`KERNEL_GRADIENT_MIN_CHANNELS`].
pub fn winograd_kernel_gradient_applies(g: &ConvGeometry, cout: usize) -> bool {
    winograd_applies(g, cout)
        && g.c >= KERNEL_GRADIENT_MIN_CHANNELS
        && cout >= KERNEL_GRADIENT_MIN_CHANNELS
}

/// Target size, in `f32`, of one chunk's transformed inputs and output gradients together
/// (`16·tiles·(cin + cout)`): 64 MiB.
pub const CHUNK_FLOATS: usize = 1 << 24;

/// Tiles per chunk for `cin` input and `cout` output channels (at least one).
pub fn chunk_tiles(cin: usize, cout: usize) -> usize {
    (CHUNK_FLOATS / (16 * (cin + cout)).max(1)).max(1)
}

/// The kernel gradient `[3·3·cin, cout]` (row-major, the layout of a Keras kernel) of a "same"
/// 3×3 convolution of the batch `x` (`n` images with geometry `g`, which the Winograd path must
/// be able to compute: [`super::winograd::winograd_can_compute`]) for the output gradient `dy`
/// (`[n, h, w, cout]`).
///
/// # Panics
/// If the shape does not fit or the slices are too short (bugs in the caller).
pub fn winograd_kernel_gradient(
    x: &[f32],
    g: &ConvGeometry,
    n: usize,
    dy: &[f32],
    cout: usize,
) -> Vec<f32> {
    assert!(
        super::winograd::winograd_can_compute(g, cout),
        "Winograd kernel gradient: unsupported shape {g:?}, cout {cout}"
    );
    let cin = g.c;
    assert!(x.len() >= n * g.image_len(), "input too short");
    assert!(
        dy.len() >= n * g.h * g.w * cout,
        "output gradient too short"
    );
    let tiles_per_row = g.w / 2;
    let tiles_per_image = tiles_per_row * (g.h / 2);
    let tiles = n * tiles_per_image;
    let chunk = chunk_tiles(cin, cout);
    let isa = automatic_micro_kernel();
    let mut du = vec![0.0f32; 16 * cin * cout];
    let (mut v, mut dm) = (Vec::new(), Vec::new());
    for t0 in (0..tiles).step_by(chunk) {
        let count = chunk.min(tiles - t0);
        v.resize(count * 16 * cin, 0.0);
        dm.resize(count * 16 * cout, 0.0);
        let first = Tiles {
            first: t0,
            tiles_per_row,
            tiles_per_image,
        };
        v.par_chunks_mut(TILES_PER_TASK * 16 * cin)
            .enumerate()
            .for_each(|(task, slots)| {
                transform_tiles(isa, first.from(task), x, g, cout, dy, (slots, None))
            });
        dm.par_chunks_mut(TILES_PER_TASK * 16 * cout)
            .enumerate()
            .for_each(|(task, slots)| {
                transform_tiles(
                    isa,
                    first.from(task),
                    x,
                    g,
                    cout,
                    dy,
                    (&mut [], Some(slots)),
                )
            });
        // dU_ξ += V_ξᵀ · dM_ξ, one task per ξ.
        du.par_chunks_mut(cin * cout)
            .enumerate()
            .for_each(|(xi, du_xi)| {
                // SAFETY: A = V_ξᵀ is [cin, count] with element (c, t) at v[t·16·cin + ξ·cin +
                // c], B = dM_ξ is [count, cout] with element (t, o) at dm[t·16·cout + ξ·cout +
                // o], and C = dU_ξ is [cin, cout] row-major: every index is inside the slices
                // resized above (t < count, ξ < 16, c < cin, o < cout), and C is this task's
                // own chunk.
                unsafe {
                    matrixmultiply::sgemm(
                        cin,
                        count,
                        cout,
                        1.0,
                        v.as_ptr().add(xi * cin),
                        1,
                        (16 * cin) as isize,
                        dm.as_ptr().add(xi * cout),
                        (16 * cout) as isize,
                        1,
                        1.0,
                        du_xi.as_mut_ptr(),
                        cout as isize,
                        1,
                    )
                }
            });
    }
    kernel_from_transformed(&du, cin * cout)
}

/// Tiles one rayon task transforms.
const TILES_PER_TASK: usize = 64;

/// Where the tiles of a run of slots are: slot `s` holds tile `first + s` of the batch
/// (image-major, then tile row, then tile column).
#[derive(Clone, Copy)]
struct Tiles {
    first: usize,
    tiles_per_row: usize,
    tiles_per_image: usize,
}

impl Tiles {
    /// The tiles of task `task` (slots of [`TILES_PER_TASK`] tiles).
    fn from(self, task: usize) -> Self {
        Tiles {
            first: self.first + task * TILES_PER_TASK,
            ..self
        }
    }

    /// `(image, tile row, tile column)` of slot `s`.
    fn tile(self, s: usize) -> (usize, usize, usize) {
        let t = self.first + s;
        let (image, within) = (t / self.tiles_per_image, t % self.tiles_per_image);
        (
            image,
            within / self.tiles_per_row,
            within % self.tiles_per_row,
        )
    }
}

/// Fill the `[16, channels]` slots of consecutive tiles: with the transformed inputs `V`
/// ([`transform_input`]) when `slots.1` is `None`, else with the transformed output gradients
/// `dM` ([`transform_output_gradient`]); compiled for the vector extension of `isa`.
fn transform_tiles(
    isa: Option<MicroKernel>,
    tiles: Tiles,
    x: &[f32],
    g: &ConvGeometry,
    cout: usize,
    dy: &[f32],
    slots: (&mut [f32], Option<&mut [f32]>),
) {
    #[cfg(target_arch = "x86_64")]
    {
        type Slots<'a> = (&'a mut [f32], Option<&'a mut [f32]>);
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(t: Tiles, x: &[f32], g: &ConvGeometry, o: usize, dy: &[f32], s: Slots) {
            tiles_generic(t, x, g, o, dy, s)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(t: Tiles, x: &[f32], g: &ConvGeometry, o: usize, dy: &[f32], s: Slots) {
            tiles_generic(t, x, g, o, dy, s)
        }
        match isa {
            // SAFETY: `automatic_micro_kernel` names a micro-kernel only on CPUs with its
            // instructions.
            Some(MicroKernel::Avx512) => return unsafe { avx512(tiles, x, g, cout, dy, slots) },
            Some(MicroKernel::Avx2) => return unsafe { avx2(tiles, x, g, cout, dy, slots) },
            None => {}
        }
    }
    tiles_generic(tiles, x, g, cout, dy, slots)
}

#[inline(always)]
fn tiles_generic(
    tiles: Tiles,
    x: &[f32],
    g: &ConvGeometry,
    cout: usize,
    dy: &[f32],
    slots: (&mut [f32], Option<&mut [f32]>),
) {
    match slots {
        (v, None) => {
            for (s, slot) in v.chunks_exact_mut(16 * g.c).enumerate() {
                transform_input(x, g, tiles.tile(s), (0, g.c), slot);
            }
        }
        (_, Some(dm)) => {
            for (s, slot) in dm.chunks_exact_mut(16 * cout).enumerate() {
                transform_output_gradient(dy, g, cout, tiles.tile(s), slot);
            }
        }
    }
}

// ANCHOR: output_gradient_transform
/// `dM = A · dY · Aᵀ` for the 2×2 output gradient of tile `(image, ty, tx)`, every channel:
/// value `(ξ, o)` written at `slot[ξ·cout + o]`. With `A = Aᵀᵀ`, a pair `(a, b)` becomes
/// `(a, a + b, a − b, −b)`, first down the columns, then along the rows.
#[inline(always)]
fn transform_output_gradient(
    dy: &[f32],
    g: &ConvGeometry,
    cout: usize,
    (image, ty, tx): (usize, usize, usize),
    slot: &mut [f32],
) {
    let start =
        |row: usize, column: usize| ((image * g.h + 2 * ty + row) * g.w + 2 * tx + column) * cout;
    let starts = [start(0, 0), start(0, 1), start(1, 0), start(1, 1)];
    let mut y = [[0.0f32; LANES]; 4];
    for o0 in (0..cout).step_by(LANES) {
        for (k, values) in y.iter_mut().enumerate() {
            values.copy_from_slice(&dy[starts[k] + o0..][..LANES]);
        }
        // Down the columns: (top, bottom) → (top, top + bottom, top − bottom, −bottom).
        let mut columns = [[0.0f32; LANES]; 8];
        for b in 0..2 {
            for l in 0..LANES {
                let (top, bottom) = (y[b][l], y[2 + b][l]);
                columns[b][l] = top;
                columns[2 + b][l] = top + bottom;
                columns[4 + b][l] = top - bottom;
                columns[6 + b][l] = -bottom;
            }
        }
        // Along the rows, the same.
        for i in 0..4 {
            let mut row = [[0.0f32; LANES]; 4];
            for l in 0..LANES {
                let (left, right) = (columns[2 * i][l], columns[2 * i + 1][l]);
                row[0][l] = left;
                row[1][l] = left + right;
                row[2][l] = left - right;
                row[3][l] = -right;
            }
            for (j, values) in row.iter().enumerate() {
                slot[(4 * i + j) * cout + o0..][..LANES].copy_from_slice(values);
            }
        }
    }
}
// ANCHOR_END: output_gradient_transform

/// `dg = Gᵀ dU G`: the nine `[cin, cout]` planes of the kernel gradient (tap `(a, b)` at
/// `(3a + b)·plane`) from the 16 planes of `dU`, `dg_ab = Σ_{i,j} G[i][a]·G[j][b]·dU_ij`.
fn kernel_from_transformed(du: &[f32], plane: usize) -> Vec<f32> {
    let mut dg = vec![0.0f32; 9 * plane];
    dg.par_chunks_mut(plane)
        .enumerate()
        .for_each(|(ab, dg_ab)| {
            let (a, b) = (ab / 3, ab % 3);
            for i in 0..4 {
                for j in 0..4 {
                    let weight = G[i][a] * G[j][b];
                    if weight != 0.0 {
                        let du_ij = &du[(4 * i + j) * plane..][..plane];
                        dg_ab
                            .iter_mut()
                            .zip(du_ij)
                            .for_each(|(d, u)| *d += weight * u);
                    }
                }
            }
        });
    dg
}
