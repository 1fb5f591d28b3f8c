use crate::error::RequestError;
use actix_web::HttpRequest;

/// Internal: the authenticated creator of a stream, set by the gateway for ingest.
pub const CREATOR_HEADER: &str = "x-vibes-creator";

/// Numbers a creator's chunks so retries are harmless (see ingest).
pub const CHUNK_SEQ_HEADER: &str = "x-chunk-seq";

/// The request's `X-Chunk-Seq`, if any; anything but one unsigned 64-bit
/// number is refused with 400 `invalid_chunk_seq`.
pub fn chunk_seq(request: &HttpRequest) -> Result<Option<u64>, RequestError> {
    let mut values = request.headers().get_all(CHUNK_SEQ_HEADER);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = || RequestError::InvalidChunkSeq;
    if values.next().is_some() {
        return Err(invalid());
    }
    let text = value.to_str().map_err(|_| invalid())?.trim();
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse().map(Some).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use vibes_problem::{Code, ToProblem};

    fn parse(values: &[&str]) -> Result<Option<u64>, Code> {
        let mut request = TestRequest::default();
        for value in values {
            request = request.append_header((CHUNK_SEQ_HEADER, *value));
        }
        chunk_seq(&request.to_http_request()).map_err(|error| error.code())
    }

    #[test]
    fn absent_or_one_number_is_fine() {
        assert_eq!(parse(&[]), Ok(None));
        assert_eq!(parse(&["0"]), Ok(Some(0)));
        assert_eq!(parse(&[" 18446744073709551615 "]), Ok(Some(u64::MAX)));
    }

    #[test]
    fn anything_else_is_invalid() {
        for values in [
            &["-1"][..],
            &["1.5"],
            &["+1"],
            &["abc"],
            &[""],
            &["18446744073709551616"],
            &["1", "2"],
        ] {
            assert_eq!(parse(values), Err(Code::InvalidChunkSeq), "{values:?}");
        }
    }
}
