//! The kernel gradient with implicit im2col and the AVX-512 micro-kernel
//! (`nn::engine::implicit_kernel_gradient`) equals the reference
//! (`nn::reference::conv2d::kernel_gradient`, the definition as nested loops summed in `f64`) on
//! shapes that reach every branch, and does not depend on the number of threads. On a CPU
//! without AVX-512F every test says so on the console and checks nothing else.
//!
//! **Branches.** Tiles: full and short tile rows (a kernel row of `kw·c` values that the tile
//! height does not divide: 96 = 6·14 + 12, 9 < 14), full panels and a last 16-wide one (48
//! channels), one panel and several. Chunks: one
//! image row per chunk and many, several chunks per image with a short last one, more chunks
//! than parts (several per part, the last part short) and fewer. Padding: `same` (slab border
//! columns and rows of zeros) and `valid` (none), 3 × 3 and 1 × 3 kernels.
//! [`the_cases_reach_every_branch`] checks the chunk branches from the module's constants.
//!
//! **Tolerance.** `|fast − reference| ≤ 1e-5 · Σ |x·dy| + 1e-6` value by value, the sum of the
//! absolute products behind it (as for the Winograd path): the micro-kernel sums in `f32` in
//! another order than the reference's `f64`, a relative error of a few `ε·√terms` at most.

mod engine_common;

use engine_common::{assert_close, random};
use lumbar_cnn::nn::engine::implicit_im2col::MicroKernel;
use lumbar_cnn::nn::engine::implicit_kernel_gradient::{
    chunk_rows, implicit_kernel_gradient, implicit_kernel_gradient_runs, PARTS, TILE_ROWS,
    TILE_WIDTH,
};
use lumbar_cnn::nn::engine::ConvGeometry;
use lumbar_cnn::nn::reference::conv2d as reference;
use lumbar_cnn::nn::Padding;
use lumbar_cnn::test_notice::notice;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// One case: `n` images of `h × w × c` into `cout` channels, kernel `(kh, kw)`, padding.
#[derive(Clone, Copy, Debug)]
struct Case {
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    cout: usize,
    kernel: (usize, usize),
    padding: Padding,
}

const CASES: [Case; 5] = [
    // Several chunks per image (the last short), two panels of 32, tile rows 14 + … + 12.
    Case {
        n: 2,
        h: 40,
        w: 64,
        c: 32,
        cout: 64,
        kernel: (3, 3),
        padding: Padding::Same,
    },
    // The first layer's shape: 9 values per kernel row, 48 channels (32 + 16 on AVX-512).
    Case {
        n: 3,
        h: 7,
        w: 5,
        c: 3,
        cout: 48,
        kernel: (3, 3),
        padding: Padding::Same,
    },
    // Valid padding, one 16-wide panel.
    Case {
        n: 1,
        h: 9,
        w: 6,
        c: 5,
        cout: 16,
        kernel: (3, 3),
        padding: Padding::Valid,
    },
    // Many one-image chunks: more chunks than parts.
    Case {
        n: 20,
        h: 2,
        w: 2,
        c: 16,
        cout: 32,
        kernel: (3, 3),
        padding: Padding::Same,
    },
    // A 1 × 3 kernel.
    Case {
        n: 2,
        h: 5,
        w: 8,
        c: 8,
        cout: 32,
        kernel: (1, 3),
        padding: Padding::Same,
    },
];

fn geometry(case: &Case) -> ConvGeometry {
    let (kh, kw) = case.kernel;
    match case.padding {
        Padding::Same => ConvGeometry::same(case.h, case.w, case.c, case.kernel),
        Padding::Valid => ConvGeometry {
            h: case.h,
            w: case.w,
            c: case.c,
            kh,
            kw,
            pad_top: 0,
            pad_left: 0,
            ho: case.h - kh + 1,
            wo: case.w - kw + 1,
        },
    }
}

/// Whether this CPU runs the micro-kernel; prints that the test is skipped when it does not.
fn cpu_runs_it(test: &str) -> bool {
    let runs = MicroKernel::Avx512.cpu_has_it();
    if !runs {
        notice(&format!(
            "tests/engine_kernel_gradient.rs: {test} skipped: this CPU lacks AVX-512F"
        ));
    }
    runs
}

#[test]
fn the_kernel_gradient_equals_the_reference_on_every_case() {
    if !cpu_runs_it("the_kernel_gradient_equals_the_reference_on_every_case") {
        return;
    }
    for (i, case) in CASES.iter().enumerate() {
        let g = geometry(case);
        let mut rng = StdRng::seed_from_u64(40 + i as u64);
        let x = random(&[case.n, case.h, case.w, case.c], &mut rng);
        let dy = random(&[case.n, g.ho, g.wo, case.cout], &mut rng);
        let exact = reference::kernel_gradient(&x, &dy, case.kernel, case.padding).unwrap();
        let scale = reference::kernel_gradient(
            &x.mapv(f32::abs),
            &dy.mapv(f32::abs),
            case.kernel,
            case.padding,
        )
        .unwrap();
        {
            assert!(implicit_kernel_gradient_runs(case.cout));
            let dk = implicit_kernel_gradient(
                x.as_slice().unwrap(),
                &g,
                case.n,
                dy.as_slice().unwrap(),
                case.cout,
            );
            assert_close(&dk, &exact, &scale, &format!("{case:?}"));
        }
    }
}

#[test]
fn the_cases_reach_every_branch() {
    let first = geometry(&CASES[0]);
    let rows = chunk_rows(&first, CASES[0].cout);
    assert!(
        rows < first.ho && !first.ho.is_multiple_of(rows),
        "several chunks, the last short"
    );
    let many = geometry(&CASES[3]);
    assert_eq!(
        chunk_rows(&many, CASES[3].cout),
        many.ho,
        "one chunk per image"
    );
    assert!(CASES[3].n > PARTS, "more chunks than parts");
    assert!(CASES[1].n < PARTS, "fewer chunks than parts");
    let segment = |c: &Case| c.kernel.1 * c.c;
    assert!(
        CASES.iter().any(|c| segment(c) % TILE_ROWS != 0),
        "a short tile"
    );
    assert!(CASES.iter().any(|c| segment(c) >= TILE_ROWS), "a full tile");
    assert!(CASES.iter().any(|c| c.cout > TILE_WIDTH), "several panels");
    assert!(
        CASES.iter().any(|c| c.cout % TILE_WIDTH == 16),
        "a 16-wide last panel"
    );
}

#[test]
fn the_result_does_not_depend_on_the_thread_count() {
    let case = CASES[0];
    let g = geometry(&case);
    let mut rng = StdRng::seed_from_u64(7);
    let x = random(&[case.n, case.h, case.w, case.c], &mut rng);
    let dy = random(&[case.n, g.ho, g.wo, case.cout], &mut rng);
    if cpu_runs_it("the_result_does_not_depend_on_the_thread_count") {
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    implicit_kernel_gradient(
                        x.as_slice().unwrap(),
                        &g,
                        case.n,
                        dy.as_slice().unwrap(),
                        case.cout,
                    )
                })
        };
        let one = on(1);
        assert!(one == on(2) && one == on(3), "the bits differ");
    }
}
