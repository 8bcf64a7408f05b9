//! Docker's text layout helpers: the elastic tabwriter its tables go through, `PrettyPrint`
//! capitalisation and the natural sort order of `node ls`.

use std::cmp::Ordering;

/// Aligns tab-terminated cells like docker's fork of Go's `text/tabwriter` (flags 0, padding
/// with spaces): a column is a run of consecutive lines that have a cell there, and each of
/// its cells is padded to max(`minwidth`, widest cell + `padding`). Text after the last tab
/// of a line is not part of a column and is written unpadded; nothing is trimmed.
///
/// Docker's tables use `minwidth 10, padding 3`; `docker version` uses `minwidth 20,
/// padding 1`.
pub fn tabwrite(text: &str, minwidth: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut w = Tab {
        lines: &lines,
        minwidth,
        padding,
        widths: Vec::new(),
        out: String::new(),
    };
    w.format(0, lines.len());
    w.out
}

/// Renders rows of cells as a docker table: cells joined by tabs, one line each, through
/// [`tabwrite`] with docker's table settings.
pub fn table(rows: &[Vec<String>]) -> String {
    let mut text = String::new();
    for row in rows {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    tabwrite(&text, 10, 3)
}

struct Tab<'a> {
    lines: &'a [Vec<&'a str>],
    minwidth: usize,
    padding: usize,
    /// Widths of the columns enclosing the block being formatted (a stack).
    widths: Vec<usize>,
    out: String,
}

impl Tab<'_> {
    /// Go's `Writer.format`: finds blocks of lines that have a cell in the next column,
    /// sizes that column, and recurses for the columns to its right.
    fn format(&mut self, mut line0: usize, line1: usize) {
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            self.write_lines(line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && column + 1 < self.lines[this].len() {
                width = width.max(cell_width(self.lines[this][column]) + self.padding);
                this += 1;
            }
            self.widths.push(width);
            self.format(line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1);
    }

    fn write_lines(&mut self, line0: usize, line1: usize) {
        for i in line0..line1 {
            for (j, cell) in self.lines[i].iter().enumerate() {
                self.out.push_str(cell);
                if let Some(&w) = self.widths.get(j) {
                    let pad = w.saturating_sub(cell_width(cell));
                    self.out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if i + 1 < self.lines.len() {
                self.out.push('\n');
            }
        }
    }
}

fn cell_width(s: &str) -> usize {
    s.chars().count()
}

/// Docker's `formatter.PrettyPrint` on a string: first byte upper-case, the rest lower-case
/// (`ready` → `Ready`, `Reachable` → `Reachable`, `UTC` → `Utc`).
pub fn pretty_print(s: &str) -> String {
    let mut chars = s.chars();
    match (chars.next(), s.chars().count()) {
        (None, _) => String::new(),
        (Some(c), 1) => c.to_lowercase().collect(),
        (Some(c), _) => c
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
    }
}

/// `sortorder.NaturalLess` as an ordering: runs of digits compare as numbers, digits sort
/// before other bytes, other bytes compare bytewise (so `node2` < `node10`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da != db {
            return if da {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if !da {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
            continue;
        }
        let (zi, zj) = (skip_zeros(a, i), skip_zeros(b, j));
        let (ei, ej) = (skip_digits(a, zi), skip_digits(b, zj));
        let ord = (ei - zi)
            .cmp(&(ej - zj))
            .then_with(|| a[zi..ei].cmp(&b[zj..ej]))
            .then_with(|| zi.cmp(&zj));
        if ord != Ordering::Equal {
            return ord;
        }
        (i, j) = (ei, ej);
    }
    a.len().cmp(&b.len())
}

fn skip_zeros(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && s[i] == b'0' {
        i += 1;
    }
    i
}

fn skip_digits(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    /// The expectation of docker/cli's `TestNodeContextWrite` (table format).
    #[test]
    fn node_table_matches_docker_golden() {
        let rows = vec![
            row(&[
                "ID  ",
                "HOSTNAME",
                "STATUS",
                "AVAILABILITY",
                "MANAGER STATUS",
                "ENGINE VERSION",
            ]),
            row(&[
                "nodeID1  ",
                "foobar_baz",
                "Foo",
                "Drain",
                "Leader",
                "18.03.0-ce",
            ]),
            row(&[
                "nodeID2  ",
                "foobar_bar",
                "Bar",
                "Active",
                "Reachable",
                "1.2.3",
            ]),
            row(&["nodeID3  ", "foobar_boo", "Boo", "Active", "", ""]),
        ];
        let want = "ID          HOSTNAME     STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n\
                    nodeID1     foobar_baz   Foo       Drain          Leader           18.03.0-ce\n\
                    nodeID2     foobar_bar   Bar       Active         Reachable        1.2.3\n\
                    nodeID3     foobar_boo   Boo       Active                          \n";
        assert_eq!(table(&rows), want);
    }

    #[test]
    fn minwidth_and_last_cell_unpadded() {
        assert_eq!(tabwrite("a\tb\n", 10, 3), "a         b\n");
        assert_eq!(tabwrite("abcdefghij\tb\n", 10, 3), "abcdefghij   b\n");
        assert_eq!(tabwrite("no tabs\n", 10, 3), "no tabs\n");
        assert_eq!(tabwrite("", 10, 3), "");
    }

    /// A line without tabs ends a column block, as in `docker version`'s sections.
    #[test]
    fn blocks_are_separate() {
        let text =
            "Client:\n Version:\t1\n API version:\t1.47\n\nServer:\n Engine:\n  Version:\t2\n";
        let want = "Client:\n Version:           1\n API version:       1.47\n\nServer:\n Engine:\n  Version:          2\n";
        assert_eq!(tabwrite(text, 20, 1), want);
    }

    /// Lines with fewer cells end the block of the columns they lack.
    #[test]
    fn ragged_lines() {
        let text = "aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n";
        let want = "aaaa|bbb|d\naa  |b  |dd\na   |\naa  |cccc|eee\n".replace('|', " ");
        assert_eq!(tabwrite(text, 0, 1), want);
    }

    #[test]
    fn capitalisation_like_docker() {
        assert_eq!(pretty_print("ready"), "Ready");
        assert_eq!(pretty_print("down"), "Down");
        assert_eq!(pretty_print("disconnected"), "Disconnected");
        assert_eq!(pretty_print("drain"), "Drain");
        assert_eq!(pretty_print("REACHABLE"), "Reachable");
        assert_eq!(pretty_print("+0000 UTC"), "+0000 utc");
        assert_eq!(pretty_print("A"), "a");
        assert_eq!(pretty_print(""), "");
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["node10", "node2", "alpha", "node1", "node02", "Node3", "1x"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            ["1x", "Node3", "alpha", "node1", "node2", "node02", "node10"]
        );
    }
}
