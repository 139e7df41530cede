//! Stage 1 — capture: frames from libpcap (live or from pcap/pcapng files) decoded to TCP segments.
//!
//! Input: [`Frame`] (timestamp, link type, bytes). Output: [`Segment`] (a TCP segment with its
//! addresses, sequence numbers, flags and payload). Everything that is not TCP over IPv4/IPv6 is
//! counted in [`DecodeStats`] and skipped, never an error.
//!
//! - [`OfflineSource`] (`source`): pcap/pcapng files through libpcap, several merged by time, a
//!   pcapng reader of reel's own (`pcapng`) for files that mix link types; [`FrameSource`] is
//!   the trait a live source implements too.
//! - [`Decoder`] (`decode`): link header (`link`) → IPv4/IPv6 → TCP; IP fragments are
//!   reassembled within bounds (`frag`).
//! - [`CaptureError`] (`error`): what can go wrong opening or reading a source.

use std::net::SocketAddr;

/// A captured frame as libpcap delivers it.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture time, ns since the Unix epoch.
    pub ts_ns: u64,
    /// libpcap link type (DLT/LINKTYPE value) of the interface the frame came from.
    pub linktype: i32,
    /// The captured bytes (at most the snaplen).
    pub data: &'a [u8],
    /// The frame's length on the wire; larger than `data.len()` when the snaplen cut it.
    pub wire_len: u32,
}

/// TCP header flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN: the sender has no more data.
    pub const FIN: u8 = 0x01;
    /// SYN: synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// RST: reset the connection.
    pub const RST: u8 = 0x04;
    /// PSH: push.
    pub const PSH: u8 = 0x08;
    /// ACK: the acknowledgement field is significant.
    pub const ACK: u8 = 0x10;

    /// True when every bit of `flag` is set.
    pub fn has(self, flag: u8) -> bool {
        self.0 & flag == flag
    }
}

/// A TCP segment decoded from a frame (or from a reassembled IPv4 datagram).
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Capture time of the frame, ns since the Unix epoch.
    pub ts_ns: u64,
    /// Sender's address and port.
    pub src: SocketAddr,
    /// Receiver's address and port.
    pub dst: SocketAddr,
    /// Sequence number of the first payload byte (of the SYN, when SYN is set).
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Header flags.
    pub flags: TcpFlags,
    /// Receive window (unscaled).
    pub window: u16,
    /// The payload bytes that were captured.
    pub payload: &'a [u8],
    /// Payload bytes the IP/TCP lengths announce but the snaplen cut off (they follow `payload`).
    pub missing: u32,
}

mod decode;
mod error;
mod frag;
mod link;
pub mod live;
mod pcapng;
mod source;

pub use decode::{DecodeConfig, DecodeStats, Decoder};
pub use error::CaptureError;
pub use link::linktype;
pub use source::{FileStats, FrameSource, OfflineSource};
