//! A chunked body fed in fuzzer-chosen pieces (the first byte picks the
//! piece size), carrying unconsumed bytes over as a connection does: no
//! panic, consumption never exceeds the input, data slices come from the
//! input, trailer storage stays within its limit, and the decoded body is
//! the same as when the whole input is fed at once.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodelike::http::h1::{BodyKind, Decoded, Decoder};

fn decode(data: &[u8], piece: usize) -> Result<(Vec<u8>, bool), ()> {
    let mut d = Decoder::with_limits(BodyKind::Chunked, 1024, 1024);
    let mut body = Vec::new();
    let mut held: Vec<u8> = Vec::new();
    for part in data.chunks(piece.max(1)) {
        held.extend_from_slice(part);
        let mut pos = 0;
        loop {
            let input = &held[pos..];
            let (n, out) = d.decode(input).map_err(|_| ())?;
            assert!(n <= input.len());
            pos += n;
            match out {
                Decoded::Data(s) => {
                    assert!(!s.is_empty() && s.len() <= n);
                    body.extend_from_slice(s);
                }
                Decoded::NeedMore => break,
                Decoded::Done => {
                    assert!(d.trailers().map(|(a, b)| a.len() + b.len()).sum::<usize>() <= 1024);
                    return Ok((body, true));
                }
            }
        }
        held.drain(..pos);
    }
    Ok((body, false))
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let piecewise = decode(rest, first as usize % 17 + 1);
    let whole = decode(rest, rest.len().max(1));
    match (piecewise, whole) {
        (Ok((a, true)), Ok((b, true))) => assert_eq!(a, b),
        (Err(()), Err(())) => {}
        // Incomplete input: a prefix of the same body either way.
        (Ok((a, false)), Ok((b, _))) | (Ok((b, _)), Ok((a, false))) => {
            assert!(b.starts_with(&a) || a.starts_with(&b))
        }
        (x, y) => panic!(
            "piecewise and whole disagree: {:?} vs {:?}",
            x.map(|v| v.1),
            y.map(|v| v.1)
        ),
    }
});
