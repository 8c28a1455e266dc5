//! A map from the few event names a tool reads to its values, looked up once
//! per line without hashing.
//!
//! Names are grouped by length; a name of at most 32 bytes is compared as
//! four machine words that cover it (overlapping when it is shorter), so a
//! lookup costs a length check, four loads and a few compares, and a name of
//! a length no entry has costs one compare. Longer names go to a hash map.

use rustc_hash::FxHashMap;

/// The longest name compared as words (see [`Key`]).
const KEY_MAX: usize = 32;

/// A name of at most [`KEY_MAX`] bytes as four words that cover it
/// (overlapping when it is shorter; zero-padded below 8 bytes): two names
/// of the same length are equal exactly when their keys are.
#[derive(Debug, Clone, Copy)]
struct Key([u64; 4]);

impl Key {
    #[inline(always)]
    fn of(name: &[u8]) -> Key {
        let n = name.len();
        debug_assert!(n <= KEY_MAX);
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&name[at..at + 8]);
            u64::from_le_bytes(w)
        };
        if n >= 8 {
            let last = n - 8;
            Key([word(0), word(last.min(8)), word(last.min(16)), word(last)])
        } else {
            let mut w = [0u8; 8];
            w[..n].copy_from_slice(name);
            Key([u64::from_le_bytes(w), 0, 0, 0])
        }
    }

    /// Whether it is `other`, comparing the words most likely to differ
    /// first.
    #[inline(always)]
    fn is(&self, other: &Key) -> bool {
        let (a, b) = (&self.0, &other.0);
        a[0] == b[0] && a[3] == b[3] && a[1] == b[1] && a[2] == b[2]
    }
}

/// Values by event name; see the module documentation.
#[derive(Debug, Clone)]
pub struct NameMap<V> {
    /// Per length up to [`KEY_MAX`], the names of that length.
    by_len: [Vec<(Key, V)>; KEY_MAX + 1],
    long: FxHashMap<Box<[u8]>, V>,
}

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        NameMap {
            by_len: std::array::from_fn(|_| Vec::new()),
            long: FxHashMap::default(),
        }
    }
}

impl<V> NameMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `name`.
    #[inline(always)]
    pub fn get(&self, name: &[u8]) -> Option<&V> {
        let Some(same_len) = self.by_len.get(name.len()) else {
            return self.long.get(name);
        };
        if same_len.is_empty() {
            return None;
        }
        let key = Key::of(name);
        for (k, v) in same_len {
            if k.is(&key) {
                return Some(v);
            }
        }
        None
    }

    /// Whether `name` has a value.
    #[inline]
    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// Gives `name` the value `value` unless it has one; returns whether it
    /// was added.
    pub fn insert(&mut self, name: &[u8], value: V) -> bool {
        if self.contains(name) {
            return false;
        }
        match self.by_len.get_mut(name.len()) {
            Some(same_len) => same_len.push((Key::of(name), value)),
            None => {
                self.long.insert(Box::from(name), value);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_names_of_every_length() {
        let names: Vec<Vec<u8>> = (0..=40).map(|n| vec![b'a'; n]).collect();
        let mut m = NameMap::new();
        for (i, n) in names.iter().enumerate() {
            assert!(m.insert(n, i));
        }
        assert!(!m.insert(b"aaa", 99), "a name keeps its first value");
        for (i, n) in names.iter().enumerate() {
            assert_eq!(m.get(n), Some(&i));
        }
        assert_eq!(m.get(b"aab"), None);
        assert_eq!(m.get(&[b'a'; 41]), None);
        assert_eq!(NameMap::<u8>::new().get(b"dma_blk_io"), None);
    }

    /// Names over a small alphabet, so that many share lengths and parts.
    fn name() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![Just(b'a'), Just(b'b'), Just(b'_'), Just(0u8)],
            0..40,
        )
    }

    proptest! {
        /// Names that differ in any byte, at any length, are told apart.
        #[test]
        fn answers_like_a_hash_map(
            names in prop::collection::vec(name(), 0..30),
            probes in prop::collection::vec(name(), 0..30),
        ) {
            let mut m = NameMap::new();
            let mut want = std::collections::HashMap::new();
            for (i, n) in names.iter().enumerate() {
                prop_assert_eq!(m.insert(n, i), !want.contains_key(n));
                want.entry(n.clone()).or_insert(i);
            }
            for n in names.iter().chain(&probes) {
                prop_assert_eq!(m.get(n), want.get(n));
            }
        }
    }
}
