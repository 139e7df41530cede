//! Counters of what reassembly saw, delivered and gave up.

use super::{CloseReason, GapCause};

/// What the reassembler counted since it was created. Every field only grows, except
/// `peak_buffered_bytes`, which is a high-water mark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpStats {
    /// Segments handed to the reassembler.
    pub segments: u64,
    /// Captured payload bytes in those segments (snaplen-cut bytes not included).
    pub payload_bytes: u64,
    /// Segments that started no connection and belonged to none (pure ACKs, FINs or RSTs of
    /// connections not tracked).
    pub ignored_segments: u64,
    /// Segments more than 2^30 bytes ahead of their direction's next byte: dropped as nonsense.
    pub out_of_window_segments: u64,
    /// Connections opened.
    pub flows_opened: u64,
    /// Connections closed after both FINs.
    pub closed_fin: u64,
    /// Connections closed by a RST (or replaced by a new SYN on the same addresses).
    pub closed_rst: u64,
    /// Connections closed by the idle timeout.
    pub closed_idle: u64,
    /// Connections closed to stay within the memory or flow-count budget.
    pub closed_memory: u64,
    /// Connections closed at the end of input.
    pub closed_end_of_input: u64,
    /// Payload bytes that had already been received (retransmissions, overlaps); dropped.
    pub retransmitted_bytes: u64,
    /// Keep-alive probes (one byte or none, just before the next byte); dropped.
    pub keepalive_probes: u64,
    /// Segments that arrived ahead of a hole and were buffered.
    pub out_of_order_segments: u64,
    /// Gaps reported to the next stage.
    pub gaps: u64,
    /// Bytes in gaps caused by capture loss.
    pub gap_bytes_loss: u64,
    /// Bytes in gaps caused by the snaplen.
    pub gap_bytes_snaplen: u64,
    /// Bytes in gaps caused by a full out-of-order buffer.
    pub gap_bytes_overflow: u64,
    /// Connections given up because the total memory budget was exceeded.
    pub given_up_flows: u64,
    /// Bytes that the given-up connections held (reassembly and next stage).
    pub given_up_bytes: u64,
    /// Connections closed because the flow table was full.
    pub evicted_flows: u64,
    /// Most bytes buffered at once (reassembly and next stage), measured after each segment.
    pub peak_buffered_bytes: u64,
}

impl TcpStats {
    /// Every counter as a `(name, value)` pair, for summaries and metrics.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("segments", self.segments),
            ("payload_bytes", self.payload_bytes),
            ("ignored_segments", self.ignored_segments),
            ("out_of_window_segments", self.out_of_window_segments),
            ("flows_opened", self.flows_opened),
            ("closed_fin", self.closed_fin),
            ("closed_rst", self.closed_rst),
            ("closed_idle", self.closed_idle),
            ("closed_memory", self.closed_memory),
            ("closed_end_of_input", self.closed_end_of_input),
            ("retransmitted_bytes", self.retransmitted_bytes),
            ("keepalive_probes", self.keepalive_probes),
            ("out_of_order_segments", self.out_of_order_segments),
            ("gaps", self.gaps),
            ("gap_bytes_loss", self.gap_bytes_loss),
            ("gap_bytes_snaplen", self.gap_bytes_snaplen),
            ("gap_bytes_overflow", self.gap_bytes_overflow),
            ("given_up_flows", self.given_up_flows),
            ("given_up_bytes", self.given_up_bytes),
            ("evicted_flows", self.evicted_flows),
            ("peak_buffered_bytes", self.peak_buffered_bytes),
        ]
        .into_iter()
    }

    /// Counts a closed connection under its reason.
    pub(crate) fn count_close(&mut self, reason: CloseReason) {
        let counter = match reason {
            CloseReason::Fin => &mut self.closed_fin,
            CloseReason::Rst => &mut self.closed_rst,
            CloseReason::Idle => &mut self.closed_idle,
            CloseReason::Memory => &mut self.closed_memory,
            CloseReason::EndOfInput => &mut self.closed_end_of_input,
        };
        *counter += 1;
    }

    /// Counts a reported gap under its cause.
    pub(crate) fn count_gap(&mut self, len: u64, cause: GapCause) {
        self.gaps += 1;
        let counter = match cause {
            GapCause::Loss => &mut self.gap_bytes_loss,
            GapCause::Snaplen => &mut self.gap_bytes_snaplen,
            GapCause::Overflow => &mut self.gap_bytes_overflow,
        };
        *counter += len;
    }

    /// Total bytes reported as gaps, whatever the cause.
    pub fn gap_bytes(&self) -> u64 {
        self.gap_bytes_loss + self.gap_bytes_snaplen + self.gap_bytes_overflow
    }

    /// Total connections closed, whatever the reason.
    pub fn flows_closed(&self) -> u64 {
        self.closed_fin
            + self.closed_rst
            + self.closed_idle
            + self.closed_memory
            + self.closed_end_of_input
    }
}
