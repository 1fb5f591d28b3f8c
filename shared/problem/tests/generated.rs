//! The documents generated from the catalogue are checked in as generated,
//! and the edge answers its own problems as the catalogue says.

use serde_json::Value;
use vibes_problem::{Code, Source};

fn repo_root() -> std::path::PathBuf {
    vibes_testkit::repo_root()
}

#[test]
fn the_checked_in_errors_page_is_the_catalogues() {
    let rendered = vibes_problem::docs::errors_page();
    let path = repo_root().join(vibes_problem::docs::ERRORS_PAGE);
    if std::env::var_os("VIBES_UPDATE_GENERATED").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{} is not what the catalogue renders; regenerate with \
         VIBES_UPDATE_GENERATED=1 cargo test -p vibes-problem --test generated",
        vibes_problem::docs::ERRORS_PAGE
    );
    for code in Code::ALL {
        assert!(committed.contains(&format!("| `{code}` |")), "{code}");
    }
}

/// Every `return <status> '<problem>'` of the edge's config, parsed.
fn edge_problems() -> Vec<Value> {
    let template = std::fs::read_to_string(repo_root().join("nginx/edge.conf.template")).unwrap();
    template
        .lines()
        .filter(|line| line.contains("urn:vibes:problem:"))
        .map(|line| {
            let body = line
                .split_once('\'')
                .and_then(|(_, rest)| rest.rsplit_once('\''))
                .map(|(body, _)| body)
                .unwrap_or_else(|| panic!("a quoted problem body: {line}"));
            let problem: Value =
                serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}"));
            let status = line
                .split_whitespace()
                .nth(1)
                .and_then(|status| status.parse::<u64>().ok());
            assert_eq!(status, problem["status"].as_u64(), "{line}");
            problem
        })
        .collect()
}

#[test]
fn the_edges_own_problems_are_in_the_catalogue_as_it_answers_them() {
    let problems = edge_problems();
    assert!(problems.len() >= 8, "{problems:?}");
    for problem in &problems {
        let text = problem["code"].as_str().unwrap();
        let code = Code::parse(text).unwrap_or_else(|| panic!("{text} is not in the catalogue"));
        assert!(code.sources().contains(&Source::Edge), "{text}");
        assert_eq!(problem["status"], code.status().as_u16(), "{text}");
        assert_eq!(problem["title"], code.title(), "{text}");
        assert_eq!(problem["type"], code.problem_type(), "{text}");
    }
    for code in Code::ALL
        .iter()
        .filter(|code| code.sources().contains(&Source::Edge))
    {
        assert!(
            problems
                .iter()
                .any(|problem| problem["code"] == code.as_str()),
            "the catalogue says the edge answers {code}, the edge's config never does"
        );
    }
}
