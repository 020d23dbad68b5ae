//! Finds the line of a field path in YAML source text, for error messages
//! about values that parsed but do not make sense. It reads block-style YAML
//! by indentation; for anything it cannot follow (flow style, anchors) it
//! answers the line of the deepest parent it found.

use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

impl PathSegment {
    pub fn key(k: &str) -> Self {
        Self::Key(k.to_owned())
    }

    pub fn render(path: &[PathSegment]) -> String {
        let mut out = String::new();
        for segment in path {
            match segment {
                Self::Key(k) if out.is_empty() => out.push_str(k),
                Self::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Self::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }
}

/// One non-blank, non-comment line, reduced to its structure.
struct Line<'a> {
    number: usize,
    /// Column of a leading `- `, if the line starts a sequence item.
    dash_col: Option<usize>,
    key_col: usize,
    key: Option<&'a str>,
}

impl Line<'_> {
    fn col(&self) -> usize {
        self.dash_col.unwrap_or(self.key_col)
    }
}

fn scan(text: &str) -> Vec<Line<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let indent = raw.len() - raw.trim_start_matches(' ').len();
            let rest = &raw[indent..];
            if rest.is_empty() || rest.starts_with('#') {
                return None;
            }
            let (dash_col, key_col, body) = match rest.strip_prefix('-') {
                Some(after) if after.is_empty() || after.starts_with(' ') => {
                    let trimmed = after.trim_start_matches(' ');
                    let key_col = indent + 1 + (after.len() - trimmed.len());
                    (Some(indent), key_col, trimmed)
                }
                _ => (None, indent, rest),
            };
            Some(Line {
                number: i + 1,
                dash_col,
                key_col,
                key: mapping_key(body),
            })
        })
        .collect()
}

fn mapping_key(body: &str) -> Option<&str> {
    let colon = body
        .find(": ")
        .or_else(|| body.strip_suffix(':').map(|k| k.len()))?;
    let key = body[..colon].trim();
    let key = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
        .unwrap_or(key);
    (!key.is_empty()).then_some(key)
}

pub fn locate_line(text: &str, path: &[PathSegment]) -> Option<usize> {
    let lines = scan(text);
    let mut range = 0..lines.len();
    let mut found = None;
    for segment in path {
        let region = &lines[range.clone()];
        let hit = match segment {
            PathSegment::Key(k) => {
                let col = region
                    .iter()
                    .filter(|l| l.key.is_some())
                    .map(|l| l.key_col)
                    .min();
                col.and_then(|col| {
                    region
                        .iter()
                        .position(|l| l.key_col == col && l.key == Some(k.as_str()))
                        .map(|i| (i, col))
                })
                .map(|(i, col)| {
                    // Children: deeper lines, or a sequence written at the
                    // key's own indentation (`key:\n- item`).
                    let end = region[i + 1..]
                        .iter()
                        .position(|l| l.col() < col || (l.col() == col && l.dash_col.is_none()))
                        .map_or(region.len(), |j| i + 1 + j);
                    (i, i + 1..end)
                })
            }
            PathSegment::Index(n) => {
                let col = region.iter().filter_map(|l| l.dash_col).min();
                col.and_then(|col| {
                    let items: Vec<usize> = region
                        .iter()
                        .enumerate()
                        .filter(|(_, l)| l.dash_col == Some(col))
                        .map(|(i, _)| i)
                        .collect();
                    let start = *items.get(*n)?;
                    let end = region[start + 1..]
                        .iter()
                        .position(|l| l.col() <= col)
                        .map_or(region.len(), |j| start + 1 + j);
                    // The item's first key sits on its dash line.
                    Some((start, start..end))
                })
            }
        };
        match hit {
            Some((i, children)) => {
                found = Some(region[i].number);
                range = range.start + children.start..range.start + children.end;
            }
            None => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "\
server:
  workers: 1
pools:
  gpu:
    policy: round_robin
    endpoints:
      - url: http://a:8000
        weight: 2
      - url: http://b:8000
        kind: vllm
  cpu:
    endpoints:
    - url: http://c:8000
models:
  llama:
    pool: gpu
";

    fn path(s: &[&str]) -> Vec<PathSegment> {
        s.iter()
            .map(|p| match p.parse::<usize>() {
                Ok(i) => PathSegment::Index(i),
                Err(_) => PathSegment::key(p),
            })
            .collect()
    }

    #[test]
    fn finds_nested_keys_and_items() {
        assert_eq!(locate_line(YAML, &path(&["server", "workers"])), Some(2));
        assert_eq!(
            locate_line(YAML, &path(&["pools", "gpu", "endpoints", "0", "url"])),
            Some(7)
        );
        assert_eq!(
            locate_line(YAML, &path(&["pools", "gpu", "endpoints", "0", "weight"])),
            Some(8)
        );
        assert_eq!(
            locate_line(YAML, &path(&["pools", "gpu", "endpoints", "1", "kind"])),
            Some(10)
        );
        assert_eq!(
            locate_line(YAML, &path(&["pools", "cpu", "endpoints", "0", "url"])),
            Some(13)
        );
        assert_eq!(
            locate_line(YAML, &path(&["models", "llama", "pool"])),
            Some(16)
        );
    }

    #[test]
    fn falls_back_to_the_deepest_parent() {
        assert_eq!(
            locate_line(YAML, &path(&["pools", "gpu", "endpoints", "5"])),
            Some(6)
        );
        assert_eq!(
            locate_line(YAML, &path(&["models", "llama", "served_name"])),
            Some(15)
        );
        assert_eq!(locate_line(YAML, &path(&["nope"])), None);
    }

    #[test]
    fn renders_paths() {
        assert_eq!(
            PathSegment::render(&path(&["pools", "gpu", "endpoints", "0", "url"])),
            "pools.gpu.endpoints[0].url"
        );
    }
}
