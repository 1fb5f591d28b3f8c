//! The keys the services are given (token keys, the edge's relay key) are
//! checked once, when settings are validated at startup, so a deployment that
//! forgot to replace a placeholder stops with the setting's name instead of
//! running with a key anybody can read in this repository.
//!
//! A value is refused when
//! 1. it is any value of `compose/.env.example` (compiled in, so the list
//!    follows that file),
//! 2. it contains a placeholder word (`changeme`, `secret`, `password`,
//!    `example`, … compared lowercased, letters and digits only), or
//! 3. its estimated entropy is below [`MIN_ENTROPY_BITS`] (128 bits).
//!
//! The estimate is deliberately simple and errs low: bits per character are
//! the smaller of log2 of the character classes used (lowercase 26,
//! uppercase 26, digits 10, anything else 33; a value of hex digits only
//! counts 16) and the Shannon entropy of the value's own character
//! frequencies. Characters that continue a pattern count for nothing: the
//! third and later character of a run (`aaa`), of a sequence (`abc`, `321`,
//! a keyboard row like `qwe`, forwards or backwards), or of a short repeated
//! pattern (period 2 to 4: `abab`, `abcabc`). Length alone is therefore not
//! enough: `openssl rand -hex 32` (≈ 235 bits estimated) and
//! `openssl rand -base64 48` (≈ 330) pass; 32 hex characters (128 bits at
//! best) do not.

use std::fmt;

/// Estimated entropy a secret needs.
pub const MIN_ENTROPY_BITS: f64 = 128.0;

/// How to make a key that may contain any character.
pub const GENERATE_BASE64: &str = "openssl rand -base64 48";
/// How to make a key of `[0-9a-f]` (for keys written into the nginx config).
pub const GENERATE_HEX: &str = "openssl rand -hex 32";

const ENV_EXAMPLE: &str = include_str!("../../../compose/.env.example");

/// Words that mark a value as a stand-in; six letters or more, so that a
/// random key contains one by chance about never.
const PLACEHOLDER_WORDS: [&str; 13] = [
    "changeme",
    "changeit",
    "replaceme",
    "placeholder",
    "example",
    "secret",
    "password",
    "passwd",
    "letmein",
    "default",
    "insecure",
    "donotuse",
    "notforproduction",
];

/// Strings whose neighbouring characters people type in order.
const SEQUENCES: [&str; 5] = [
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
];

/// Why a secret is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Weakness {
    Missing,
    FromEnvExample,
    Placeholder(&'static str),
    LowEntropy { estimated_bits: f64 },
}

/// A setting whose secret is refused, and how to make a good one.
#[derive(Clone, PartialEq)]
pub struct SecretRefused {
    pub setting: String,
    pub weakness: Weakness,
    pub generate: &'static str,
}

impl fmt::Display for SecretRefused {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let setting = &self.setting;
        match &self.weakness {
            Weakness::Missing => write!(formatter, "{setting} is not set")?,
            Weakness::FromEnvExample => write!(
                formatter,
                "{setting} is a placeholder from compose/.env.example"
            )?,
            Weakness::Placeholder(word) => write!(
                formatter,
                "{setting} looks like a placeholder (it contains {word:?})"
            )?,
            Weakness::LowEntropy { estimated_bits } => write!(
                formatter,
                "{setting} is too easy to guess: about {estimated_bits:.0} bits of entropy \
                 estimated, at least {MIN_ENTROPY_BITS:.0} needed"
            )?,
        }
        write!(formatter, "; generate one with `{}`", self.generate)
    }
}

/// The message, also for `main`'s `Error: …` line.
impl fmt::Debug for SecretRefused {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

impl std::error::Error for SecretRefused {}

/// Checks the secret of `setting`; the error names the setting and says how
/// to generate a good value (`generate`, e.g. [`GENERATE_BASE64`]).
pub fn require_strong(
    setting: &str,
    value: &str,
    generate: &'static str,
) -> Result<(), SecretRefused> {
    weakness(value).map_or(Ok(()), |weakness| {
        Err(SecretRefused {
            setting: setting.to_owned(),
            weakness,
            generate,
        })
    })
}

/// What is wrong with `value` as a secret, if anything.
pub fn weakness(value: &str) -> Option<Weakness> {
    if value.is_empty() {
        return Some(Weakness::Missing);
    }
    if env_example_values().any(|example| example == value) {
        return Some(Weakness::FromEnvExample);
    }
    let letters: String = value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|character| character.to_ascii_lowercase())
        .collect();
    if let Some(word) = PLACEHOLDER_WORDS
        .iter()
        .find(|word| letters.contains(*word))
    {
        return Some(Weakness::Placeholder(word));
    }
    let estimated_bits = estimated_bits(value);
    (estimated_bits < MIN_ENTROPY_BITS).then_some(Weakness::LowEntropy { estimated_bits })
}

/// Every non-empty value assigned in `compose/.env.example`.
pub fn env_example_values() -> impl Iterator<Item = &'static str> {
    ENV_EXAMPLE
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(_, value)| value.trim().trim_matches(['"', '\'']))
        .filter(|value| !value.is_empty())
}

/// The entropy estimate described in the module documentation, in bits.
pub fn estimated_bits(value: &str) -> f64 {
    let characters: Vec<char> = value.chars().collect();
    if characters.is_empty() {
        return 0.0;
    }
    let per_character = class_bits(&characters).min(shannon_bits(&characters));
    let fresh = (0..characters.len())
        .filter(|&index| !continues_pattern(&characters, index))
        .count();
    fresh as f64 * per_character
}

/// log2 of the size of the character classes the value uses.
fn class_bits(characters: &[char]) -> f64 {
    let hex_only = characters.iter().all(char::is_ascii_hexdigit)
        && !(characters.iter().any(char::is_ascii_lowercase)
            && characters.iter().any(char::is_ascii_uppercase));
    if hex_only {
        return 4.0;
    }
    let uses = |member: fn(&char) -> bool| characters.iter().any(member);
    let mut alphabet = 0_u32;
    if uses(char::is_ascii_lowercase) {
        alphabet += 26;
    }
    if uses(char::is_ascii_uppercase) {
        alphabet += 26;
    }
    if uses(char::is_ascii_digit) {
        alphabet += 10;
    }
    if characters
        .iter()
        .any(|character| !character.is_ascii_alphanumeric())
    {
        alphabet += 33;
    }
    f64::from(alphabet).log2()
}

/// Shannon entropy of the value's character frequencies, bits per character.
fn shannon_bits(characters: &[char]) -> f64 {
    let mut counts = std::collections::HashMap::<char, usize>::new();
    for character in characters {
        *counts.entry(*character).or_default() += 1;
    }
    let total = characters.len() as f64;
    counts
        .values()
        .map(|&count| {
            let share = count as f64 / total;
            -share * share.log2()
        })
        .sum()
}

/// Whether the character at `index` continues a run, a sequence or a short
/// repeated pattern that the two before it started.
fn continues_pattern(characters: &[char], index: usize) -> bool {
    if index < 2 {
        return false;
    }
    let (first, second, third) = (
        characters[index - 2],
        characters[index - 1],
        characters[index],
    );
    if first == second && second == third {
        return true;
    }
    let trigram: String = [first, second, third]
        .iter()
        .map(char::to_ascii_lowercase)
        .collect();
    let backwards: String = trigram.chars().rev().collect();
    if SEQUENCES
        .iter()
        .any(|sequence| sequence.contains(&trigram) || sequence.contains(&backwards))
    {
        return true;
    }
    (2..=4).any(|period| {
        index > period
            && characters[index] == characters[index - period]
            && characters[index - 1] == characters[index - 1 - period]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with `openssl rand -base64 48` and `openssl rand -hex 32`.
    const BASE64_KEY: &str = "vfdR3rIUq0t0SeFLe8OJfrpDgVzwp1SS2QZumULnTN+aD52hnvlRu8ysk2x48laG";
    const HEX_KEY: &str = "3b8141c23cc43bd3a37c6b2daee75f53ea04c9f6f77a808b53959fc80965166d";

    #[test]
    fn generated_keys_pass() {
        for key in [BASE64_KEY, HEX_KEY] {
            assert_eq!(weakness(key), None, "{key}: {} bits", estimated_bits(key));
        }
        assert!(
            estimated_bits(HEX_KEY) > 200.0,
            "{}",
            estimated_bits(HEX_KEY)
        );
        assert!(
            estimated_bits(BASE64_KEY) > 300.0,
            "{}",
            estimated_bits(BASE64_KEY)
        );
    }

    #[test]
    fn every_value_of_the_env_example_is_refused() {
        let values: Vec<&str> = env_example_values().collect();
        assert!(values.contains(&"change-me-to-another-random-string-of-at-least-32-bytes"));
        assert!(values.contains(&"k1"), "every assignment, not only keys");
        for value in values {
            assert_eq!(weakness(value), Some(Weakness::FromEnvExample), "{value}");
        }
    }

    #[test]
    fn placeholders_are_refused_whatever_their_length() {
        for (value, word) in [
            ("changeme", "changeme"),
            (
                "Change_Me-please-9f4c2a71d08e53b6e1c7f02a4b9d3e85c6a1f7e0",
                "changeme",
            ),
            (
                "super-secret-9f4c2a71d08e53b6e1c7f02a4b9d3e85c6a1f7e02d4b8c",
                "secret",
            ),
            ("PASSWORD", "password"),
            (
                "dev-only-fake-key-not-for-production-9f4c2a71d08e53b6e1c7",
                "notforproduction",
            ),
        ] {
            assert_eq!(
                weakness(value),
                Some(Weakness::Placeholder(word)),
                "{value}"
            );
        }
    }

    #[test]
    fn long_but_predictable_values_are_refused() {
        for value in [
            "a".repeat(64),
            "ab".repeat(32),
            "abc1".repeat(16),
            "abcdefghijklmnopqrstuvwxyz0123456789".to_owned(),
            "qwertyuiopasdfghjklzxcvbnm0987654321qwertyuiop".to_owned(),
            "9876543210".repeat(6),
            "aabbaabbbbaaabab".repeat(4),
            // 32 hex digits: 128 bits at best, and any pattern makes it less.
            HEX_KEY[..32].to_owned(),
        ] {
            assert!(
                matches!(weakness(&value), Some(Weakness::LowEntropy { .. })),
                "{value}: {} bits",
                estimated_bits(&value)
            );
        }
    }

    #[test]
    fn the_message_names_the_setting_and_the_cure() {
        let refused = require_strong(
            "playback.token_secret",
            "change-me-to-a-random-string-of-at-least-32-bytes",
            GENERATE_BASE64,
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "playback.token_secret is a placeholder from compose/.env.example; \
             generate one with `openssl rand -base64 48`"
        );
        assert_eq!(format!("{refused:?}"), refused.to_string());
        let weak = require_strong("auth.secret", &"x1".repeat(40), GENERATE_BASE64).unwrap_err();
        assert!(
            weak.to_string()
                .starts_with("auth.secret is too easy to guess"),
            "{weak}"
        );
        assert!(require_strong("auth.secret", BASE64_KEY, GENERATE_BASE64).is_ok());
        assert_eq!(
            require_strong("auth.secret", "", GENERATE_BASE64)
                .unwrap_err()
                .weakness,
            Weakness::Missing
        );
    }
}
