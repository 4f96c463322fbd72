//! A diagram of a [`Sequential`] model, drawn top to bottom: one row per *stage* (a group of
//! layers, see [`model_stages`]), each with a box for the tensor it outputs, and beside it the
//! stage's name, its layers, its output shape and its parameter count. The book's chapter 11
//! draws the article's network with it (`examples/11_network_trained.rs`).
//!
//! Everything comes from the model: the shapes from each layer's `output_shape`, the counts
//! from the tensors each layer holds (parameters and state, Keras' count), so the figure cannot
//! drift from the code that builds the network.
//!
//! The boxes: a feature map of `H × W × C` is [`UNIT`] pixels taller per doubling of its side
//! and [`UNIT`] pixels wider per doubling of its channels (log₂ scales: a linear scale from 3 to
//! 32,768 would not fit a page); a vector of `n` numbers is a thin bar as wide as `n` channels.
//! Arrows show the data flow. A last, pale row shows the softmax that the loss and `predict`
//! apply to the output (it is not a layer of the model and has no parameters).
//!
//! Text is 16 pixels high (the title 22); the figure is as wide and as tall as its text and
//! boxes need, drawn at [`SUPERSAMPLING`] times the size and shrunk, so that text is smooth.

use super::supersample::{downsample_rgb, SUPERSAMPLING};
use super::{drawing_error, register_bundled_font, save_rgb_png, FONT, PALETTE};
use crate::error::{Error, Result};
use crate::nn::sequential::group_thousands;
use crate::nn::{Layer, Sequential};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

/// Pixels added to a box's height per doubling of the feature map's side, and to its width
/// per doubling of the channels.
pub const UNIT: f64 = 10.0;
/// Font size (pixels) of the rows and the column headers.
const TEXT: f64 = 16.0;
/// Font size (pixels) of the title.
const TITLE: f64 = 22.0;
/// Smallest box side (pixels): a vector's bar is this thick.
const MIN_BOX: f64 = 6.0;
/// Height (pixels) of a row whose box is lower than the text.
const LINE: i32 = 24;
/// Vertical space (pixels) between two rows, where the arrow goes.
const ROW_GAP: i32 = 20;
/// Horizontal space (pixels) between columns.
const COLUMN_GAP: i32 = 22;
/// Outer margin (pixels).
const MARGIN: i32 = 22;

/// What a stage does, which sets its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageKind {
    /// Convolutions, with whatever follows them up to the next stage (pooling, dropout, …).
    Convolution,
    /// A Flatten layer: feature maps laid out as one vector.
    Flatten,
    /// A dense layer and what follows it (activation, batch norm, dropout).
    Dense,
    /// Any other layer that opens the model.
    Other,
}

/// A group of consecutive layers of a model, drawn as one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// `block 1`, `block 2`, … for convolution stages; the first layer's name otherwise
    /// (Keras' names: `flatten`, `dense`, `dense_1`, …).
    pub name: String,
    /// What the stage does.
    pub kind: StageKind,
    /// The stage's layers as indices into `model.layers()`.
    pub layers: Range<usize>,
    /// Its layers in short, repeats folded: `2 × (conv 3×3 · ReLU · BN) · max pool · dropout`.
    pub description: String,
    /// The shape of one output sample of the stage's last layer (no batch axis).
    pub output_shape: Vec<usize>,
    /// Trained scalars of its layers (kernels, biases, batch norm's γ and β).
    pub trainable: usize,
    /// Scalars its layers hold but do not train (batch norm's running mean and variance).
    pub non_trainable: usize,
}

impl Stage {
    /// All scalars the stage holds, Keras' `Param #`: trainable + non-trainable.
    pub fn parameters(&self) -> usize {
        self.trainable + self.non_trainable
    }
}

/// Whether `layer` opens a new stage after a stage of `current` kind that already holds
/// `pooled` (whether it contains a pooling layer): every Flatten and Dense layer does, and a
/// convolution does unless it continues a convolution stage that has not pooled yet.
fn opens_stage(layer: &dyn Layer, current: Option<StageKind>, pooled: bool) -> bool {
    match layer.kind() {
        "Flatten" | "Dense" => true,
        "Conv2D" => current != Some(StageKind::Convolution) || pooled,
        _ => current.is_none(),
    }
}

/// Split `model` into the stages the diagram draws, first to last: a stage starts at the first
/// layer, at every Flatten and Dense layer, and at a convolution that follows a pooling layer
/// (or anything but a convolution stage); every other layer joins the stage before it. For the
/// article's network: five blocks (two convolutions with their ReLU and batch norm, the
/// pooling and the dropout), `flatten`, and the three dense layers with what follows each.
///
/// Errors when the model has no layer, or a layer rejects its input shape.
pub fn model_stages(model: &Sequential) -> Result<Vec<Stage>> {
    if model.layers().is_empty() {
        return Err(Error::invalid(format!(
            "model {}: no layers to draw",
            model.name()
        )));
    }
    let mut stages: Vec<Stage> = Vec::new();
    let mut pooled = false;
    let mut blocks = 0;
    let mut shape = model.input_shape().to_vec();
    for (i, layer) in model.layers().iter().enumerate() {
        shape = layer.output_shape(&shape)?;
        let current = stages.last().map(|s| s.kind);
        if opens_stage(layer.as_ref(), current, pooled) {
            let kind = match layer.kind() {
                "Conv2D" => StageKind::Convolution,
                "Flatten" => StageKind::Flatten,
                "Dense" => StageKind::Dense,
                _ => StageKind::Other,
            };
            let name = if kind == StageKind::Convolution {
                blocks += 1;
                format!("block {blocks}")
            } else {
                layer.name().to_string()
            };
            stages.push(Stage {
                name,
                kind,
                layers: i..i,
                description: String::new(),
                output_shape: Vec::new(),
                trainable: 0,
                non_trainable: 0,
            });
            pooled = false;
        }
        let stage = stages.last_mut().expect("the first layer opens a stage");
        stage.layers.end = i + 1;
        stage.output_shape = shape.clone();
        stage.trainable += layer.params().iter().map(|p| p.len()).sum::<usize>();
        stage.non_trainable += layer.state().iter().map(|s| s.len()).sum::<usize>();
        pooled |= layer.kind() == "MaxPooling2D";
    }
    for stage in &mut stages {
        let words: Vec<String> = model.layers()[stage.layers.clone()]
            .iter()
            .map(|l| short_name(l.as_ref()))
            .collect();
        stage.description = fold_repeats(&words);
    }
    Ok(stages)
}

/// A layer's short name in the diagram: `conv 3×3` (kernel size from its kernel's shape),
/// `ReLU`, `BN`, `max pool`, `dropout`, `flatten`, `dense`; any other kind as Keras names it.
fn short_name(layer: &dyn Layer) -> String {
    match layer.kind() {
        "Conv2D" => match layer.params().first().map(|p| p.value.shape()) {
            Some([kh, kw, ..]) => format!("conv {kh}×{kw}"),
            _ => "conv".to_string(),
        },
        "ReLU" => "ReLU".to_string(),
        "BatchNormalization" => "BN".to_string(),
        "MaxPooling2D" => "max pool".to_string(),
        "Dropout" => "dropout".to_string(),
        "Flatten" => "flatten".to_string(),
        "Dense" => "dense".to_string(),
        other => other.to_string(),
    }
}

/// Join `words` with ` · `, writing a run of `k ≥ 2` repeats of a group as `k × (group)`
/// (`k × word` for a single word); at each position the run covering the most words wins.
pub fn fold_repeats(words: &[String]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let rest = &words[i..];
        let mut best = (1, 1); // (group length, repeats)
        for len in 1..=rest.len() / 2 {
            let group = &rest[..len];
            let repeats = rest.chunks_exact(len).take_while(|c| *c == group).count();
            if repeats >= 2 && len * repeats > best.0 * best.1 {
                best = (len, repeats);
            }
        }
        let (len, repeats) = best;
        parts.push(match (len, repeats) {
            (_, 1) => rest[0].clone(),
            (1, k) => format!("{k} × {}", rest[0]),
            (_, k) => format!("{k} × ({})", rest[..len].join(" · ")),
        });
        i += len * repeats;
    }
    parts.join(" · ")
}

/// `[128, 128, 32]` → `128 × 128 × 32`; a vector `[32768]` → `32,768`.
fn shape_text(shape: &[usize]) -> String {
    match shape {
        [n] => group_thousands(*n),
        _ => shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(" × "),
    }
}

/// The box of a tensor of `shape`, `(width, height)` in pixels (see the module docs): the last
/// axis counts as channels, the first as the side; a vector has side 1.
pub fn box_size(shape: &[usize]) -> (f64, f64) {
    let log = |n: usize| (n.max(1) as f64).log2();
    let channels = shape.last().copied().unwrap_or(1);
    let side = if shape.len() >= 2 { shape[0] } else { 1 };
    (MIN_BOX + UNIT * log(channels), MIN_BOX + UNIT * log(side))
}

/// One row of the figure, ready to draw.
struct Row {
    cells: [String; 4],
    /// Box width and height, pixels.
    size: (f64, f64),
    /// Top pixel of the row and its height.
    top: i32,
    height: i32,
    fill: RGBColor,
    /// The softmax row: pale, grey text.
    muted: bool,
}

impl Row {
    /// A row of `cells` with the box of a tensor of `shape`, not placed yet.
    fn new(cells: [String; 4], shape: &[usize], fill: RGBColor, muted: bool) -> Self {
        Row {
            cells,
            size: box_size(shape),
            top: 0,
            height: 0,
            fill,
            muted,
        }
    }
}

/// Where everything goes, in final pixels.
struct Layout {
    width: i32,
    height: i32,
    /// Centre x of the boxes' column.
    box_centre: i32,
    /// Left x of the stage, layers and shape columns; right x of the parameters column.
    columns: [i32; 4],
    /// Baseline y of the column headers.
    header: i32,
    rows: Vec<Row>,
    /// The totals under the table and its y centre.
    footer: (String, i32),
}

/// The width in pixels of `text` at `size` pixels.
fn text_width(text: &str, size: f64) -> Result<i32> {
    (FONT, size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w as i32)
        .map_err(|e| Error::invalid(format!("cannot measure the text \"{text}\": {e}")))
}

/// The colour of a stage's box.
fn stage_color(stage: &Stage, last: bool) -> RGBColor {
    match (last, stage.kind) {
        (true, _) => PALETTE[2],
        (_, StageKind::Convolution) => PALETTE[0],
        (_, StageKind::Flatten) => PALETTE[4],
        (_, StageKind::Dense) => PALETTE[1],
        (_, StageKind::Other) => PALETTE[5],
    }
}

const HEADERS: [&str; 4] = ["stage", "layers", "output shape", "parameters"];

/// Lay out the rows: input, the stages of `model`, softmax.
fn layout(model: &Sequential, title: &str) -> Result<Layout> {
    register_bundled_font();
    let stages = model_stages(model)?;
    let input = model.input_shape();
    let output = &stages[stages.len() - 1].output_shape;
    let mut rows = vec![Row::new(
        ["input".into(), String::new(), shape_text(input), "0".into()],
        input,
        RGBColor(170, 170, 170),
        false,
    )];
    for (i, stage) in stages.iter().enumerate() {
        rows.push(Row::new(
            [
                stage.name.clone(),
                stage.description.clone(),
                shape_text(&stage.output_shape),
                group_thousands(stage.parameters()),
            ],
            &stage.output_shape,
            stage_color(stage, i + 1 == stages.len()),
            false,
        ));
    }
    rows.push(Row::new(
        [
            "softmax".into(),
            "in the loss and in predict, not a layer".into(),
            shape_text(output),
            "0".into(),
        ],
        output,
        RGBColor(220, 240, 220),
        true,
    ));

    let box_column = rows
        .iter()
        .map(|r| r.size.0.ceil() as i32)
        .max()
        .unwrap_or(0);
    let mut widths = [0; 4];
    for cells in std::iter::once(&HEADERS.map(String::from)).chain(rows.iter().map(|r| &r.cells)) {
        for (w, cell) in widths.iter_mut().zip(cells) {
            *w = (*w).max(text_width(cell, TEXT)?);
        }
    }
    let box_centre = MARGIN + box_column / 2;
    let mut columns = [0; 4];
    let mut x = MARGIN + box_column + COLUMN_GAP;
    for (column, w) in columns.iter_mut().zip(widths).take(3) {
        *column = x;
        x += w + COLUMN_GAP;
    }
    columns[3] = x + widths[3];
    let (trainable, frozen) = model.parameter_counts();
    let footer_text = format!(
        "total {} parameters = {} trainable + {} non-trainable",
        group_thousands(trainable + frozen),
        group_thousands(trainable),
        group_thousands(frozen)
    );
    let width = (columns[3] + MARGIN)
        .max(2 * MARGIN + text_width(title, TITLE)?)
        .max(columns[0] + text_width(&footer_text, TEXT)? + MARGIN);

    let header = MARGIN + 2 * LINE;
    let mut top = header + LINE;
    for row in &mut rows {
        row.top = top;
        row.height = LINE.max(row.size.1.ceil() as i32);
        top += row.height + ROW_GAP;
    }
    let footer_y = top + LINE / 2 - ROW_GAP / 2;
    Ok(Layout {
        width,
        height: footer_y + LINE / 2 + MARGIN,
        box_centre,
        columns,
        header,
        rows,
        footer: (footer_text, footer_y),
    })
}

/// The `(width, height)` in pixels of the PNG that [`plot_architecture`] writes for `model`.
pub fn architecture_size(model: &Sequential, title: &str) -> Result<(u32, u32)> {
    let l = layout(model, title)?;
    Ok((l.width as u32, l.height as u32))
}

/// Draw the diagram of `model` (see the module docs) under `title` and save it as a PNG at
/// `path`, atomically. Errors (nothing is written) when the model has no layer, a layer
/// rejects its input shape, or the file cannot be written.
pub fn plot_architecture(path: impl AsRef<Path>, model: &Sequential, title: &str) -> Result<()> {
    let (rgb, (width, height)) = render_architecture(model, title)?;
    save_rgb_png(path, &rgb, width, height)
}

/// Draw the diagram into a packed RGB8 buffer (what [`plot_architecture`] saves) and return
/// it with its `(width, height)` in pixels.
pub fn render_architecture(model: &Sequential, title: &str) -> Result<(Vec<u8>, (u32, u32))> {
    let layout = layout(model, title)?;
    let s = SUPERSAMPLING;
    let (width, height) = (layout.width as u32, layout.height as u32);
    let mut big = vec![0u8; (width * s * height * s * 3) as usize];
    draw(&mut big, &layout, title).map_err(|e| drawing_error(title, e))?;
    let rgb = downsample_rgb(&big, width * s, height * s, s)?;
    Ok((rgb, (width, height)))
}

/// The drawing itself at `SUPERSAMPLING` times the layout; plotters errors as text.
fn draw(rgb: &mut [u8], l: &Layout, title: &str) -> std::result::Result<(), String> {
    let s = SUPERSAMPLING as i32;
    let sf = s as f64;
    let size = ((l.width * s) as u32, (l.height * s) as u32);
    let root = BitMapBackend::with_buffer(rgb, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let text = |px: f64, color: RGBColor, h: HPos, bold: bool| {
        let style = if bold {
            FontStyle::Bold
        } else {
            FontStyle::Normal
        };
        (FONT, px * sf, style)
            .into_font()
            .color(&color)
            .pos(Pos::new(h, VPos::Center))
    };
    let put = |t: &str, (x, y): (i32, i32), style: TextStyle| {
        root.draw(&Text::new(t.to_string(), (x * s, y * s), style))
            .map_err(|e| e.to_string())
    };
    put(
        title,
        (l.width / 2, MARGIN + LINE / 2),
        text(TITLE, BLACK, HPos::Center, false),
    )?;
    let grey = RGBColor(110, 110, 110);
    // Every column is left-aligned but the parameter counts; only the stage name is bold.
    let align = [HPos::Left, HPos::Left, HPos::Left, HPos::Right];
    for (i, header) in HEADERS.iter().enumerate() {
        put(
            header,
            (l.columns[i], l.header),
            text(TEXT, grey, align[i], true),
        )?;
    }
    let rule_y = (l.header + LINE / 2 + 2) * s;
    root.draw(&PathElement::new(
        vec![(l.columns[0] * s, rule_y), (l.columns[3] * s, rule_y)],
        grey.stroke_width(s as u32),
    ))
    .map_err(|e| e.to_string())?;

    let cx = (l.box_centre * s) as f64;
    let mut previous_bottom: Option<f64> = None;
    for row in &l.rows {
        let cy = ((row.top * 2 + row.height) * s) as f64 / 2.0;
        let (w, h) = (row.size.0 * sf, row.size.1 * sf);
        let (x0, y0, x1, y1) = (cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0);
        let corners = [(x0 as i32, y0 as i32), (x1 as i32, y1 as i32)];
        root.draw(&Rectangle::new(corners, row.fill.filled()))
            .map_err(|e| e.to_string())?;
        let outline = if row.muted { PALETTE[2] } else { BLACK };
        root.draw(&Rectangle::new(corners, outline.stroke_width(s as u32)))
            .map_err(|e| e.to_string())?;
        if let Some(bottom) = previous_bottom {
            draw_arrow(&root, cx, bottom + 3.0 * sf, y0 - 3.0 * sf, sf)?;
        }
        previous_bottom = Some(y1);
        let ink = if row.muted { grey } else { BLACK };
        let y = row.top + row.height / 2;
        for (i, cell) in row.cells.iter().enumerate() {
            put(cell, (l.columns[i], y), text(TEXT, ink, align[i], i == 0))?;
        }
    }
    put(
        &l.footer.0,
        (l.columns[0], l.footer.1),
        text(TEXT, BLACK, HPos::Left, false),
    )?;
    root.present().map_err(|e| e.to_string())
}

/// A downward arrow at `x` from `y0` to `y1` (drawing pixels), `sf` drawing pixels per final
/// pixel.
fn draw_arrow<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    x: f64,
    y0: f64,
    y1: f64,
    sf: f64,
) -> std::result::Result<(), String> {
    let head = 6.0 * sf;
    let x = x as i32;
    root.draw(&PathElement::new(
        vec![(x, y0 as i32), (x, (y1 - head) as i32)],
        BLACK.stroke_width((1.5 * sf) as u32),
    ))
    .map_err(|e| e.to_string())?;
    let half = (4.0 * sf) as i32;
    root.draw(&Polygon::new(
        vec![
            (x - half, (y1 - head) as i32),
            (x + half, (y1 - head) as i32),
            (x, y1 as i32),
        ],
        BLACK.filled(),
    ))
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn repeats_are_folded() {
        assert_eq!(
            fold_repeats(&words("conv ReLU BN conv ReLU BN pool drop")),
            "2 × (conv · ReLU · BN) · pool · drop"
        );
        assert_eq!(fold_repeats(&words("a a a b")), "3 × a · b");
        assert_eq!(fold_repeats(&words("a b a c")), "a · b · a · c");
        assert_eq!(fold_repeats(&[]), "");
    }

    #[test]
    fn boxes_grow_by_one_unit_per_doubling() {
        let (w, h) = box_size(&[64, 64, 32]);
        let (w2, h2) = box_size(&[128, 128, 64]);
        assert!((w2 - w - UNIT).abs() < 1e-9 && (h2 - h - UNIT).abs() < 1e-9);
        // A vector is a bar of the minimum height, as wide as that many channels.
        assert_eq!(box_size(&[512]), (MIN_BOX + 9.0 * UNIT, MIN_BOX));
    }
}
