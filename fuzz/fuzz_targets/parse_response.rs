//! Any bytes: the response-head parser never panics and a complete head
//! lies within the input, its status within 100..=599.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodelike::http::h1::{parse_response_head, Limits, ParsedResponse};

fuzz_target!(|data: &[u8]| {
    let head_request = data.first().is_some_and(|b| b & 1 == 1);
    let mut p = ParsedResponse::default();
    if let Ok(Some(n)) = parse_response_head(data, head_request, &Limits::default(), &mut p) {
        assert!(n <= data.len());
        assert!((100..=599).contains(&p.status));
        for (name, value) in &p.headers {
            assert!(name.end <= n && value.end <= n);
        }
    }
});
