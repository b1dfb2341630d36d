//! Finds the line of a field path (`workloads[1].requests.cpu`) in scenario text.
//!
//! The YAML parser reports a value's own bad syntax at the value, but errors raised while
//! converting a scalar (a bad quantity or duration) carry the position of the enclosing
//! mapping, and cross-field checks run after parsing. Walking the path through the text by
//! indentation and keys recovers the line for the usual block and flow layouts.

/// One step of a field path.
#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        while let Some((index, after)) = rest.split_once(']') {
            if let Ok(i) = index.parse() {
                out.push(Segment::Index(i));
            }
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// Columns (0-based) of `key` and just after `key:` in `line` from `from` on, if `key` is a
/// mapping key there.
fn key_at(line: &str, key: &str, from: usize) -> Option<(usize, usize)> {
    let hay = line.get(from..)?;
    let mut start = 0;
    while let Some(pos) = hay[start..].find(key) {
        let at = start + pos;
        let before = hay[..at].chars().last();
        let after = hay[at + key.len()..].trim_start_matches(['"', '\'']);
        let boundary =
            before.is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '-' | '"' | '\''));
        if boundary && after.starts_with(':') {
            return Some((from + at, from + at + key.len() + 1));
        }
        start = at + key.len();
    }
    None
}

/// 1-based line and column of the field at `path`, or of the deepest part of the path that
/// can be found (a missing list item: the list); `None` if not even the first key is there.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    // Current position: line index, column, and the indentation children must exceed.
    let (mut row, mut col, mut parent): (usize, usize, Option<usize>) = (0, 0, None);
    let mut start = 0;
    let mut found_any = false;
    for seg in segments(path) {
        match seg {
            Segment::Key(key) => {
                let hit = (row..lines.len()).find_map(|r| {
                    let from = if r == row { col } else { 0 };
                    let line = lines[r];
                    if r != row && is_content(line) && parent.is_some_and(|p| indent(line) <= p) {
                        return Some(None);
                    }
                    key_at(line, key, from).map(|c| Some((r, c)))
                });
                let Some(Some((r, (k, c)))) = hit else { break };
                parent = Some(indent(lines[r]));
                (row, col, start) = (r, c, k);
            }
            Segment::Index(n) => {
                // Block sequence items: `- ` lines at one indentation, after the current key.
                let mut seen = 0;
                let mut item_indent = None;
                let mut found = None;
                for (r, line) in lines.iter().enumerate().skip(row + 1) {
                    if !is_content(line) {
                        continue;
                    }
                    let ind = indent(line);
                    if parent.is_some_and(|p| ind < p)
                        || (parent == Some(ind) && !line.trim_start().starts_with('-'))
                    {
                        break;
                    }
                    if line.trim_start().starts_with('-') && item_indent.is_none_or(|i| i == ind) {
                        item_indent = Some(ind);
                        if seen == n {
                            found = Some((r, ind + 1));
                            break;
                        }
                        seen += 1;
                    }
                }
                let Some((r, c)) = found else { break };
                parent = Some(c - 1);
                (row, col, start) = (r, c, c - 1);
            }
        }
        found_any = true;
    }
    found_any.then_some((row + 1, start + 1))
}

/// 1-based line of the field at `path`, if it can be found.
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    locate(text, path).map(|(line, _)| line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
name: x
duration: 2h
node_pools:
- name: a
  max_size: 3
workloads:
- name: web
  requests: {cpu: 1, memory: 1Gi}
  load:
    steps:
    - {at: 0s, value: 1}
- name: api
  # requests below
  requests:
    cpu: 2
    memory: 1Gi
failures:
  - kind: capacity
    zone: b
";

    #[test]
    fn paths_are_split_into_keys_and_indexes() {
        assert_eq!(
            segments("workloads[1].requests.cpu"),
            vec![
                Segment::Key("workloads"),
                Segment::Index(1),
                Segment::Key("requests"),
                Segment::Key("cpu")
            ]
        );
        assert_eq!(
            segments("a[0][2]"),
            vec![Segment::Key("a"), Segment::Index(0), Segment::Index(2)]
        );
    }

    #[test]
    fn finds_block_and_flow_fields() {
        assert_eq!(line_of(TEXT, "duration"), Some(2));
        assert_eq!(line_of(TEXT, "node_pools[0].max_size"), Some(5));
        assert_eq!(line_of(TEXT, "workloads[0].requests.cpu"), Some(8));
        assert_eq!(line_of(TEXT, "workloads[0].load.steps[0]"), Some(11));
        assert_eq!(line_of(TEXT, "workloads[1].requests.cpu"), Some(15));
        assert_eq!(line_of(TEXT, "workloads[1].name"), Some(12));
        assert_eq!(line_of(TEXT, "failures[0].zone"), Some(19));
        assert_eq!(
            line_of(TEXT, "workloads[2]"),
            Some(6),
            "the deepest part found"
        );
        assert_eq!(line_of(TEXT, "seed"), None);
        assert_eq!(locate(TEXT, "workloads[0].requests.cpu"), Some((8, 14)));
        assert_eq!(locate(TEXT, "failures[0]"), Some((18, 3)));
    }
}
