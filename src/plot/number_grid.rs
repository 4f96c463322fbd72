//! Small matrices drawn as grids of numbers, side by side and joined by operator symbols: the
//! book's worked examples (chapter 7: input ⊛ kernel = output, and im2col · kernel = output).
//!
//! A [`GridFigure`] is an optional title, one row of [`Panel`]s laid out left to right, and
//! optional lines of notes under them. A panel is a [`NumberGrid`] — a caption above, optional
//! column labels above and row labels left of the cells, one number per cell, each cell with its
//! own fill colour, and outlined blocks of cells — or a [`Panel::Symbol`] such as `⊛`, `·` or
//! `=`. The grids are centred on one horizontal line, so grids of different heights line up.
//!
//! Every size comes from the measured text, so nothing overlaps: a cell is [`CELL`] pixels high
//! and at least [`CELL`] wide (wider when a number or a column label needs it), and a panel is as
//! wide as its widest part (the caption or the labelled cells). Text is 16 to 36 pixels high,
//! black on light fills and white on dark ones. Drawn at [`SUPERSAMPLING`] times the size and
//! shrunk, so that text is smooth.

use super::confusion::text_color_on;
use super::supersample::{downsample_rgb, SUPERSAMPLING};
use super::{drawing_error, register_bundled_font, save_rgb_png, FONT};
use crate::error::{Error, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

/// Height of a cell in pixels, and the narrowest cell.
pub const CELL: u32 = 48;
/// Free pixels on each side of the text inside a cell (or over a column label).
const CELL_PAD: u32 = 8;
/// Font sizes in pixels.
const NUMBER_FONT: f64 = 22.0;
const LABEL_FONT: f64 = 16.0;
const CAPTION_FONT: f64 = 18.0;
const SYMBOL_FONT: f64 = 36.0;
const TITLE_FONT: f64 = 21.0;
const NOTE_FONT: f64 = 17.0;
/// Outer margin, space between panels, and between a grid and its labels or caption (pixels).
const MARGIN: u32 = 20;
const PANEL_GAP: u32 = 18;
const LABEL_GAP: u32 = 6;
/// Width in pixels of the frame drawn by an [`Outline`].
const OUTLINE_WIDTH: u32 = 4;
/// Colour of the row and column labels, and of the thin lines between cells.
const LABEL_INK: RGBColor = RGBColor(90, 90, 90);
const GRID_LINE: RGBColor = RGBColor(160, 160, 160);

/// One cell of a [`NumberGrid`]: its text (usually a number) and its fill colour.
#[derive(Clone, Debug, PartialEq)]
pub struct GridCell {
    /// The text in the middle of the cell.
    pub text: String,
    /// The cell's background.
    pub fill: RGBColor,
}

/// A frame drawn around the block of cells `rows × columns` (half-open ranges of indices).
#[derive(Clone, Debug, PartialEq)]
pub struct Outline {
    /// The rows framed, e.g. `0..3`.
    pub rows: Range<usize>,
    /// The columns framed, e.g. `1..4`.
    pub columns: Range<usize>,
    /// The frame's colour.
    pub color: RGBColor,
}

/// A matrix drawn as a grid of cells (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct NumberGrid {
    /// Text above the grid (empty for none).
    pub caption: String,
    /// The cells, row by row; every row has the same length, at least 1.
    pub cells: Vec<Vec<GridCell>>,
    /// One label per row, drawn left of the row (empty for none).
    pub row_labels: Vec<String>,
    /// One label per column, drawn above the column (empty for none).
    pub column_labels: Vec<String>,
    /// Frames drawn over the cells, in order.
    pub outlines: Vec<Outline>,
}

impl NumberGrid {
    /// A grid of `values` (row-major, `columns` per row) printed by [`format_number`], on white
    /// cells, with no labels or outlines. Errors when `values` is empty or not a whole number of
    /// rows.
    pub fn new(caption: impl Into<String>, values: &[f32], columns: usize) -> Result<NumberGrid> {
        let caption = caption.into();
        if columns == 0 || values.is_empty() || !values.len().is_multiple_of(columns) {
            return Err(Error::invalid(format!(
                "number grid \"{caption}\": {} values do not make whole rows of {columns}",
                values.len()
            )));
        }
        let cells = values
            .chunks(columns)
            .map(|row| {
                row.iter()
                    .map(|&v| GridCell {
                        text: format_number(v),
                        fill: WHITE,
                    })
                    .collect()
            })
            .collect();
        Ok(NumberGrid {
            caption,
            cells,
            row_labels: Vec::new(),
            column_labels: Vec::new(),
            outlines: Vec::new(),
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.cells.len()
    }

    /// Number of columns (of the first row; [`save_grid_figure`] checks that all agree).
    pub fn columns(&self) -> usize {
        self.cells.first().map_or(0, Vec::len)
    }

    /// Label the rows and columns with their indices `0, 1, …`.
    pub fn with_indices(mut self) -> NumberGrid {
        self.row_labels = (0..self.rows()).map(|i| i.to_string()).collect();
        self.column_labels = (0..self.columns()).map(|i| i.to_string()).collect();
        self
    }

    /// Fill the cells `rows × columns` with `color`. Errors when the block is empty or leaves
    /// the grid.
    pub fn fill(
        mut self,
        rows: Range<usize>,
        columns: Range<usize>,
        color: RGBColor,
    ) -> Result<NumberGrid> {
        self.check_block(&rows, &columns)?;
        for row in &mut self.cells[rows] {
            for cell in &mut row[columns.clone()] {
                cell.fill = color;
            }
        }
        Ok(self)
    }

    /// Frame the cells `rows × columns` in `color`. Errors when the block is empty or leaves
    /// the grid.
    pub fn outline(
        mut self,
        rows: Range<usize>,
        columns: Range<usize>,
        color: RGBColor,
    ) -> Result<NumberGrid> {
        self.check_block(&rows, &columns)?;
        self.outlines.push(Outline {
            rows,
            columns,
            color,
        });
        Ok(self)
    }

    /// An error unless `rows × columns` is a non-empty block inside the grid.
    fn check_block(&self, rows: &Range<usize>, columns: &Range<usize>) -> Result<()> {
        if rows.is_empty()
            || columns.is_empty()
            || rows.end > self.rows()
            || columns.end > self.columns()
        {
            return Err(Error::invalid(format!(
                "number grid \"{}\": the block of rows {rows:?} and columns {columns:?} is empty \
                 or leaves the {}×{} grid",
                self.caption,
                self.rows(),
                self.columns()
            )));
        }
        Ok(())
    }
}

/// One element of a [`GridFigure`]'s row.
#[derive(Clone, Debug, PartialEq)]
pub enum Panel {
    /// A matrix as a grid of numbers.
    Grid(NumberGrid),
    /// A large operator symbol between grids, e.g. `"⊛"`, `"·"` or `"="`.
    Symbol(String),
}

/// A figure: a title, a row of panels and notes under them (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct GridFigure {
    /// One line above the panels (empty for none).
    pub title: String,
    /// The panels, left to right; at least one.
    pub panels: Vec<Panel>,
    /// Lines of text under the panels, centred (e.g. the arithmetic of one cell).
    pub notes: Vec<String>,
}

/// `8.0` → `"8"`, `-1.0` → `"−1"` (a typographic minus), `0.25` → `"0.25"`: integers without
/// decimals, other values with up to 3 decimals (trailing zeros dropped).
pub fn format_number(v: f32) -> String {
    let text = if v == v.round() && v.abs() < 1e7 {
        format!("{}", v as i64)
    } else {
        let fixed = format!("{v:.3}");
        fixed
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    };
    text.replacen('-', "−", 1)
}

/// `color` mixed with white: `strength` 1 is the colour itself, 0 is white. Light tints of
/// [`super::PALETTE`] make cell fills on which black text stays legible.
pub fn tint(color: RGBColor, strength: f64) -> RGBColor {
    let t = strength.clamp(0.0, 1.0);
    let mix = |c: u8| (255.0 + (c as f64 - 255.0) * t).round() as u8;
    RGBColor(mix(color.0), mix(color.1), mix(color.2))
}

/// The `(width, height)` in pixels of the PNG that [`save_grid_figure`] writes for `figure`.
pub fn grid_figure_size(figure: &GridFigure) -> Result<(u32, u32)> {
    Ok(layout(figure)?.size)
}

/// Draw `figure` and save it as a PNG of [`grid_figure_size`] at `path`, atomically.
///
/// Errors (nothing is written) when there is no panel, a grid is empty or ragged, has as many
/// row or column labels as neither 0 nor its rows or columns, an outline leaves the grid, or
/// the file cannot be written.
pub fn save_grid_figure(path: impl AsRef<Path>, figure: &GridFigure) -> Result<()> {
    let (rgb, (width, height)) = render_grid_figure(figure)?;
    save_rgb_png(path, &rgb, width, height)
}

/// Draw `figure` into a packed RGB8 buffer (what [`save_grid_figure`] saves) and return it
/// with its `(width, height)` in pixels, with the same checks.
pub fn render_grid_figure(figure: &GridFigure) -> Result<(Vec<u8>, (u32, u32))> {
    let layout = layout(figure)?;
    let s = SUPERSAMPLING;
    let (width, height) = (layout.size.0 * s, layout.size.1 * s);
    let mut big = vec![0u8; (width * height * 3) as usize];
    draw(&mut big, figure, &layout).map_err(|e| drawing_error(&figure.title, e))?;
    let rgb = downsample_rgb(&big, width, height, s)?;
    Ok((rgb, layout.size))
}

/// Where everything goes, in final pixels.
#[derive(Debug)]
struct Layout {
    size: (u32, u32),
    /// Top of the title line, and the y the grids are centred on.
    title_top: u32,
    centre_y: u32,
    /// Top of the first note line, and the height of one note line.
    notes_top: u32,
    note_line: u32,
    panels: Vec<PanelLayout>,
}

/// One panel's place: its left edge and width, and for a grid where its cells go.
#[derive(Debug)]
struct PanelLayout {
    left: u32,
    width: u32,
    /// Left edge of the cells and the width of one cell (grids only; 0 for symbols).
    cells_left: u32,
    cell_width: u32,
}

/// Height of a line of text in a font of `size` pixels.
fn line_height(size: f64) -> u32 {
    (size * 1.25).ceil() as u32
}

/// Width in pixels of `text` in a font of `size` pixels (0 for empty text).
fn text_width(text: &str, size: f64) -> Result<u32> {
    if text.is_empty() {
        return Ok(0);
    }
    (FONT, size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .map_err(|e| Error::invalid(format!("cannot measure the text \"{text}\": {e}")))
}

/// The widest of `texts` in a font of `size` pixels.
fn widest<'a>(texts: impl IntoIterator<Item = &'a String>, size: f64) -> Result<u32> {
    texts
        .into_iter()
        .try_fold(0, |w, t| Ok(w.max(text_width(t, size)?)))
}

/// Check one grid's shape and labels.
fn validate_grid(grid: &NumberGrid) -> Result<()> {
    let (rows, columns) = (grid.rows(), grid.columns());
    let problem = if rows == 0 || columns == 0 {
        Some("it has no cells".to_string())
    } else if grid.cells.iter().any(|row| row.len() != columns) {
        Some("its rows have different lengths".to_string())
    } else if !grid.row_labels.is_empty() && grid.row_labels.len() != rows {
        Some(format!(
            "{} row labels for {rows} rows",
            grid.row_labels.len()
        ))
    } else if !grid.column_labels.is_empty() && grid.column_labels.len() != columns {
        Some(format!(
            "{} column labels for {columns} columns",
            grid.column_labels.len()
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(Error::invalid(format!(
            "number grid \"{}\": {problem}",
            grid.caption
        )));
    }
    grid.outlines
        .iter()
        .try_for_each(|o| grid.check_block(&o.rows, &o.columns))
}

/// The heights above and below the centre line a grid needs: caption and column labels above
/// its upper half, its lower half below.
fn grid_extent(grid: &NumberGrid) -> (u32, u32) {
    let half = grid.rows() as u32 * CELL / 2;
    let mut above = half;
    if !grid.column_labels.is_empty() {
        above += line_height(LABEL_FONT) + LABEL_GAP;
    }
    if !grid.caption.is_empty() {
        above += line_height(CAPTION_FONT) + LABEL_GAP;
    }
    (above, grid.rows() as u32 * CELL - half)
}

/// Compute the [`Layout`], checking the figure first.
fn layout(figure: &GridFigure) -> Result<Layout> {
    register_bundled_font();
    if figure.panels.is_empty() {
        return Err(Error::invalid(format!(
            "grid figure \"{}\": needs at least one panel",
            figure.title
        )));
    }
    let (mut panels, mut x, mut above, mut below) = (Vec::new(), 0u32, 0u32, 0u32);
    for panel in &figure.panels {
        let placed = match panel {
            Panel::Grid(grid) => {
                validate_grid(grid)?;
                let numbers = widest(grid.cells.iter().flatten().map(|c| &c.text), NUMBER_FONT)?;
                let labels = widest(&grid.column_labels, LABEL_FONT)?;
                let cell_width = CELL.max(numbers.max(labels) + 2 * CELL_PAD);
                let row_labels = match widest(&grid.row_labels, LABEL_FONT)? {
                    0 => 0,
                    w => w + LABEL_GAP,
                };
                let body = row_labels + grid.columns() as u32 * cell_width;
                let width = body.max(text_width(&grid.caption, CAPTION_FONT)?);
                let (a, b) = grid_extent(grid);
                (above, below) = (above.max(a), below.max(b));
                PanelLayout {
                    left: x,
                    width,
                    cells_left: x + (width - body) / 2 + row_labels,
                    cell_width,
                }
            }
            Panel::Symbol(symbol) => {
                let half = line_height(SYMBOL_FONT) / 2;
                (above, below) = (above.max(half), below.max(half));
                PanelLayout {
                    left: x,
                    width: text_width(symbol, SYMBOL_FONT)?,
                    cells_left: 0,
                    cell_width: 0,
                }
            }
        };
        x = placed.left + placed.width + PANEL_GAP;
        panels.push(placed);
    }
    let content = x - PANEL_GAP;
    let notes = widest(&figure.notes, NOTE_FONT)?;
    let inner = content
        .max(notes)
        .max(text_width(&figure.title, TITLE_FONT)?);
    // Centre the row of panels in the figure.
    let shift = MARGIN + (inner - content) / 2;
    for p in &mut panels {
        p.left += shift;
        if p.cell_width > 0 {
            p.cells_left += shift;
        }
    }
    let title_block = if figure.title.is_empty() {
        0
    } else {
        line_height(TITLE_FONT) + PANEL_GAP
    };
    let note_line = line_height(NOTE_FONT);
    let notes_block = if figure.notes.is_empty() {
        0
    } else {
        PANEL_GAP + figure.notes.len() as u32 * note_line
    };
    let centre_y = MARGIN + title_block + above;
    Ok(Layout {
        size: (2 * MARGIN + inner, centre_y + below + notes_block + MARGIN),
        title_top: MARGIN,
        centre_y,
        notes_top: centre_y + below + PANEL_GAP,
        note_line,
        panels,
    })
}

/// The drawing itself at `SUPERSAMPLING` times the layout's size; plotters errors as text.
fn draw(rgb: &mut [u8], figure: &GridFigure, layout: &Layout) -> std::result::Result<(), String> {
    let s = SUPERSAMPLING;
    let (sf, si) = (s as f64, s as i32);
    let px = |v: u32| (v * s) as i32;
    let (width, height) = layout.size;
    let root = BitMapBackend::with_buffer(rgb, (width * s, height * s)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let text = |content: &str, at: (i32, i32), size: f64, color: RGBColor, pos: Pos| {
        let style = (FONT, size * sf).into_font().color(&color).pos(pos);
        root.draw(&Text::new(content.to_string(), at, style))
            .map_err(|e| e.to_string())
    };
    let centred = Pos::new(HPos::Center, VPos::Center);
    let top = Pos::new(HPos::Center, VPos::Top);
    let middle = px(width / 2);
    if !figure.title.is_empty() {
        text(
            &figure.title,
            (middle, px(layout.title_top)),
            TITLE_FONT,
            BLACK,
            top,
        )?;
    }
    for (k, note) in figure.notes.iter().enumerate() {
        let y = layout.notes_top + k as u32 * layout.note_line;
        text(note, (middle, px(y)), NOTE_FONT, BLACK, top)?;
    }
    for (panel, place) in figure.panels.iter().zip(&layout.panels) {
        let grid = match panel {
            Panel::Symbol(symbol) => {
                let at = (px(place.left + place.width / 2), px(layout.centre_y));
                text(symbol, at, SYMBOL_FONT, BLACK, centred)?;
                continue;
            }
            Panel::Grid(grid) => grid,
        };
        let (rows, columns) = (grid.rows() as u32, grid.columns() as u32);
        let (x0, y0) = (place.cells_left, layout.centre_y - rows * CELL / 2);
        let (x1, y1) = (x0 + columns * place.cell_width, y0 + rows * CELL);
        let cell_x = |j: u32| x0 + j * place.cell_width;
        for (i, row) in grid.cells.iter().enumerate() {
            for (j, cell) in row.iter().enumerate() {
                let (cx, cy) = (cell_x(j as u32), y0 + i as u32 * CELL);
                root.draw(&Rectangle::new(
                    [(px(cx), px(cy)), (px(cx + place.cell_width), px(cy + CELL))],
                    cell.fill.filled(),
                ))
                .map_err(|e| e.to_string())?;
                let at = (px(cx + place.cell_width / 2), px(cy + CELL / 2));
                text(
                    &cell.text,
                    at,
                    NUMBER_FONT,
                    text_color_on(cell.fill),
                    centred,
                )?;
            }
        }
        // Thin lines between the cells and around the grid (one final pixel wide).
        let line = |a: (i32, i32), b: (i32, i32)| {
            root.draw(&Rectangle::new([a, b], GRID_LINE.filled()))
                .map_err(|e| e.to_string())
        };
        for i in 0..=rows {
            let y = px(y0 + i * CELL);
            line((px(x0), y - si / 2), (px(x1), y - si / 2 + si))?;
        }
        for j in 0..=columns {
            let x = px(cell_x(j));
            line((x - si / 2, px(y0)), (x - si / 2 + si, px(y1)))?;
        }
        for outline in &grid.outlines {
            let t = (OUTLINE_WIDTH * s) as i32;
            let (ox0, oy0) = (
                px(cell_x(outline.columns.start as u32)) - t / 2,
                px(y0 + outline.rows.start as u32 * CELL) - t / 2,
            );
            let (ox1, oy1) = (
                px(cell_x(outline.columns.end as u32)) + t / 2,
                px(y0 + outline.rows.end as u32 * CELL) + t / 2,
            );
            let ink = outline.color.filled();
            for bar in [
                [(ox0, oy0), (ox1, oy0 + t)],
                [(ox0, oy1 - t), (ox1, oy1)],
                [(ox0, oy0), (ox0 + t, oy1)],
                [(ox1 - t, oy0), (ox1, oy1)],
            ] {
                root.draw(&Rectangle::new(bar, ink))
                    .map_err(|e| e.to_string())?;
            }
        }
        let label_right = Pos::new(HPos::Right, VPos::Center);
        for (i, label) in grid.row_labels.iter().enumerate() {
            let at = (px(x0 - LABEL_GAP), px(y0 + i as u32 * CELL + CELL / 2));
            text(label, at, LABEL_FONT, LABEL_INK, label_right)?;
        }
        let mut above = y0;
        if !grid.column_labels.is_empty() {
            above -= LABEL_GAP + line_height(LABEL_FONT);
            for (j, label) in grid.column_labels.iter().enumerate() {
                let at = (
                    px(cell_x(j as u32) + place.cell_width / 2),
                    px(above + line_height(LABEL_FONT) / 2),
                );
                text(label, at, LABEL_FONT, LABEL_INK, centred)?;
            }
        }
        if !grid.caption.is_empty() {
            above -= LABEL_GAP + line_height(CAPTION_FONT);
            let at = (px(place.left + place.width / 2), px(above));
            text(&grid.caption, at, CAPTION_FONT, BLACK, top)?;
        }
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(panels: Vec<Panel>) -> GridFigure {
        GridFigure {
            title: "A title".to_string(),
            panels,
            notes: vec!["a note".to_string()],
        }
    }

    #[test]
    fn numbers_are_printed_without_needless_decimals() {
        assert_eq!(format_number(8.0), "8");
        assert_eq!(format_number(-1.0), "−1");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(-2.5), "−2.5");
        assert_eq!(format_number(1.0 / 3.0), "0.333");
        assert_eq!(tint(RGBColor(0, 100, 255), 0.0), WHITE);
        assert_eq!(tint(RGBColor(0, 100, 255), 1.0), RGBColor(0, 100, 255));
        assert_eq!(tint(RGBColor(55, 255, 255), 0.5), RGBColor(155, 255, 255));
    }

    #[test]
    fn panels_do_not_overlap_and_wide_text_widens_cells() {
        register_bundled_font();
        let small = NumberGrid::new("x", &[1.0, 2.0, 3.0, 4.0], 2)
            .unwrap()
            .with_indices();
        let wide =
            NumberGrid::new("a caption much wider than its one cell", &[123456.0], 1).unwrap();
        let f = figure(vec![
            Panel::Grid(small),
            Panel::Symbol("=".to_string()),
            Panel::Grid(wide),
        ]);
        let layout = layout(&f).unwrap();
        for pair in layout.panels.windows(2) {
            assert_eq!(pair[0].left + pair[0].width + PANEL_GAP, pair[1].left);
        }
        assert_eq!(layout.panels[0].cell_width, CELL);
        let number = text_width("123456", NUMBER_FONT).unwrap();
        assert_eq!(layout.panels[2].cell_width, number + 2 * CELL_PAD);
        let caption = text_width("a caption much wider than its one cell", CAPTION_FONT);
        assert_eq!(layout.panels[2].width, caption.unwrap());
        let last = layout.panels.last().unwrap();
        assert_eq!(layout.size.0, last.left + last.width + MARGIN);
    }

    #[test]
    fn fills_and_outlines_are_drawn_where_the_cells_are() {
        let red = RGBColor(214, 39, 40);
        let grid = NumberGrid::new("", &[1.0, 2.0, 3.0, 4.0], 2)
            .unwrap()
            .fill(1..2, 0..1, tint(red, 0.3))
            .unwrap()
            .outline(0..1, 1..2, red)
            .unwrap();
        let f = figure(vec![Panel::Grid(grid)]);
        let layout = layout(&f).unwrap();
        let (rgb, (width, height)) = render_grid_figure(&f).unwrap();
        assert_eq!((width, height), grid_figure_size(&f).unwrap());
        let pixel = |x: u32, y: u32| {
            let at = ((y * width + x) * 3) as usize;
            RGBColor(rgb[at], rgb[at + 1], rgb[at + 2])
        };
        let (x0, y0) = (layout.panels[0].cells_left, layout.centre_y - CELL);
        // Cell (1, 0): near its corner (away from the digit), the tint.
        assert_eq!(pixel(x0 + 5, y0 + CELL + 5), tint(red, 0.3));
        // Cell (0, 0) stays white; the frame of cell (0, 1) is red on its left edge.
        assert_eq!(pixel(x0 + 5, y0 + 5), WHITE);
        assert_eq!(pixel(x0 + CELL, y0 + CELL / 4), red);
    }

    #[test]
    fn bad_grids_and_figures_are_errors() {
        assert!(NumberGrid::new("x", &[1.0, 2.0, 3.0], 2).is_err());
        assert!(NumberGrid::new("x", &[], 1).is_err());
        assert!(NumberGrid::new("x", &[1.0], 0).is_err());
        let grid = NumberGrid::new("x", &[1.0, 2.0, 3.0, 4.0], 2).unwrap();
        assert!(grid.clone().fill(0..3, 0..1, WHITE).is_err());
        assert!(grid.clone().outline(1..1, 0..1, WHITE).is_err());
        assert!(grid_figure_size(&figure(vec![])).is_err());
        let mut ragged = grid.clone();
        ragged.cells[1].pop();
        assert!(grid_figure_size(&figure(vec![Panel::Grid(ragged)])).is_err());
        let mut labels = grid.clone();
        labels.row_labels = vec!["only one".to_string()];
        assert!(grid_figure_size(&figure(vec![Panel::Grid(labels)])).is_err());
        let mut outline = grid;
        outline.outlines.push(Outline {
            rows: 0..1,
            columns: 1..3,
            color: BLACK,
        });
        assert!(grid_figure_size(&figure(vec![Panel::Grid(outline)])).is_err());
    }
}
