//! A shared key that callers present (the edge's relay key, the operators'
//! key): kept as a digest and compared as one, so the time a comparison takes
//! says nothing about the key.

use sha2::{Digest, Sha256};

pub struct KeyDigest {
    digest: [u8; 32],
}

impl KeyDigest {
    pub fn of(key: &str) -> Self {
        Self {
            digest: Sha256::digest(key.as_bytes()).into(),
        }
    }

    pub fn accepts(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        presented == self.digest
    }
}

#[cfg(test)]
mod tests {
    use super::KeyDigest;

    #[test]
    fn only_the_key_itself_is_accepted() {
        let key = KeyDigest::of("the operators' key 0123456789abcdef");
        assert!(key.accepts("the operators' key 0123456789abcdef"));
        assert!(!key.accepts("the operators' key 0123456789abcdeF"));
        assert!(!key.accepts(""));
    }
}
