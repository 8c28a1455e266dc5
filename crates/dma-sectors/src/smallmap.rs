//! A map for the few keys a trace has at once (threads, disks, DMA
//! transfers in flight): a short vector searched linearly, which is cheaper
//! than hashing for a handful of entries, moved into a hash map when it
//! grows past `SPILL` entries (many devices, or garbage input).
//!
//! It behaves exactly as a map: nothing depends on the order of entries.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Entries kept in the vector before moving to a hash map.
const SPILL: usize = 16;

/// See the module documentation.
#[derive(Debug, Clone)]
pub enum SmallMap<K, V> {
    /// Up to `SPILL` entries, searched linearly.
    Few(Vec<(K, V)>),
    /// More.
    Many(FxHashMap<K, V>),
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap::Few(Vec::new())
    }
}

impl<K: Copy + Eq + Hash, V> SmallMap<K, V> {
    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            SmallMap::Few(v) => v.len(),
            SmallMap::Many(m) => m.len(),
        }
    }

    /// True when there is no entry.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        *self = SmallMap::Few(Vec::new());
    }

    /// The value of `k`.
    #[inline]
    pub fn get(&self, k: &K) -> Option<&V> {
        match self {
            SmallMap::Few(v) => v.iter().find(|(x, _)| x == k).map(|(_, v)| v),
            SmallMap::Many(m) => m.get(k),
        }
    }

    /// The value of `k`, to change.
    #[inline]
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        match self {
            SmallMap::Few(v) => v.iter_mut().find(|(x, _)| x == k).map(|(_, v)| v),
            SmallMap::Many(m) => m.get_mut(k),
        }
    }

    /// Sets the value of `k`; returns the previous one.
    #[inline]
    pub fn insert(&mut self, k: K, val: V) -> Option<V> {
        match self {
            SmallMap::Few(v) => {
                if let Some((_, old)) = v.iter_mut().find(|(x, _)| *x == k) {
                    return Some(std::mem::replace(old, val));
                }
                if v.len() < SPILL {
                    v.push((k, val));
                    return None;
                }
                self.spill().insert(k, val)
            }
            SmallMap::Many(m) => m.insert(k, val),
        }
    }

    /// The value of `k`, inserting `val` first when there is none.
    #[inline]
    pub fn get_or_insert(&mut self, k: K, val: V) -> &mut V {
        if let SmallMap::Few(v) = self
            && v.len() >= SPILL
            && !v.iter().any(|(x, _)| *x == k)
        {
            self.spill();
        }
        match self {
            SmallMap::Few(v) => {
                let i = match v.iter().position(|(x, _)| *x == k) {
                    Some(i) => i,
                    None => {
                        v.push((k, val));
                        v.len() - 1
                    }
                };
                &mut v[i].1
            }
            SmallMap::Many(m) => m.entry(k).or_insert(val),
        }
    }

    /// Removes `k`; returns its value.
    #[inline]
    pub fn remove(&mut self, k: &K) -> Option<V> {
        match self {
            SmallMap::Few(v) => {
                let i = v.iter().position(|(x, _)| x == k)?;
                Some(v.swap_remove(i).1)
            }
            SmallMap::Many(m) => m.remove(k),
        }
    }

    #[cold]
    fn spill(&mut self) -> &mut FxHashMap<K, V> {
        if let SmallMap::Few(v) = self {
            let mut m = FxHashMap::default();
            m.reserve(v.len() * 2);
            m.extend(v.drain(..));
            *self = SmallMap::Many(m);
        }
        match self {
            SmallMap::Many(m) => m,
            SmallMap::Few(_) => unreachable!("just spilled"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn behaves_as_a_hash_map() {
        let mut a: SmallMap<u64, u64> = SmallMap::default();
        let mut b: HashMap<u64, u64> = HashMap::new();
        let mut x = 12345u64;
        for i in 0..20_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Few keys most of the time, many now and then.
            let k = (x >> 33) % if (i / 1000) % 3 == 0 { 200 } else { 6 };
            match (x >> 20) % 5 {
                0 | 1 => assert_eq!(a.insert(k, i), b.insert(k, i)),
                2 => assert_eq!(a.remove(&k), b.remove(&k)),
                3 => {
                    *a.get_or_insert(k, i) += 1;
                    *b.entry(k).or_insert(i) += 1;
                }
                _ => {
                    if let (Some(p), Some(q)) = (a.get_mut(&k), b.get_mut(&k)) {
                        *p += 7;
                        *q += 7;
                    }
                }
            }
            assert_eq!(a.get(&k), b.get(&k));
            assert_eq!(a.len(), b.len());
            if i % 4999 == 0 {
                a.clear();
                b.clear();
                assert!(a.is_empty());
            }
        }
    }
}
