//! `docs/errors.md`, rendered from the catalogue. A test compares the
//! checked-in page with this rendering, so the page cannot drift.

use crate::{Code, Detail, Problem};

/// Where the page lives, from the repository root.
pub const ERRORS_PAGE: &str = "docs/errors.md";

/// The whole page.
pub fn errors_page() -> String {
    let example = Problem::from(Code::StreamFull)
        .with_detail("stream v1 is full (1000 of 1000)")
        .with_extension("participant_count", 1000)
        .with_extension("max_participants", 1000);
    let example = serde_json::to_string_pretty(&example).expect("a problem serializes");
    let mut codes = Code::ALL.to_vec();
    codes.sort_by_key(|code| (code.status().as_u16(), code.as_str()));
    let rows: String = codes.iter().map(|code| row(*code)).collect();
    format!(
        "# Errors\n\
         \n\
         <!-- Generated from shared/problem/src/catalogue.rs; do not edit. Regenerate with\n     \
         VIBES_UPDATE_GENERATED=1 cargo test -p vibes-problem --test generated -->\n\
         \n\
         Every error the stack answers, the edge's own included, is\n\
         `application/problem+json` (RFC 9457):\n\
         \n\
         ```json\n{example}\n```\n\
         \n\
         - `code` is stable (and `type` is `urn:vibes:problem:<code>`): switch on it.\n  \
         `title` is the code's, for people.\n\
         - `detail` says what was wrong with this request, for codes that show it.\n  \
         Codes marked *withheld* never carry one: their cause (internal addresses,\n  \
         Redis or HTTP client errors) goes to the answering service's log, with\n  \
         the code (`code=registry_unavailable`) and the request's trace id.\n\
         - 429 and 503 answers carry `Retry-After` (seconds).\n\
         - Each public operation's codes are in the OpenAPI document\n  \
         ([openapi.json](openapi.json), served at `GET /stream-api/openapi.json`).\n\
         \n\
         | status | code | title | answered by | detail | when |\n\
         |---|---|---|---|---|---|\n\
         {rows}"
    )
}

fn row(code: Code) -> String {
    let sources: Vec<&str> = code.sources().iter().map(|source| source.name()).collect();
    let detail = match code.detail() {
        Detail::Shown => "shown",
        Detail::Withheld => "*withheld*",
    };
    format!(
        "| {} | `{code}` | {} | {} | {detail} | {} |\n",
        code.status().as_u16(),
        code.title(),
        sources.join(", "),
        code.when().replace('|', "\\|"),
    )
}
