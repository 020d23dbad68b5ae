//! Legends drawn in a strip below the plot, in a grid, so they never hide data (plotters'
//! own legend box sits inside the plotting area).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::font;

/// How a legend item's sample looks.
#[derive(Debug, Clone, Copy)]
pub(super) enum Marker {
    Line(RGBColor),
    Dashed(RGBColor),
    Dot(RGBColor),
    Cross(RGBColor),
    Bar(RGBColor),
    LightBar(RGBColor),
}

pub(super) struct Item {
    pub(super) marker: Marker,
    pub(super) label: String,
}

pub(super) fn item(marker: Marker, label: impl Into<String>) -> Item {
    Item {
        marker,
        label: label.into(),
    }
}

const ROW: i32 = 22;
const MARKER_W: i32 = 24;
const TEXT_GAP: i32 = 8;
const COL_GAP: i32 = 28;
/// Left edge of the legend: lines up with the plotting area (chart margin + y label area).
const LEFT: i32 = 84;
const RIGHT: i32 = 24;

fn style() -> TextStyle<'static> {
    font(14.0).pos(Pos::new(HPos::Left, VPos::Center))
}

/// Grid layout of a legend on `area`: (columns, rows, column width).
fn layout<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[Item],
) -> DrawResult<(usize, usize, i32), DB> {
    if items.is_empty() {
        return Ok((1, 0, 0));
    }
    let style = style();
    let mut widest = 0;
    for it in items {
        let (tw, _) = area.estimate_text_size(&it.label, &style)?;
        widest = widest.max(tw as i32);
    }
    let col_w = MARKER_W + TEXT_GAP + widest + COL_GAP;
    let (w, _) = area.dim_in_pixel();
    let avail = (w as i32 - LEFT - RIGHT).max(col_w);
    let cols = (avail / col_w).clamp(1, items.len() as i32) as usize;
    Ok((cols, items.len().div_ceil(cols), col_w))
}

/// How many rows the legend of `items` takes on `area`.
pub(super) fn rows<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[Item],
) -> DrawResult<usize, DB> {
    Ok(layout(area, items)?.1)
}

/// Draws `items` in a grid at the bottom of `area` and returns the area above them.
pub(super) fn below<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[Item],
) -> DrawResult<DrawingArea<DB, Shift>, DB> {
    below_rows(area, items, 0)
}

/// Like [`below`], taking at least `min_rows` rows (so side-by-side panels line up).
pub(super) fn below_rows<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[Item],
    min_rows: usize,
) -> DrawResult<DrawingArea<DB, Shift>, DB> {
    let (cols, rows, col_w) = layout(area, items)?;
    let rows = rows.max(min_rows);
    if rows == 0 {
        return Ok(area.clone());
    }
    let (_, h) = area.dim_in_pixel();
    let strip = rows as i32 * ROW + 6;
    let (top, bottom) = area.split_vertically((h as i32 - strip).max(0));
    let style = style();
    for (i, it) in items.iter().enumerate() {
        let (r, c) = ((i / cols) as i32, (i % cols) as i32);
        let x = LEFT + c * col_w;
        let y = r * ROW + ROW / 2;
        draw_marker(&bottom, it.marker, x, y)?;
        bottom.draw(&Text::new(
            it.label.clone(),
            (x + MARKER_W + TEXT_GAP, y),
            style.clone(),
        ))?;
    }
    Ok(top)
}

fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    marker: Marker,
    x: i32,
    y: i32,
) -> DrawResult<(), DB> {
    let mid = x + MARKER_W / 2;
    match marker {
        Marker::Line(c) => area.draw(&PathElement::new(
            vec![(x, y), (x + MARKER_W, y)],
            c.stroke_width(3),
        )),
        Marker::Dashed(c) => {
            for dx in [0, 9, 18] {
                area.draw(&PathElement::new(
                    vec![(x + dx, y), (x + dx + 6, y)],
                    c.stroke_width(2),
                ))?;
            }
            Ok(())
        }
        Marker::Dot(c) => area.draw(&Circle::new((mid, y), 4, c.filled())),
        Marker::Cross(c) => area.draw(&Cross::new((mid, y), 5, c.stroke_width(2))),
        Marker::Bar(c) => area.draw(&Rectangle::new(
            [(x + 3, y - 7), (x + MARKER_W - 3, y + 7)],
            c.filled(),
        )),
        Marker::LightBar(c) => area.draw(&Rectangle::new(
            [(x + 3, y - 7), (x + MARKER_W - 3, y + 7)],
            c.mix(0.4).filled(),
        )),
    }
}
