//! "Did you mean ...?": the known names nearest to one a user typed, by an
//! edit distance that understands event-name globs.
//!
//! The distance counts the single-byte insertions, deletions, substitutions
//! and swaps of two neighbours (optimal string alignment) that turn a name
//! into one the pattern matches: `*` matches any run for free and `?` any
//! one byte, so `pci_cgf_*` is one swap away from `pci_cfg_read`. It is
//! meant for the end of a run that found nothing (a few thousand names of a
//! catalog, once), not for a hot path; names longer than [`MAX_LEN`] bytes
//! are not compared.

/// Names (and patterns) longer than this are never suggested or compared.
pub const MAX_LEN: usize = 256;

/// The edit distance from `name` to the nearest name the glob `pattern`
/// matches (0 when it matches); see the module documentation.
pub fn glob_distance(pattern: &[u8], name: &[u8]) -> usize {
    let mut rows = Rows::default();
    rows.distance(pattern, name)
}

/// Up to `max` of `candidates` nearest to `pattern` (a name or a glob), when
/// they are near enough to be a likely typo: at most a quarter of the
/// pattern's literal bytes away (at least 1, at most 3). Nearest first;
/// ties keep the order of `candidates` (put the names the input holds
/// first), and a name given twice is listed once.
pub fn nearest<'a>(
    pattern: &[u8],
    candidates: impl IntoIterator<Item = &'a [u8]>,
    max: usize,
) -> Vec<&'a [u8]> {
    let literal = pattern.iter().filter(|&&c| c != b'*' && c != b'?').count();
    let limit = (literal / 4).clamp(1, 3);
    if pattern.len() > MAX_LEN || max == 0 {
        return Vec::new();
    }
    let mut rows = Rows::default();
    let mut found: Vec<(usize, usize, &'a [u8])> = Vec::new();
    for (order, name) in candidates.into_iter().enumerate() {
        let too_far = !pattern.contains(&b'*') && name.len().abs_diff(pattern.len()) > limit;
        if name.len() > MAX_LEN || too_far {
            continue;
        }
        let d = rows.distance(pattern, name);
        if d == 0 || d > limit || found.iter().any(|f| f.2 == name) {
            continue;
        }
        found.push((d, order, name));
    }
    found.sort_unstable_by_key(|&(d, order, _)| (d, order));
    let best = found.first().map_or(0, |f| f.0);
    found
        .into_iter()
        .take_while(|f| f.0 == best)
        .take(max)
        .map(|f| f.2)
        .collect()
}

/// The three rows of the distance table, reused between names.
#[derive(Debug, Default)]
struct Rows {
    before: Vec<usize>,
    prev: Vec<usize>,
    cur: Vec<usize>,
}

impl Rows {
    fn distance(&mut self, pattern: &[u8], name: &[u8]) -> usize {
        let n = name.len();
        for r in [&mut self.before, &mut self.prev, &mut self.cur] {
            r.clear();
            r.resize(n + 1, 0);
        }
        // Row 0: the empty pattern against a prefix of the name.
        for (j, v) in self.prev.iter_mut().enumerate() {
            *v = j;
        }
        for i in 1..=pattern.len() {
            let p = pattern[i - 1];
            let star = p == b'*';
            self.cur[0] = self.prev[0] + usize::from(!star);
            for j in 1..=n {
                self.cur[j] = if star {
                    // Matches nothing more, or one more byte of the name.
                    self.prev[j].min(self.cur[j - 1])
                } else {
                    let same = p == b'?' || p == name[j - 1];
                    let mut d = (self.prev[j - 1] + usize::from(!same))
                        .min(self.prev[j] + 1)
                        .min(self.cur[j - 1] + 1);
                    if i > 1
                        && j > 1
                        && p == name[j - 2]
                        && pattern[i - 2] == name[j - 1]
                        && p != name[j - 1]
                        && !matches!(pattern[i - 2], b'*' | b'?')
                    {
                        d = d.min(self.before[j - 2] + 1);
                    }
                    d
                };
            }
            std::mem::swap(&mut self.before, &mut self.prev);
            std::mem::swap(&mut self.prev, &mut self.cur);
        }
        self.prev[n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_of_names_and_globs() {
        for (pat, name, d) in [
            ("pci_cfg_read", "pci_cfg_read", 0),
            ("pci_cfg_raed", "pci_cfg_read", 1),
            ("pci_cfg_rea", "pci_cfg_read", 1),
            ("pci_cfg_reads", "pci_cfg_read", 1),
            ("pci_cfx_rexd", "pci_cfg_read", 2),
            ("pci_*", "pci_cfg_read", 0),
            ("pci_cgf_*", "pci_cfg_read", 1),
            ("ps2_?ut_keycode", "ps2_put_keycode", 0),
            ("ps2_?ut_keycod", "ps2_put_keycode", 1),
            ("*", "", 0),
            ("", "abc", 3),
            ("abc", "", 3),
            ("*x", "abc", 1),
        ] {
            assert_eq!(
                glob_distance(pat.as_bytes(), name.as_bytes()),
                d,
                "{pat} {name}"
            );
        }
    }

    #[test]
    fn a_naive_table_agrees_on_plain_names() {
        // Textbook optimal-string-alignment distance, as the oracle.
        fn naive(a: &[u8], b: &[u8]) -> usize {
            let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
            for (i, row) in d.iter_mut().enumerate() {
                row[0] = i;
            }
            for (j, cell) in d[0].iter_mut().enumerate() {
                *cell = j;
            }
            for i in 1..=a.len() {
                for j in 1..=b.len() {
                    let cost = usize::from(a[i - 1] != b[j - 1]);
                    d[i][j] = (d[i - 1][j] + 1)
                        .min(d[i][j - 1] + 1)
                        .min(d[i - 1][j - 1] + cost);
                    if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                        d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                    }
                }
            }
            d[a.len()][b.len()]
        }
        let words = [
            "pci_cfg_read",
            "pci_cfg_write",
            "ps2_put_keycode",
            "dma_blk_io",
            "ab",
            "ba",
            "abc",
            "ca",
            "",
            "ide_dma_cb",
        ];
        for a in words {
            for b in words {
                assert_eq!(
                    glob_distance(a.as_bytes(), b.as_bytes()),
                    naive(a.as_bytes(), b.as_bytes()),
                    "{a} {b}"
                );
            }
        }
    }

    #[test]
    fn nearest_names_are_few_and_close() {
        let names: Vec<&[u8]> = vec![
            b"pci_cfg_write",
            b"pci_cfg_read",
            b"pci_cfg_read",
            b"ps2_put_keycode",
            b"pci_update_mappings_add",
        ];
        assert_eq!(
            nearest(b"pci_cfg_raed", names.iter().copied(), 3),
            [&b"pci_cfg_read"[..]]
        );
        assert_eq!(
            nearest(b"pci_cfg_*x", names.iter().copied(), 3),
            [&b"pci_cfg_write"[..], b"pci_cfg_read"]
        );
        assert!(nearest(b"qemu_mutex_lock", names.iter().copied(), 3).is_empty());
        // An exact match is no suggestion.
        assert!(nearest(b"pci_cfg_read", [&b"pci_cfg_read"[..]], 3).is_empty());
        assert_eq!(nearest(b"pci_cfg_reed", names.iter().copied(), 1).len(), 1);
    }
}
