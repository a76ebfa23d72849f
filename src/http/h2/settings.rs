//! [`Settings`]: the six parameters of RFC 9113 §6.5.2, their initial
//! values, the checks on values from the peer, and the SETTINGS payload.

use super::error::{conn, ErrorCode, H2Error};
use super::frame::{self, DEFAULT_MAX_FRAME_SIZE, MAX_ID, MAX_MAX_FRAME_SIZE, TYPE_SETTINGS};

/// Setting identifiers (§6.5.2). Others are ignored (§6.5.2: "MUST
/// ignore"), e.g. 0x8 ENABLE_CONNECT_PROTOCOL, which we do not offer.
const HEADER_TABLE_SIZE: u16 = 0x1;
const ENABLE_PUSH: u16 = 0x2;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const INITIAL_WINDOW_SIZE: u16 = 0x4;
const MAX_FRAME_SIZE: u16 = 0x5;
const MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// One side's settings. [`Settings::default`] is the state before any
/// SETTINGS frame (the initial values of §6.5.2): that is what each side
/// assumes of the other until told otherwise.
///
/// ```
/// use nodelike::http::h2::Settings;
/// let s = Settings::default();
/// assert_eq!((s.header_table_size, s.initial_window_size, s.max_frame_size), (4096, 65_535, 16_384));
/// assert_eq!((s.max_concurrent_streams, s.max_header_list_size), (None, None));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the sender's
    /// decoder keeps (4096).
    pub header_table_size: u32,
    /// SETTINGS_ENABLE_PUSH (true until a client says 0; we never push).
    pub enable_push: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS (`None`: unlimited, the initial
    /// value).
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE: each new stream's flow-control window
    /// for what the sender receives (65 535).
    pub initial_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE: the largest payload the sender accepts
    /// (16 384).
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: advisory (`None`: unlimited).
    pub max_header_list_size: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            header_table_size: 4096,
            enable_push: true,
            max_concurrent_streams: None,
            initial_window_size: 65_535,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: None,
        }
    }
}

impl Settings {
    /// Applies a SETTINGS payload from the peer, in order (§6.5.3: the
    /// values are processed in the order they appear), checking each value
    /// (§6.5.2): ENABLE_PUSH other than 0 or 1 and MAX_FRAME_SIZE outside
    /// 16 384..=16 777 215 are PROTOCOL_ERROR, INITIAL_WINDOW_SIZE over
    /// 2^31 - 1 is FLOW_CONTROL_ERROR. Unknown identifiers are ignored.
    ///
    /// ```
    /// use nodelike::http::h2::Settings;
    /// let mut s = Settings::default();
    /// s.apply(&[0, 4, 0, 1, 0, 0, /* unknown: */ 0, 0x42, 0, 0, 0, 1]).unwrap();
    /// assert_eq!(s.initial_window_size, 65_536);
    /// assert!(s.apply(&[0, 5, 0, 0, 0, 1]).is_err()); // max frame size 1
    /// ```
    pub fn apply(&mut self, payload: &[u8]) -> Result<(), H2Error> {
        for entry in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([entry[0], entry[1]]);
            let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            match id {
                HEADER_TABLE_SIZE => self.header_table_size = value,
                ENABLE_PUSH => {
                    self.enable_push = match value {
                        0 => false,
                        1 => true,
                        _ => return Err(conn(ErrorCode::ProtocolError, "ENABLE_PUSH not 0 or 1")),
                    }
                }
                MAX_CONCURRENT_STREAMS => self.max_concurrent_streams = Some(value),
                INITIAL_WINDOW_SIZE => {
                    if value > MAX_ID {
                        return Err(conn(
                            ErrorCode::FlowControlError,
                            "INITIAL_WINDOW_SIZE over 2^31-1",
                        ));
                    }
                    self.initial_window_size = value;
                }
                MAX_FRAME_SIZE => {
                    if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) {
                        return Err(conn(
                            ErrorCode::ProtocolError,
                            "MAX_FRAME_SIZE out of range",
                        ));
                    }
                    self.max_frame_size = value;
                }
                MAX_HEADER_LIST_SIZE => self.max_header_list_size = Some(value),
                _ => {}
            }
        }
        Ok(())
    }

    /// Appends a SETTINGS frame carrying every value that differs from the
    /// initial ones (the others need no saying).
    ///
    /// ```
    /// use nodelike::http::h2::Settings;
    /// let mut out = Vec::new();
    /// Settings { max_concurrent_streams: Some(100), ..Settings::default() }.encode(&mut out);
    /// assert_eq!(out, [0, 0, 6, 4, 0, 0, 0, 0, 0, /* entry: */ 0, 3, 0, 0, 0, 100]);
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_changes(&Settings::default(), out);
    }

    /// Appends a SETTINGS frame carrying every value that differs from
    /// `from` (what the peer was last told): a change of settings
    /// mid-session. A limit going back to "unlimited" (`None`) is sent as
    /// 2^32 - 1, as no SETTINGS entry can say "unlimited".
    ///
    /// ```
    /// use nodelike::http::h2::Settings;
    /// let before = Settings { max_concurrent_streams: Some(100), ..Settings::default() };
    /// let after = Settings { header_table_size: 4096, ..before }; // unchanged
    /// let mut out = Vec::new();
    /// after.encode_changes(&before, &mut out);
    /// assert_eq!(out, [0, 0, 0, 4, 0, 0, 0, 0, 0]); // an empty SETTINGS
    /// ```
    pub fn encode_changes(&self, from: &Settings, out: &mut Vec<u8>) {
        let unlimited = |v: Option<u32>, was: Option<u32>| match (v, was) {
            (None, Some(_)) => Some(u32::MAX),
            (v, _) => v,
        };
        let entries = [
            (
                HEADER_TABLE_SIZE,
                Some(self.header_table_size),
                Some(from.header_table_size),
            ),
            (
                ENABLE_PUSH,
                Some(self.enable_push as u32),
                Some(from.enable_push as u32),
            ),
            (
                MAX_CONCURRENT_STREAMS,
                unlimited(self.max_concurrent_streams, from.max_concurrent_streams),
                from.max_concurrent_streams,
            ),
            (
                INITIAL_WINDOW_SIZE,
                Some(self.initial_window_size),
                Some(from.initial_window_size),
            ),
            (
                MAX_FRAME_SIZE,
                Some(self.max_frame_size),
                Some(from.max_frame_size),
            ),
            (
                MAX_HEADER_LIST_SIZE,
                unlimited(self.max_header_list_size, from.max_header_list_size),
                from.max_header_list_size,
            ),
        ];
        let count = entries
            .iter()
            .filter(|(_, v, d)| v.is_some() && v != d)
            .count();
        frame::write_header(out, count * 6, TYPE_SETTINGS, 0, 0);
        for (id, value, default) in entries {
            if let Some(v) = value.filter(|_| value != default) {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
    }

    /// Checks values we are about to send by the rules [`apply`](Self::apply)
    /// holds the peer to (§6.5.2), with the same error codes: a value the
    /// peer would refuse is never sent.
    ///
    /// ```
    /// use nodelike::http::h2::Settings;
    /// assert!(Settings::default().validate().is_ok());
    /// assert!(Settings { max_frame_size: 100, ..Settings::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), H2Error> {
        if self.initial_window_size > MAX_ID {
            return Err(conn(
                ErrorCode::FlowControlError,
                "INITIAL_WINDOW_SIZE over 2^31-1",
            ));
        }
        if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&self.max_frame_size) {
            return Err(conn(
                ErrorCode::ProtocolError,
                "MAX_FRAME_SIZE out of range",
            ));
        }
        Ok(())
    }
}

/// Whether a SETTINGS payload sets ENABLE_PUSH to 1, which a server may
/// not send (§6.5.2).
pub(crate) fn turns_push_on(payload: &[u8]) -> bool {
    payload
        .chunks_exact(6)
        .any(|e| e[..2] == ENABLE_PUSH.to_be_bytes() && e[2..] == 1u32.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u16, value: u32) -> [u8; 6] {
        let mut e = [0; 6];
        e[..2].copy_from_slice(&id.to_be_bytes());
        e[2..].copy_from_slice(&value.to_be_bytes());
        e
    }

    fn code(r: Result<(), H2Error>) -> ErrorCode {
        r.unwrap_err().code()
    }

    #[test]
    fn encode_then_apply_round_trips() {
        let ours = Settings {
            header_table_size: 0,
            enable_push: false,
            max_concurrent_streams: Some(7),
            initial_window_size: 1 << 20,
            max_frame_size: 1 << 20,
            max_header_list_size: Some(16_384),
        };
        let mut out = Vec::new();
        ours.encode(&mut out);
        assert_eq!(out.len(), 9 + 6 * 6);
        let mut theirs = Settings::default();
        theirs.apply(&out[9..]).unwrap();
        assert_eq!(theirs, ours);
        let mut out = Vec::new();
        Settings::default().encode(&mut out);
        assert_eq!(out, [0, 0, 0, 4, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn invalid_values_are_refused_with_the_rfc_codes() {
        let mut s = Settings::default();
        assert_eq!(
            code(s.apply(&entry(ENABLE_PUSH, 2))),
            ErrorCode::ProtocolError
        );
        assert_eq!(
            code(s.apply(&entry(INITIAL_WINDOW_SIZE, 1 << 31))),
            ErrorCode::FlowControlError
        );
        assert_eq!(
            code(s.apply(&entry(MAX_FRAME_SIZE, 16_383))),
            ErrorCode::ProtocolError
        );
        assert_eq!(
            code(s.apply(&entry(MAX_FRAME_SIZE, 1 << 24))),
            ErrorCode::ProtocolError
        );
        s.apply(&entry(INITIAL_WINDOW_SIZE, (1 << 31) - 1)).unwrap();
        s.apply(&entry(MAX_FRAME_SIZE, (1 << 24) - 1)).unwrap();
        s.apply(&entry(MAX_FRAME_SIZE, 16_384)).unwrap();
    }

    #[test]
    fn values_apply_in_order_and_unknown_ids_are_ignored() {
        let mut s = Settings::default();
        let mut payload = Vec::new();
        payload.extend_from_slice(&entry(INITIAL_WINDOW_SIZE, 1));
        payload.extend_from_slice(&entry(0x99, 12345));
        payload.extend_from_slice(&entry(INITIAL_WINDOW_SIZE, 2));
        s.apply(&payload).unwrap();
        assert_eq!(s.initial_window_size, 2);
    }
}
