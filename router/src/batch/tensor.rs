//! KServe v2 tensor layout: how many bytes a row takes, so that a batch's
//! raw data can be cut back into each caller's rows.

use std::ops::Range;

/// How a datatype's elements sit in raw (binary) tensor data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Every element has this many bytes.
    Fixed(usize),
    /// `BYTES`: each element is a 4-byte little-endian length and its bytes.
    LengthPrefixed,
}

/// The layout of a KServe v2 datatype; `None` for a name KServe does not define.
pub fn layout(datatype: &str) -> Option<Layout> {
    Some(match datatype {
        "BOOL" | "UINT8" | "INT8" => Layout::Fixed(1),
        "UINT16" | "INT16" | "FP16" | "BF16" => Layout::Fixed(2),
        "UINT32" | "INT32" | "FP32" => Layout::Fixed(4),
        "UINT64" | "INT64" | "FP64" => Layout::Fixed(8),
        "BYTES" => Layout::LengthPrefixed,
        _ => return None,
    })
}

/// The number of elements of a shape; `None` for a negative dimension or an
/// overflow.
pub fn element_count(dims: &[i64]) -> Option<usize> {
    dims.iter().try_fold(1usize, |n, &d| {
        usize::try_from(d).ok().and_then(|d| n.checked_mul(d))
    })
}

/// Whether `raw` holds exactly `elements` elements of `layout`.
pub fn holds(layout: Layout, raw: &[u8], elements: usize) -> bool {
    match layout {
        Layout::Fixed(size) => elements.checked_mul(size) == Some(raw.len()),
        Layout::LengthPrefixed => {
            element_ends(raw, elements).is_some_and(|ends| ends.last().copied() == Some(raw.len()))
                || (elements == 0 && raw.is_empty())
        }
    }
}

/// Cuts `raw` (rows of `per_row` elements) into consecutive groups of
/// `rows[i]` rows. `None` when the data does not hold exactly that many.
pub fn cut_rows(
    layout: Layout,
    raw: &[u8],
    per_row: usize,
    rows: &[usize],
) -> Option<Vec<Range<usize>>> {
    let total: usize = rows.iter().sum();
    let elements = total.checked_mul(per_row)?;
    let mut ranges = Vec::with_capacity(rows.len());
    match layout {
        Layout::Fixed(size) => {
            if elements.checked_mul(size)? != raw.len() {
                return None;
            }
            let mut start = 0;
            for &r in rows {
                let end = start + r * per_row * size;
                ranges.push(start..end);
                start = end;
            }
        }
        Layout::LengthPrefixed => {
            let ends = element_ends(raw, elements)?;
            if ends.last().copied().unwrap_or(0) != raw.len() {
                return None;
            }
            let (mut start, mut element) = (0, 0);
            for &r in rows {
                element += r * per_row;
                let end = if element == 0 { 0 } else { ends[element - 1] };
                ranges.push(start..end);
                start = end;
            }
        }
    }
    Some(ranges)
}

/// Cuts a list of `per_row`-element rows (JSON data, typed gRPC contents)
/// into consecutive groups of `rows[i]` rows.
pub fn cut_elements(len: usize, per_row: usize, rows: &[usize]) -> Option<Vec<Range<usize>>> {
    let total: usize = rows.iter().sum();
    if total.checked_mul(per_row)? != len {
        return None;
    }
    let mut start = 0;
    Some(
        rows.iter()
            .map(|&r| {
                let range = start..start + r * per_row;
                start = range.end;
                range
            })
            .collect(),
    )
}

/// The end offset of each of the first `count` length-prefixed elements.
fn element_ends(raw: &[u8], count: usize) -> Option<Vec<usize>> {
    let mut ends = Vec::with_capacity(count);
    let mut at = 0usize;
    for _ in 0..count {
        let len_bytes: [u8; 4] = raw.get(at..at + 4)?.try_into().ok()?;
        let len = u32::from_le_bytes(len_bytes) as usize;
        at = at.checked_add(4 + len)?;
        if at > raw.len() {
            return None;
        }
        ends.push(at);
    }
    Some(ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_tensor(items: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for item in items {
            out.extend_from_slice(&(item.len() as u32).to_le_bytes());
            out.extend_from_slice(item);
        }
        out
    }

    #[test]
    fn layouts() {
        assert_eq!(layout("FP32"), Some(Layout::Fixed(4)));
        assert_eq!(layout("BF16"), Some(Layout::Fixed(2)));
        assert_eq!(layout("BYTES"), Some(Layout::LengthPrefixed));
        assert_eq!(layout("FP8"), None);
    }

    #[test]
    fn counts_reject_negative_dims() {
        assert_eq!(element_count(&[2, 3, 4]), Some(24));
        assert_eq!(element_count(&[]), Some(1));
        assert_eq!(element_count(&[2, -1]), None);
        assert_eq!(element_count(&[i64::MAX, i64::MAX]), None);
    }

    #[test]
    fn fixed_rows_cut_by_bytes() {
        let raw = vec![0u8; 4 * 3 * 5];
        let ranges = cut_rows(Layout::Fixed(4), &raw, 3, &[2, 1, 2]).unwrap();
        assert_eq!(ranges, vec![0..24, 24..36, 36..60]);
        assert_eq!(cut_rows(Layout::Fixed(4), &raw, 3, &[2, 2]), None);
    }

    #[test]
    fn bytes_rows_follow_length_prefixes() {
        let raw = bytes_tensor(&[b"a", b"", b"xyz", b"hello"]);
        let ranges = cut_rows(Layout::LengthPrefixed, &raw, 1, &[1, 2, 1]).unwrap();
        assert_eq!(ranges, vec![0..5, 5..16, 16..25]);
        assert!(holds(Layout::LengthPrefixed, &raw, 4));
        assert!(!holds(Layout::LengthPrefixed, &raw, 3));
        // A length that runs past the end is malformed, not a panic.
        let mut bad = raw.clone();
        bad[0] = 200;
        assert_eq!(cut_rows(Layout::LengthPrefixed, &bad, 1, &[4]), None);
    }

    #[test]
    fn element_lists_cut_by_rows() {
        assert_eq!(cut_elements(12, 4, &[1, 2]), Some(vec![0..4, 4..12]));
        assert_eq!(cut_elements(11, 4, &[1, 2]), None);
    }
}
