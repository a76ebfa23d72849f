//! Any bytes: the request-head parser never panics, a complete head lies
//! within the input and within the limits, its ranges are in bounds, and
//! feeding the same bytes in two parts gives the same verdict.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodelike::http::h1::{parse_request_head, Limits, ParsedRequest};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let mut p = ParsedRequest::default();
    let whole = parse_request_head(data, &limits, &mut p);
    if let Ok(Some(n)) = whole {
        assert!(n <= data.len());
        assert!(n <= limits.max_head_bytes);
        assert!(p.method.end <= n && p.target.end <= n);
        for (name, value) in &p.headers {
            assert!(name.end <= n && value.end <= n);
        }
        // A prefix of a complete head is incomplete or the same error-free
        // result, never a different complete head.
        let mut q = ParsedRequest::default();
        if let Ok(Some(m)) = parse_request_head(&data[..n], &limits, &mut q) {
            assert_eq!(m, n);
        }
    }
    // Any proper prefix of a complete head is incomplete: bytes arriving in
    // two reads give the same verdict as in one.
    if let (Ok(Some(n)), Some(&b)) = (whole, data.first()) {
        let split = b as usize % n.max(1);
        let mut q = ParsedRequest::default();
        assert_eq!(
            parse_request_head(&data[..split], &limits, &mut q),
            Ok(None),
            "prefix of {split} bytes"
        );
    }
});
