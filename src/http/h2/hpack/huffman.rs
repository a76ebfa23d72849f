//! The Huffman code of RFC 7541 Appendix B: encoding, and a decoder that
//! walks the code four bits at a time.
//!
//! The code table is data transcribed from the RFC. Everything the decoder
//! needs is derived from it at compile time by `const fn`s: the code tree,
//! then a state machine whose states are the tree's 256 inner nodes and
//! whose input is one nibble. No code is 4 bits or shorter (the shortest is
//! 5), so one nibble emits at most one symbol, which keeps each step a
//! single table lookup.
//!
//! Decoding rejects what §5.2 forbids: the EOS symbol inside a string,
//! padding longer than 7 bits, and padding that is not the most
//! significant bits of EOS (all ones).

use super::HpackError;

/// `(bit length, code)` of every symbol, 0 to 255 and then EOS (256),
/// from RFC 7541 Appendix B. The code is right-aligned: its most
/// significant bit is bit `length - 1`.
#[rustfmt::skip]
const CODES: [(u8, u32); 257] = [
    (13, 0x00001ff8), (23, 0x007fffd8), (28, 0x0fffffe2), (28, 0x0fffffe3), // 0..
    (28, 0x0fffffe4), (28, 0x0fffffe5), (28, 0x0fffffe6), (28, 0x0fffffe7), // 4..
    (28, 0x0fffffe8), (24, 0x00ffffea), (30, 0x3ffffffc), (28, 0x0fffffe9), // 8..
    (28, 0x0fffffea), (30, 0x3ffffffd), (28, 0x0fffffeb), (28, 0x0fffffec), // 12..
    (28, 0x0fffffed), (28, 0x0fffffee), (28, 0x0fffffef), (28, 0x0ffffff0), // 16..
    (28, 0x0ffffff1), (28, 0x0ffffff2), (30, 0x3ffffffe), (28, 0x0ffffff3), // 20..
    (28, 0x0ffffff4), (28, 0x0ffffff5), (28, 0x0ffffff6), (28, 0x0ffffff7), // 24..
    (28, 0x0ffffff8), (28, 0x0ffffff9), (28, 0x0ffffffa), (28, 0x0ffffffb), // 28..
    ( 6, 0x00000014), (10, 0x000003f8), (10, 0x000003f9), (12, 0x00000ffa), // 32..
    (13, 0x00001ff9), ( 6, 0x00000015), ( 8, 0x000000f8), (11, 0x000007fa), // 36..
    (10, 0x000003fa), (10, 0x000003fb), ( 8, 0x000000f9), (11, 0x000007fb), // 40..
    ( 8, 0x000000fa), ( 6, 0x00000016), ( 6, 0x00000017), ( 6, 0x00000018), // 44..
    ( 5, 0x00000000), ( 5, 0x00000001), ( 5, 0x00000002), ( 6, 0x00000019), // 48..
    ( 6, 0x0000001a), ( 6, 0x0000001b), ( 6, 0x0000001c), ( 6, 0x0000001d), // 52..
    ( 6, 0x0000001e), ( 6, 0x0000001f), ( 7, 0x0000005c), ( 8, 0x000000fb), // 56..
    (15, 0x00007ffc), ( 6, 0x00000020), (12, 0x00000ffb), (10, 0x000003fc), // 60..
    (13, 0x00001ffa), ( 6, 0x00000021), ( 7, 0x0000005d), ( 7, 0x0000005e), // 64..
    ( 7, 0x0000005f), ( 7, 0x00000060), ( 7, 0x00000061), ( 7, 0x00000062), // 68..
    ( 7, 0x00000063), ( 7, 0x00000064), ( 7, 0x00000065), ( 7, 0x00000066), // 72..
    ( 7, 0x00000067), ( 7, 0x00000068), ( 7, 0x00000069), ( 7, 0x0000006a), // 76..
    ( 7, 0x0000006b), ( 7, 0x0000006c), ( 7, 0x0000006d), ( 7, 0x0000006e), // 80..
    ( 7, 0x0000006f), ( 7, 0x00000070), ( 7, 0x00000071), ( 7, 0x00000072), // 84..
    ( 8, 0x000000fc), ( 7, 0x00000073), ( 8, 0x000000fd), (13, 0x00001ffb), // 88..
    (19, 0x0007fff0), (13, 0x00001ffc), (14, 0x00003ffc), ( 6, 0x00000022), // 92..
    (15, 0x00007ffd), ( 5, 0x00000003), ( 6, 0x00000023), ( 5, 0x00000004), // 96..
    ( 6, 0x00000024), ( 5, 0x00000005), ( 6, 0x00000025), ( 6, 0x00000026), // 100..
    ( 6, 0x00000027), ( 5, 0x00000006), ( 7, 0x00000074), ( 7, 0x00000075), // 104..
    ( 6, 0x00000028), ( 6, 0x00000029), ( 6, 0x0000002a), ( 5, 0x00000007), // 108..
    ( 6, 0x0000002b), ( 7, 0x00000076), ( 6, 0x0000002c), ( 5, 0x00000008), // 112..
    ( 5, 0x00000009), ( 6, 0x0000002d), ( 7, 0x00000077), ( 7, 0x00000078), // 116..
    ( 7, 0x00000079), ( 7, 0x0000007a), ( 7, 0x0000007b), (15, 0x00007ffe), // 120..
    (11, 0x000007fc), (14, 0x00003ffd), (13, 0x00001ffd), (28, 0x0ffffffc), // 124..
    (20, 0x000fffe6), (22, 0x003fffd2), (20, 0x000fffe7), (20, 0x000fffe8), // 128..
    (22, 0x003fffd3), (22, 0x003fffd4), (22, 0x003fffd5), (23, 0x007fffd9), // 132..
    (22, 0x003fffd6), (23, 0x007fffda), (23, 0x007fffdb), (23, 0x007fffdc), // 136..
    (23, 0x007fffdd), (23, 0x007fffde), (24, 0x00ffffeb), (23, 0x007fffdf), // 140..
    (24, 0x00ffffec), (24, 0x00ffffed), (22, 0x003fffd7), (23, 0x007fffe0), // 144..
    (24, 0x00ffffee), (23, 0x007fffe1), (23, 0x007fffe2), (23, 0x007fffe3), // 148..
    (23, 0x007fffe4), (21, 0x001fffdc), (22, 0x003fffd8), (23, 0x007fffe5), // 152..
    (22, 0x003fffd9), (23, 0x007fffe6), (23, 0x007fffe7), (24, 0x00ffffef), // 156..
    (22, 0x003fffda), (21, 0x001fffdd), (20, 0x000fffe9), (22, 0x003fffdb), // 160..
    (22, 0x003fffdc), (23, 0x007fffe8), (23, 0x007fffe9), (21, 0x001fffde), // 164..
    (23, 0x007fffea), (22, 0x003fffdd), (22, 0x003fffde), (24, 0x00fffff0), // 168..
    (21, 0x001fffdf), (22, 0x003fffdf), (23, 0x007fffeb), (23, 0x007fffec), // 172..
    (21, 0x001fffe0), (21, 0x001fffe1), (22, 0x003fffe0), (21, 0x001fffe2), // 176..
    (23, 0x007fffed), (22, 0x003fffe1), (23, 0x007fffee), (23, 0x007fffef), // 180..
    (20, 0x000fffea), (22, 0x003fffe2), (22, 0x003fffe3), (22, 0x003fffe4), // 184..
    (23, 0x007ffff0), (22, 0x003fffe5), (22, 0x003fffe6), (23, 0x007ffff1), // 188..
    (26, 0x03ffffe0), (26, 0x03ffffe1), (20, 0x000fffeb), (19, 0x0007fff1), // 192..
    (22, 0x003fffe7), (23, 0x007ffff2), (22, 0x003fffe8), (25, 0x01ffffec), // 196..
    (26, 0x03ffffe2), (26, 0x03ffffe3), (26, 0x03ffffe4), (27, 0x07ffffde), // 200..
    (27, 0x07ffffdf), (26, 0x03ffffe5), (24, 0x00fffff1), (25, 0x01ffffed), // 204..
    (19, 0x0007fff2), (21, 0x001fffe3), (26, 0x03ffffe6), (27, 0x07ffffe0), // 208..
    (27, 0x07ffffe1), (26, 0x03ffffe7), (27, 0x07ffffe2), (24, 0x00fffff2), // 212..
    (21, 0x001fffe4), (21, 0x001fffe5), (26, 0x03ffffe8), (26, 0x03ffffe9), // 216..
    (28, 0x0ffffffd), (27, 0x07ffffe3), (27, 0x07ffffe4), (27, 0x07ffffe5), // 220..
    (20, 0x000fffec), (24, 0x00fffff3), (20, 0x000fffed), (21, 0x001fffe6), // 224..
    (22, 0x003fffe9), (21, 0x001fffe7), (21, 0x001fffe8), (23, 0x007ffff3), // 228..
    (22, 0x003fffea), (22, 0x003fffeb), (25, 0x01ffffee), (25, 0x01ffffef), // 232..
    (24, 0x00fffff4), (24, 0x00fffff5), (26, 0x03ffffea), (23, 0x007ffff4), // 236..
    (26, 0x03ffffeb), (27, 0x07ffffe6), (26, 0x03ffffec), (26, 0x03ffffed), // 240..
    (27, 0x07ffffe7), (27, 0x07ffffe8), (27, 0x07ffffe9), (27, 0x07ffffea), // 244..
    (27, 0x07ffffeb), (28, 0x0ffffffe), (27, 0x07ffffec), (27, 0x07ffffed), // 248..
    (27, 0x07ffffee), (27, 0x07ffffef), (27, 0x07fffff0), (26, 0x03ffffee), // 252..
    (30, 0x3fffffff), // 256..
];

/// The end-of-string symbol: only ever seen as padding, never decoded.
const EOS: u16 = 256;

/// Marks a child of the code tree as a leaf (a symbol) rather than an
/// inner node.
const LEAF: u16 = 0x8000;

/// The code tree: 257 leaves make exactly 256 inner nodes, node 0 the
/// root. `tree[node][bit]` is an inner node index or `LEAF | symbol`.
/// A code table that is not a prefix code would overflow the array and
/// stop the build, so a typo in `CODES` cannot slip through silently.
const fn build_tree() -> [[u16; 2]; 256] {
    let mut tree = [[0u16; 2]; 256];
    let mut used: usize = 1;
    let mut symbol = 0;
    while symbol < CODES.len() {
        let (len, code) = CODES[symbol];
        let mut node = 0;
        let mut bit = len - 1;
        while bit > 0 {
            let branch = ((code >> bit) & 1) as usize;
            if tree[node][branch] == 0 {
                tree[node][branch] = used as u16;
                used += 1;
            }
            node = tree[node][branch] as usize;
            bit -= 1;
        }
        tree[node][(code & 1) as usize] = LEAF | symbol as u16;
        symbol += 1;
    }
    tree
}

/// One step of the nibble decoder: the state after four bits, and the
/// symbol completed on the way, if any.
#[derive(Clone, Copy)]
struct Step {
    next: u8,
    symbol: u8,
    kind: StepKind,
}

/// What a step did besides moving: nothing, completed a symbol, or met
/// EOS (always an error inside a string).
#[derive(Clone, Copy, PartialEq, Eq)]
enum StepKind {
    Moved,
    Emitted,
    Eos,
}

const fn build_steps() -> [[Step; 16]; 256] {
    let tree = build_tree();
    let idle = Step {
        next: 0,
        symbol: 0,
        kind: StepKind::Moved,
    };
    let mut steps = [[idle; 16]; 256];
    let mut state = 0;
    while state < 256 {
        let mut nibble = 0;
        while nibble < 16 {
            let mut step = idle;
            let mut node = state;
            let mut bit = 4;
            while bit > 0 {
                bit -= 1;
                let child = tree[node][(nibble >> bit) & 1];
                if child & LEAF == 0 {
                    node = child as usize;
                } else if child & !LEAF == EOS {
                    step.kind = StepKind::Eos;
                    break;
                } else {
                    step.kind = StepKind::Emitted;
                    step.symbol = (child & !LEAF) as u8;
                    node = 0;
                }
            }
            step.next = node as u8;
            steps[state][nibble] = step;
            nibble += 1;
        }
        state += 1;
    }
    steps
}

/// The states a string may end in: the root, or a node reached from it by
/// one to seven 1 bits (a prefix of EOS, which is thirty 1 bits). Any
/// other state means padding that is too long or not all ones.
const fn build_accepting() -> [bool; 256] {
    let tree = build_tree();
    let mut accepting = [false; 256];
    accepting[0] = true;
    let mut node = 0;
    let mut depth = 0;
    while depth < 7 {
        node = tree[node][1] as usize;
        accepting[node] = true;
        depth += 1;
    }
    accepting
}

static STEPS: [[Step; 16]; 256] = build_steps();
static ACCEPTING: [bool; 256] = build_accepting();

/// How many bytes `src` takes Huffman-encoded (padding included).
pub(super) fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src
        .iter()
        .map(|&b| usize::from(CODES[usize::from(b)].0))
        .sum();
    bits.div_ceil(8)
}

/// Appends the Huffman encoding of `src` to `out`, padded with the most
/// significant bits of EOS (ones).
pub(super) fn encode(src: &[u8], out: &mut Vec<u8>) {
    // Bits not yet written sit in the low `pending` bits of `bits`: fewer
    // than 8 before a code is added, and a code is at most 30 bits, so 64
    // bits never overflow.
    let mut bits: u64 = 0;
    let mut pending: u32 = 0;
    for &byte in src {
        let (len, code) = CODES[usize::from(byte)];
        bits = (bits << len) | u64::from(code);
        pending += u32::from(len);
        while pending >= 8 {
            pending -= 8;
            out.push((bits >> pending) as u8);
        }
        bits &= (1 << pending) - 1;
    }
    if pending > 0 {
        let pad = 8 - pending;
        out.push(((bits << pad) | ((1 << pad) - 1)) as u8);
    }
}

/// Appends the decoding of the Huffman string `src` to `out`.
pub(super) fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), HpackError> {
    let mut state = 0u8;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = STEPS[usize::from(state)][usize::from(nibble)];
            match step.kind {
                StepKind::Moved => {}
                StepKind::Emitted => out.push(step.symbol),
                StepKind::Eos => return Err(HpackError::InvalidHuffman),
            }
            state = step.next;
        }
    }
    if ACCEPTING[usize::from(state)] {
        Ok(())
    } else {
        Err(HpackError::InvalidHuffman)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(src: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(src, &mut out);
        out
    }

    fn decoded(src: &[u8]) -> Result<Vec<u8>, HpackError> {
        let mut out = Vec::new();
        decode(src, &mut out).map(|()| out)
    }

    #[test]
    fn the_code_is_complete_and_prefix_free() {
        // Kraft's equality: Σ 2^-len = 1 exactly, in units of 2^-30.
        let sum: u64 = CODES.iter().map(|&(len, _)| 1u64 << (30 - len)).sum();
        assert_eq!(sum, 1 << 30);
        // Every code fits its length, and the tree built from them has
        // two children at every one of its 256 inner nodes.
        assert!(CODES
            .iter()
            .all(|&(len, code)| (5..=30).contains(&len) && code >> len == 0));
        let tree = build_tree();
        for (node, children) in tree.iter().enumerate() {
            assert!(
                children.iter().all(|&c| c != 0),
                "node {node} is missing a child"
            );
        }
        // EOS is thirty 1 bits (§5.2).
        assert_eq!(CODES[256], (30, 0x3fff_ffff));
    }

    #[test]
    fn every_byte_value_round_trips() {
        for byte in 0..=255u8 {
            let code = encoded(&[byte]);
            assert_eq!(code.len(), encoded_len(&[byte]));
            assert_eq!(decoded(&code), Ok(vec![byte]), "byte {byte}");
        }
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let code = encoded(&all);
        assert_eq!(code.len(), encoded_len(&all));
        assert_eq!(decoded(&code), Ok(all));
        assert_eq!(decoded(&[]), Ok(Vec::new()));
        assert_eq!(encoded(&[]), Vec::<u8>::new());
    }

    #[test]
    fn rfc_7541_c4_strings() {
        // C.4.1, C.4.2, C.4.3 and C.6.1's Huffman strings.
        let cases: [(&[u8], &[u8]); 5] = [
            (
                b"www.example.com",
                &[
                    0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
                ],
            ),
            (b"no-cache", &[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]),
            (
                b"custom-key",
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f],
            ),
            (
                b"custom-value",
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf],
            ),
            (b"302", &[0x64, 0x02]),
        ];
        for (plain, code) in cases {
            assert_eq!(encoded(plain), code);
            assert_eq!(decoded(code).as_deref(), Ok(plain));
        }
    }

    #[test]
    fn eos_inside_a_string_is_an_error() {
        // Thirty 1 bits are EOS, whatever follows.
        assert_eq!(
            decoded(&[0xff, 0xff, 0xff, 0xff]),
            Err(HpackError::InvalidHuffman)
        );
        // After a symbol: 'a' (00011) then EOS.
        assert_eq!(
            decoded(&[0x1f, 0xff, 0xff, 0xff, 0xff]),
            Err(HpackError::InvalidHuffman)
        );
    }

    #[test]
    fn padding_longer_than_seven_bits_is_an_error() {
        assert_eq!(decoded(&[0xff]), Err(HpackError::InvalidHuffman));
        // 'a' (00011) then eleven 1 bits.
        assert_eq!(decoded(&[0x1f, 0xff]), Err(HpackError::InvalidHuffman));
        // Up to seven are fine: 'a' (00011) then 111.
        assert_eq!(decoded(&[0x1f]), Ok(b"a".to_vec()));
    }

    #[test]
    fn padding_that_is_not_all_ones_is_an_error() {
        // 'a' (00011) then 000.
        assert_eq!(decoded(&[0x18]), Err(HpackError::InvalidHuffman));
        // '0' (00000) then 000.
        assert_eq!(decoded(&[0x00]), Err(HpackError::InvalidHuffman));
        // 'a' then 101.
        assert_eq!(decoded(&[0x1d]), Err(HpackError::InvalidHuffman));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut out = Vec::new();
        for len in 0..2000 {
            let bytes: Vec<u8> = (0..len % 40)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            out.clear();
            let _ = decode(&bytes, &mut out);
        }
    }
}
