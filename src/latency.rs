//! How long AWS takes to make a resource of each kind usable, or gone: the
//! latency profile the emulator uses (`emulator/latency-profile.json`, a
//! copy of `shared/spec/latency-profile.json` plus the logging kinds),
//! embedded. One source for every expected time: a kind names its entry
//! (`Kind::profile`), `graph::estimate` plans the run with it and the
//! kind's waits poll around it (`wait::Poll::expect`). Real-world seconds:
//! multiply by `wait::time_scale()` for a time-scaled emulator.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

/// The emulator's latency profile, embedded.
const PROFILE: &str = include_str!("../emulator/latency-profile.json");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `up`: the profile's `create_s`.
    Up,
    /// `down`: the profile's `delete_s`.
    Down,
}

/// kind → (create, delete) in seconds.
fn profile() -> &'static HashMap<String, (f64, f64)> {
    static P: OnceLock<HashMap<String, (f64, f64)>> = OnceLock::new();
    P.get_or_init(|| {
        let v: serde_json::Value = serde_json::from_str(PROFILE).expect("the embedded latency profile is JSON");
        let kinds = v["kinds"].as_object().expect("the latency profile has kinds");
        kinds
            .iter()
            .map(|(k, t)| {
                let s = |key: &str| t[key].as_f64().unwrap_or_else(|| panic!("latency profile: {k}.{key}"));
                (k.clone(), (s("create_s"), s("delete_s")))
            })
            .collect()
    })
}

/// Whether the profile has an entry `kind`.
pub fn known(kind: &str) -> bool {
    profile().contains_key(kind)
}

/// How long AWS takes to make a resource of `kind` usable (up) or gone
/// (down), real-world; zero for a kind the profile does not have (a unit
/// test holds every kind's entry to exist).
pub fn expected(kind: &str, direction: Direction) -> Duration {
    let Some(&(create, delete)) = profile().get(kind) else { return Duration::ZERO };
    Duration::from_secs_f64(if direction == Direction::Up { create } else { delete })
}

/// `expected(kind, Up)` in whole seconds, for a wait's `Poll::expect`.
pub fn create_s(kind: &str) -> u64 {
    expected(kind, Direction::Up).as_secs_f64().round() as u64
}

/// `expected(kind, Down)` in whole seconds, for a wait's `Poll::expect`.
pub fn delete_s(kind: &str) -> u64 {
    expected(kind, Direction::Down).as_secs_f64().round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_answers_in_seconds() {
        assert_eq!(expected("nfw.firewall", Direction::Up), Duration::from_secs(330));
        assert_eq!(expected("nfw.firewall", Direction::Down), Duration::from_secs(450));
        assert_eq!((create_s("ec2.nat_gateway"), delete_s("ec2.nat_gateway")), (105, 55));
        assert!(known("sm.space") && !known("no.such"));
        assert_eq!(expected("no.such", Direction::Up), Duration::ZERO);
    }
}
