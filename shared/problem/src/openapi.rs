//! The problem responses of an OpenAPI document, generated from the
//! catalogue: each operation lists the codes it may answer
//! ([`problem_responses!`]) and gets one response per status, describing
//! and exemplifying each of those codes, all referring to one `Problem`
//! schema whose `code` enumerates the catalogue ([`ProblemSchema`]).

use crate::{Code, Problem, CONTENT_TYPE};
use std::collections::BTreeMap;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Ref, Type};
use utoipa::openapi::{RefOr, Response, ResponseBuilder};
use utoipa::Modify;

#[doc(hidden)]
pub use utoipa as __utoipa;

/// The name every problem response refers to: `#/components/schemas/Problem`.
pub const SCHEMA_NAME: &str = "Problem";

/// Declares a type whose OpenAPI responses are the problems of `codes`, for
/// a `#[utoipa::path(responses(...))]` list.
#[macro_export]
macro_rules! problem_responses {
    ($(#[$meta:meta])* $name:ident: [$($code:ident),+ $(,)?]) => {
        $(#[$meta])*
        pub struct $name;

        impl $name {
            /// The codes this operation may answer with.
            pub const CODES: &'static [$crate::Code] = &[$($crate::Code::$code),+];
        }

        impl $crate::openapi::__utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                $crate::openapi::__utoipa::openapi::RefOr<$crate::openapi::__utoipa::openapi::Response>,
            > {
                $crate::openapi::responses(Self::CODES)
            }
        }
    };
}

/// One response per status among `codes`: which codes it means and when,
/// an example of each, and `Retry-After` where the status promises one.
pub fn responses(codes: &[Code]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<Code>> = BTreeMap::new();
    for code in codes {
        by_status
            .entry(code.status().as_u16())
            .or_default()
            .push(*code);
    }
    by_status
        .into_iter()
        .map(|(status, codes)| (status.to_string(), RefOr::T(response(status, &codes))))
        .collect()
}

fn response(status: u16, codes: &[Code]) -> Response {
    let description = codes
        .iter()
        .map(|code| format!("`{code}`: {}", code.when()))
        .collect::<Vec<_>>()
        .join("\n\n");
    let examples = codes.iter().map(|code| {
        let example = ExampleBuilder::new()
            .summary(code.title())
            .value(serde_json::to_value(Problem::from(*code)).ok())
            .build();
        (code.as_str(), example)
    });
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(SCHEMA_NAME)))
        .examples_from_iter(examples)
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(CONTENT_TYPE, content);
    if status == 429 || status == 503 {
        let retry_after = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::Integer))
            .description(Some("Seconds to wait before retrying"))
            .build();
        response = response.header("Retry-After", retry_after);
    }
    response.build()
}

/// Adds the `Problem` schema to a document's components.
pub struct ProblemSchema;

impl Modify for ProblemSchema {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert(SCHEMA_NAME.to_owned(), RefOr::T(schema().into()));
    }
}

fn schema() -> utoipa::openapi::schema::Object {
    let text = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    };
    ObjectBuilder::new()
        .description(Some(
            "An `application/problem+json` error (RFC 9457). Some codes carry more \
             members (e.g. `participant_count` on `stream_full`): see each code.",
        ))
        .property("type", text("`urn:vibes:problem:<code>`"))
        .required("type")
        .property("title", text("The code's title, for people"))
        .required("title")
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some("The HTTP status")),
        )
        .required("status")
        .property(
            "detail",
            text("What was wrong with this request, where the code shows it"),
        )
        .property(
            "code",
            text("Stable: clients switch on it")
                .enum_values(Some(Code::ALL.iter().map(|code| code.as_str()))),
        )
        .required("code")
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    problem_responses!(JoinProblems: [InvalidVibeId, InvalidJson, StreamFull, RegistryUnavailable]);

    #[test]
    fn one_response_per_status_naming_its_codes() {
        let responses = <JoinProblems as utoipa::IntoResponses>::responses();
        assert_eq!(responses.keys().collect::<Vec<_>>(), ["400", "409", "503"]);
        let document = serde_json::to_value(&responses).unwrap();
        let bad_request = &document["400"];
        let description = bad_request["description"].as_str().unwrap();
        assert!(description.contains("`invalid_vibe_id`"), "{description}");
        assert!(description.contains("`invalid_json`"), "{description}");
        let content = &bad_request["content"][CONTENT_TYPE];
        assert_eq!(content["schema"]["$ref"], "#/components/schemas/Problem");
        assert_eq!(content["examples"]["invalid_json"]["value"]["status"], 400);
        assert!(document["503"]["headers"]["Retry-After"].is_object());
        assert!(document["400"]["headers"].is_null());
    }
}
