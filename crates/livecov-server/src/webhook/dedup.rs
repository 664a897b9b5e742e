//! Deliveries already taken, by `X-GitHub-Delivery`, in bounded memory.
//!
//! GitHub redelivers on a timeout or by hand, and proxies retry: the same delivery id
//! must start one job, not two. The set remembers the last `capacity` ids and forgets
//! the oldest first, so memory stays bounded however long the server runs; a replay
//! older than that many deliveries is taken again, which only costs one more job.

use std::collections::{HashSet, VecDeque};

/// A bounded set of delivery ids, oldest forgotten first.
#[derive(Debug)]
pub struct Seen {
    capacity: usize,
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl Seen {
    /// An empty set remembering at most `capacity` ids (at least one).
    pub fn new(capacity: usize) -> Seen {
        let capacity = capacity.max(1);
        Seen {
            capacity,
            order: VecDeque::with_capacity(capacity.min(1 << 16)),
            ids: HashSet::with_capacity(capacity.min(1 << 16)),
        }
    }

    /// Records `id`; false when it was already there (a replay).
    pub fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        self.order.push_back(id.to_owned());
        self.ids.insert(id.to_owned());
        true
    }

    /// Forgets `id` (a delivery that was refused after all, so a redelivery is taken).
    pub fn remove(&mut self, id: &str) {
        if self.ids.remove(id) {
            self.order.retain(|o| o != id);
        }
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_is_refused_until_it_is_forgotten() {
        let mut seen = Seen::new(2);
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"));
        assert!(seen.insert("b"));
        assert!(seen.insert("c")); // forgets "a"
        assert_eq!(seen.len(), 2);
        assert!(!seen.insert("b"));
        assert!(seen.insert("a"));
    }

    #[test]
    fn removed_ids_are_taken_again() {
        let mut seen = Seen::new(10);
        assert!(seen.insert("a"));
        seen.remove("a");
        assert!(seen.is_empty());
        assert!(seen.insert("a"));
    }
}
