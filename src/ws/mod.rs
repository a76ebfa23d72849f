//! WebSocket (the npm `ws` package's API).

pub(crate) mod protocol;

pub use protocol::PerMessageDeflate;
