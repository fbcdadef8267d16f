//! Prefixed, time-ordered identifiers such as `run_01JF7Q3ZB5K6W8X9Y0Z1A2B3C4`.
//!
//! The part after the prefix is a ULID: 48 bits of milliseconds since the Unix
//! epoch, then 80 random bits, in Crockford base32. Ids made later sort after
//! ids made earlier, also within one millisecond, so the storage layer lists
//! records newest first by scanning its keys in reverse.

use std::sync::Mutex;

use ulid::Generator;

static GENERATOR: Mutex<Option<Generator>> = Mutex::new(None);

/// Prefix of deployment ids.
pub const DEPLOYMENT: &str = "dep";
/// Prefix of deployment version ids.
pub const VERSION: &str = "ver";
/// Prefix of run ids.
pub const RUN: &str = "run";
/// Prefix of thread ids.
pub const THREAD: &str = "thr";
/// Prefix of checkpoint ids.
pub const CHECKPOINT: &str = "ckpt";
/// Prefix of API key ids.
pub const API_KEY: &str = "key";

/// Creates a new id with `prefix`, greater than every id this process made
/// before.
pub fn new_id(prefix: &str) -> String {
    let mut generator = GENERATOR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let generator = generator.get_or_insert_with(Generator::new);

    // The monotonic generator fails only when 2^80 ids were made within one
    // millisecond; a fresh random ULID is then still unique.
    let ulid = generator.generate().unwrap_or_else(|_| ulid::Ulid::new());
    format!("{prefix}_{ulid}")
}

/// Returns true when `id` has the form `{prefix}_{ULID}`.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|ulid| ulid::Ulid::from_string(ulid).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_in_creation_order() {
        let ids: Vec<String> = (0..1000).map(|_| new_id(RUN)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn has_prefix_checks_prefix_and_ulid() {
        let id = new_id(THREAD);
        assert!(has_prefix(&id, THREAD));
        assert!(!has_prefix(&id, RUN));
        assert!(!has_prefix("thr_not-a-ulid", THREAD));
    }
}
