//! The architecture diagram (`lumbar_cnn::plot::architecture`): the stages it draws cover the
//! model's layers exactly once, carry the model's shapes and parameter counts (checked against
//! the Keras summary of the article's network), and the PNG has the size the layout promises.

use image::RgbImage;
use lumbar_cnn::model::paper_cnn;
use lumbar_cnn::nn::{Conv2d, Dense, Flatten, MaxPool2d, Padding, Relu, Sequential};
use lumbar_cnn::plot::architecture::{
    architecture_size, model_stages, plot_architecture, Stage, StageKind,
};
use lumbar_cnn::plot::PALETTE;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The stages' layer ranges, in order, must tile `0..layers` without gap or overlap.
fn assert_tiles_the_layers(stages: &[Stage], layers: usize) {
    let mut next = 0;
    for stage in stages {
        assert_eq!(stage.layers.start, next, "stage {} starts late", stage.name);
        assert!(
            stage.layers.end > stage.layers.start,
            "{} is empty",
            stage.name
        );
        next = stage.layers.end;
    }
    assert_eq!(next, layers, "the stages miss the last layers");
}

#[test]
fn stages_of_the_article_network_carry_its_shapes_and_counts() {
    let model = paper_cnn(256, 1).unwrap();
    let stages = model_stages(&model).unwrap();
    assert_tiles_the_layers(&stages, model.layers().len());

    // Output shapes: the article's table of blocks, and Keras' summary of the notebook's model
    // (Flatten 32,768, Dense 512, 256, 3).
    let shapes: Vec<(&str, Vec<usize>)> = stages
        .iter()
        .map(|s| (s.name.as_str(), s.output_shape.clone()))
        .collect();
    let expected: Vec<(&str, Vec<usize>)> = vec![
        ("block 1", vec![128, 128, 32]),
        ("block 2", vec![64, 64, 64]),
        ("block 3", vec![32, 32, 128]),
        ("block 4", vec![16, 16, 256]),
        ("block 5", vec![8, 8, 512]),
        ("flatten", vec![32768]),
        ("dense", vec![512]),
        ("dense_1", vec![256]),
        ("dense_2", vec![3]),
    ];
    assert_eq!(shapes, expected);
    assert_eq!(
        stages.last().unwrap().output_shape,
        model.output_shape().unwrap()
    );

    // Counts: the stages add up to the model's totals, and to Keras' 21,627,555 + 5,504.
    let (trainable, frozen) = model.parameter_counts();
    assert_eq!(stages.iter().map(|s| s.trainable).sum::<usize>(), trainable);
    assert_eq!(
        stages.iter().map(|s| s.non_trainable).sum::<usize>(),
        frozen
    );
    assert_eq!((trainable, frozen), (21_627_555, 5_504));
    // Block 1 by hand: conv 3·3·3·32+32 = 896, conv 3·3·32·32+32 = 9,248, two BN of 4·32.
    assert_eq!(stages[0].parameters(), 896 + 9_248 + 2 * 128);
    assert_eq!(stages[0].non_trainable, 2 * 2 * 32);
    // The first dense layer: 32,768·512 + 512, and its batch norm 4·512.
    assert_eq!(stages[6].parameters(), 32_768 * 512 + 512 + 4 * 512);
    assert_eq!(stages[5].parameters(), 0);

    assert_eq!(
        stages[0].description,
        "2 × (conv 3×3 · ReLU · BN) · max pool · dropout"
    );
    assert_eq!(stages[6].description, "dense · ReLU · BN · dropout");
    assert_eq!(stages[8].description, "dense");
    let kinds: Vec<StageKind> = stages.iter().map(|s| s.kind).collect();
    assert_eq!(kinds[..5], [StageKind::Convolution; 5]);
    assert_eq!(kinds[5], StageKind::Flatten);
    assert_eq!(kinds[6..], [StageKind::Dense; 3]);
}

#[test]
fn shapes_follow_the_input_size() {
    // 64 px: five poolings leave 2 × 2, Flatten 2·2·512 = 2,048.
    let model = paper_cnn(64, 1).unwrap();
    let stages = model_stages(&model).unwrap();
    assert_eq!(stages[4].output_shape, vec![2, 2, 512]);
    assert_eq!(stages[5].output_shape, vec![2048]);
    assert_eq!(stages[6].parameters(), 2048 * 512 + 512 + 4 * 512);
    let (trainable, frozen) = model.parameter_counts();
    assert_eq!(
        stages.iter().map(Stage::parameters).sum::<usize>(),
        trainable + frozen
    );
}

#[test]
fn a_convolution_after_a_pooling_opens_a_new_block() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Sequential::new("small", &[8, 8, 1]);
    model
        .push(Conv2d::new("c0", (3, 3), 1, 4, Padding::Same, &mut rng))
        .unwrap();
    model.push(Relu::new("r0")).unwrap();
    model
        .push(Conv2d::new("c1", (1, 1), 4, 4, Padding::Same, &mut rng))
        .unwrap();
    model.push(MaxPool2d::new("p0")).unwrap();
    model
        .push(Conv2d::new("c2", (3, 3), 4, 6, Padding::Valid, &mut rng))
        .unwrap();
    model.push(Flatten::new("f")).unwrap();
    model.push(Dense::new("d", 2 * 2 * 6, 2, &mut rng)).unwrap();
    let stages = model_stages(&model).unwrap();
    assert_tiles_the_layers(&stages, 7);
    let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["block 1", "block 2", "f", "d"]);
    assert_eq!(
        stages[0].description,
        "conv 3×3 · ReLU · conv 1×1 · max pool"
    );
    assert_eq!(stages[0].output_shape, vec![4, 4, 4]);
    assert_eq!(stages[1].output_shape, vec![2, 2, 6]);
    assert_eq!(stages[1].parameters(), 3 * 3 * 4 * 6 + 6);
    assert_eq!(stages[3].output_shape, vec![2]);
}

#[test]
fn a_model_without_layers_is_an_error() {
    let model = Sequential::new("empty", &[8, 8, 3]);
    let e = model_stages(&model).unwrap_err().to_string();
    assert!(e.contains("no layers"), "{e}");
    let path = std::env::temp_dir().join(format!("lumbar-arch-empty-{}.png", std::process::id()));
    assert!(plot_architecture(&path, &model, "empty").is_err());
    assert!(!path.exists(), "nothing may be written for a failed figure");
}

#[test]
fn the_png_has_the_promised_size_and_one_blue_box_per_block() {
    let model = paper_cnn(256, 1).unwrap();
    let title = "The article's network";
    let dir = std::env::temp_dir().join(format!("lumbar-plot-arch-{}", std::process::id()));
    let path = dir.join("architecture.png");
    plot_architecture(&path, &model, title).unwrap();
    let img: RgbImage = image::open(&path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), architecture_size(&model, title).unwrap());
    // Count the blue boxes down the box column's centre line: runs of the block colour.
    let blue = PALETTE[0];
    let x = (0..img.width())
        .max_by_key(|&x| {
            (0..img.height())
                .filter(|&y| img.get_pixel(x, y).0 == [blue.0, blue.1, blue.2])
                .count()
        })
        .unwrap();
    let mut runs = 0;
    let mut inside = false;
    for y in 0..img.height() {
        let is_blue = img.get_pixel(x, y).0 == [blue.0, blue.1, blue.2];
        if is_blue && !inside {
            runs += 1;
        }
        inside = is_blue;
    }
    assert_eq!(runs, 5, "expected one blue box per convolution block");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
}
