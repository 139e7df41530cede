//! Stage 2 — TCP reassembly: segments in, ordered byte streams per direction out.
//!
//! [`Reassembler`] keeps one entry per connection (the flow table), puts each direction's bytes in
//! sequence order (wrap-aware, out of order, retransmitted, overlapping), and hands contiguous data
//! to the next stage through [`StreamHandler`]. The next stage keeps its own per-connection state
//! (`StreamHandler::Conn`) inside the same flow table entry, so one lookup serves both stages and
//! one memory budget bounds both. Losses are reported as gaps, never silently skipped.
//!
//! What the next stage can rely on (the contract [`Reassembler`] keeps):
//! - Per connection: `open`, then `data`/`gap`/`fin` calls, then exactly one `close`. Per
//!   direction, data and gaps tile the stream from its start without overlap: the bytes of a
//!   `data` call follow the previous call's bytes (or the gap's length) exactly. `fin` comes once,
//!   after everything before the FIN. The connection closes with `Fin` once both FINs came.
//! - In-order bytes are passed straight from the segment (no copy); bytes that arrived beyond a
//!   hole were copied and come with the capture time of the segment that first carried them. The
//!   first copy of a byte wins; retransmissions, keep-alive and zero-window probes bring nothing.
//! - A hole becomes a gap ([`GapCause::Loss`]) when the peer newly acknowledges data beyond its
//!   start (the receiver got bytes the capture did not), on RST, idle timeout, end of input, and
//!   when a FIN is acknowledged with data missing before it. [`GapCause::Overflow`]: more than
//!   `max_holes` holes, or the connection over `max_flow_bytes`. [`GapCause::Snaplen`]: bytes
//!   the snaplen cut off, in place.
//! - Connections seen without a SYN start at the first data seen on each direction (the next
//!   stage resynchronises); a SYN-ACK alone still tells which side initiated. A SYN that does not
//!   continue the connection on the same addresses (other ISN, or after a FIN) closes it (`Fin`
//!   if a FIN was seen, else `Rst`) and opens a new one.
//! - After [`Interest::Skip`], the connection gets no more `data`, `gap` or `fin` calls, only its
//!   `close`. A connection given up for memory gets `close(.., Memory)` at once; its later segments
//!   are absorbed without calls until its end.

use std::net::SocketAddr;

#[cfg(feature = "testing")]
pub mod call_log;
mod reassembler;
mod seq;
mod stats;
mod stream;
mod table;

pub use reassembler::Reassembler;
pub use seq::SeqNumber;
pub use stats::TcpStats;

/// Who a connection is between, as far as TCP knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// Connection id: unique in this run, assigned in order of first sight from
    /// [`TcpConfig::first_conn_id`].
    pub id: u64,
    /// The side that sent the SYN, or, when no SYN was seen, the sender of the first segment seen.
    pub initiator: SocketAddr,
    /// The other side.
    pub responder: SocketAddr,
    /// True when the SYN was seen, so `initiator` is known rather than guessed.
    pub handshake_seen: bool,
}

/// Direction of data on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Sent by [`ConnInfo::initiator`].
    FromInitiator,
    /// Sent by [`ConnInfo::responder`].
    FromResponder,
}

/// Why bytes are missing from a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapCause {
    /// The capture lost segments (or the capture started after them).
    Loss,
    /// The snaplen cut the payload of captured frames.
    Snaplen,
    /// The per-flow out-of-order buffer was full; buffered data was skipped to stay in budget.
    Overflow,
}

/// Why a connection left the flow table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Both sides sent FIN (and their data up to it was delivered).
    Fin,
    /// A RST was seen.
    Rst,
    /// No segment for longer than the idle timeout.
    Idle,
    /// Given up to stay within the memory budget.
    Memory,
    /// The input ended (end of file, or capture stopped).
    EndOfInput,
}

/// What the next stage wants from a connection after seeing its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Keep delivering bytes.
    Continue,
    /// Stop delivering bytes (TLS, upgraded or non-HTTP connection); the flow is still tracked so
    /// it is closed and counted, but its payload is dropped without buffering.
    Skip,
}

/// The stage after reassembly: receives each connection's bytes in order.
pub trait StreamHandler {
    /// The handler's own state for one connection, kept in the flow table.
    type Conn;

    /// A new connection was seen.
    fn open(&mut self, info: &ConnInfo) -> Self::Conn;

    /// Contiguous bytes on one direction, in order; `ts_ns` is the capture time of the (earliest
    /// copy of the) segment they came in.
    fn data(
        &mut self,
        conn: &mut Self::Conn,
        info: &ConnInfo,
        dir: Dir,
        ts_ns: u64,
        bytes: &[u8],
    ) -> Interest;

    /// `len` bytes are missing on one direction before the next data.
    fn gap(
        &mut self,
        conn: &mut Self::Conn,
        info: &ConnInfo,
        dir: Dir,
        ts_ns: u64,
        len: u64,
        cause: GapCause,
    ) -> Interest;

    /// One direction ended with a FIN after all its data was delivered (a body delimited by the
    /// close ends here).
    fn fin(&mut self, conn: &mut Self::Conn, info: &ConnInfo, dir: Dir, ts_ns: u64);

    /// The connection leaves the flow table; no more calls for it follow.
    fn close(&mut self, conn: Self::Conn, info: &ConnInfo, ts_ns: u64, reason: CloseReason);

    /// Bytes the handler buffers for this connection, counted in the memory budget.
    fn buffered(conn: &Self::Conn) -> usize;
}

/// Limits of the flow table.
#[derive(Debug, Clone)]
pub struct TcpConfig {
    /// Id given to the first connection seen; later ones count up from it.
    pub first_conn_id: u64,
    /// Connections with no segment for this long (capture time) are closed as idle.
    pub idle_timeout_ns: u64,
    /// Most bytes buffered for one connection (reassembly and next stage together).
    pub max_flow_bytes: usize,
    /// Most bytes buffered for all connections together.
    pub max_total_bytes: usize,
    /// Most out-of-order holes tracked per direction before the oldest is declared a gap.
    pub max_holes: usize,
    /// Most connections tracked at once; beyond it the idlest one is closed.
    pub max_flows: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            first_conn_id: 1,
            idle_timeout_ns: 120 * 1_000_000_000,
            max_flow_bytes: 16 << 20,
            max_total_bytes: 48 << 20,
            max_holes: 32,
            max_flows: 1 << 20,
        }
    }
}

#[cfg(test)]
mod tests;
