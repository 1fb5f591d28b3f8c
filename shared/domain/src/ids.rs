use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longest id we accept; long enough for UUIDs and app-chosen slugs, short enough
/// to be a Redis key fragment, an RTMP stream name and a file name.
pub const MAX_ID_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_ID_LEN} characters, got {0}")]
    TooLong(usize),
    #[error("may contain only A-Z, a-z, 0-9, '_' and '-'")]
    InvalidCharacter,
}

fn validate(raw: &str) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty);
    }
    if raw.len() > MAX_ID_LEN {
        return Err(IdError::TooLong(raw.len()));
    }
    let allowed = |byte: &u8| byte.is_ascii_alphanumeric() || *byte == b'_' || *byte == b'-';
    if !raw.as_bytes().iter().all(allowed) {
        return Err(IdError::InvalidCharacter);
    }
    Ok(())
}

fn id_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    let object = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[A-Za-z0-9_-]{1,64}$"))
        .min_length(Some(1))
        .max_length(Some(MAX_ID_LEN))
        .build();
    utoipa::openapi::RefOr::T(Schema::Object(object))
}

macro_rules! validated_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                validate(raw)?;
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// A string of 1–64 characters from `[A-Za-z0-9_-]`.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                id_schema()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                Self::parse(raw)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, Self::Error> {
                validate(&raw)?;
                Ok(Self(raw))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    };
}

validated_id!(
    /// A stream's id, chosen by the creator's app: `[A-Za-z0-9_-]{1,64}`.
    VibeId
);

validated_id!(
    /// A listener's id within a stream: `[A-Za-z0-9_-]{1,64}`.
    ParticipantId
);

validated_id!(
    /// A creator's id (the `sub` of their token): `[A-Za-z0-9_-]{1,64}`.
    CreatorId
);

impl ParticipantId {
    /// A fresh random id for a listener whose app did not bring one.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet_up_to_64_chars() {
        for raw in ["a", "Vibe_01-x", &"z".repeat(64)] {
            assert_eq!(VibeId::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn rejects_empty_long_and_foreign_characters() {
        assert_eq!(VibeId::parse(""), Err(IdError::Empty));
        assert_eq!(VibeId::parse(&"z".repeat(65)), Err(IdError::TooLong(65)));
        for raw in ["a b", "../etc", "a/b", "é", "a.flv", "a%2F", "a\0"] {
            assert_eq!(
                VibeId::parse(raw),
                Err(IdError::InvalidCharacter),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn deserializing_validates() {
        let parsed: Result<ParticipantId, _> = serde_json::from_str("\"no spaces\"");
        assert!(parsed.is_err());
        let parsed: ParticipantId = serde_json::from_str("\"p-1\"").unwrap();
        assert_eq!(parsed.as_str(), "p-1");
    }

    #[test]
    fn generated_participant_ids_are_valid_and_distinct() {
        let first = ParticipantId::generate();
        let second = ParticipantId::generate();
        assert_ne!(first, second);
        assert!(ParticipantId::parse(first.as_str()).is_ok());
    }
}
