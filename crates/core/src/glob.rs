//! Event-name patterns with QEMU's semantics: `*` matches any run of
//! characters, `?` any one character, everything else itself; a list of
//! patterns may include exclusions (a leading `-`), as in QEMU's `-trace
//! events=FILE` files.
//!
//! A name is selected when it matches some inclusion pattern and no exclusion
//! pattern; a list made only of exclusions starts from "everything". A
//! selection remembers the single literal that every selected name must
//! contain, when there is one, so the scanner can skip other lines unseen.

/// True when `name` matches the glob `pat`.
pub fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// A set of inclusion and exclusion patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    include: Vec<Vec<u8>>,
    exclude: Vec<Vec<u8>>,
}

impl Selection {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Adds one pattern (`-pat` excludes). Comma-separated lists are split;
    /// empty items are ignored.
    pub fn add(&mut self, spec: &str) {
        for item in spec.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            match item.strip_prefix('-') {
                Some(ex) => self.exclude.push(ex.as_bytes().to_vec()),
                None => self.include.push(item.as_bytes().to_vec()),
            }
        }
    }

    /// Adds the patterns of a QEMU events file: one per line, `#` comments.
    pub fn add_events_file(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.add(line);
        }
    }

    /// True when `name` is selected.
    pub fn matches(&self, name: &[u8]) -> bool {
        let inc = self.include.is_empty() || self.include.iter().any(|p| glob_match(p, name));
        inc && !self.exclude.iter().any(|p| glob_match(p, name))
    }

    /// True when nothing is excluded and everything is included.
    pub fn is_everything(&self) -> bool {
        self.include.iter().all(|p| p.iter().all(|&c| c == b'*')) && self.exclude.is_empty()
    }

    /// The inclusion patterns.
    pub fn includes(&self) -> &[Vec<u8>] {
        &self.include
    }

    /// The exclusion patterns (without their `-`).
    pub fn excludes(&self) -> &[Vec<u8>] {
        &self.exclude
    }

    /// A byte string that every line of a selected event contains, if the
    /// selection has exactly one inclusion pattern: its longest literal run,
    /// with the space that follows the name when the pattern ends literally.
    pub fn required_literal(&self) -> Option<Vec<u8>> {
        let [pat] = self.include.as_slice() else {
            return None;
        };
        let ends_literal = !pat.ends_with(b"*") && !pat.ends_with(b"?");
        let runs = pat.split(|&c| c == b'*' || c == b'?');
        let last_idx = pat.split(|&c| c == b'*' || c == b'?').count() - 1;
        let mut best: Option<Vec<u8>> = None;
        for (i, run) in runs.enumerate() {
            let mut cand = run.to_vec();
            if i == last_idx && ends_literal && !cand.is_empty() {
                cand.push(b' ');
            }
            if cand.len() > best.as_ref().map_or(0, Vec::len) {
                best = Some(cand);
            }
        }
        best.filter(|b| b.len() >= 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"pci_*", b"pci_cfg_read"));
        assert!(glob_match(b"*ncq*", b"process_ncq_command"));
        assert!(glob_match(b"ps2_?ut_keycode", b"ps2_put_keycode"));
        assert!(glob_match(b"*", b""));
        assert!(!glob_match(b"pci_cfg_read", b"pci_cfg_read_x"));
        assert!(!glob_match(b"?", b""));
        assert!(glob_match(b"a*b*c", b"axxbyybc"));
        assert!(!glob_match(b"a*b*c", b"axxbyyb"));
    }

    #[test]
    fn selections() {
        let mut s = Selection::all();
        s.add("pci_*,-pci_nvme_*");
        assert!(s.matches(b"pci_cfg_read"));
        assert!(!s.matches(b"pci_nvme_read"));
        assert!(!s.matches(b"ps2_read_data"));
        let mut only_ex = Selection::all();
        only_ex.add("-ahci_*");
        assert!(only_ex.matches(b"dma_blk_io") && !only_ex.matches(b"ahci_mem_read"));
        let mut f = Selection::all();
        f.add_events_file("# comment\npci_cfg_*\n\n-pci_cfg_write\n");
        assert!(f.matches(b"pci_cfg_read") && !f.matches(b"pci_cfg_write"));
    }

    #[test]
    fn required_literals() {
        let lit = |p: &str| {
            let mut s = Selection::all();
            s.add(p);
            s.required_literal().map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(lit("pci_cfg_read").as_deref(), Some("pci_cfg_read "));
        assert_eq!(lit("pci_*").as_deref(), Some("pci_"));
        assert_eq!(lit("*_ncq_*").as_deref(), Some("_ncq_"));
        assert_eq!(lit("*"), None);
        assert_eq!(lit("a,b"), None);
    }
}
