//! Fuzzes the capture side end to end: arbitrary frames and TCP segments through decode →
//! reassembly → HTTP framing and pairing; no panic, bounded memory, the output's invariants hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reel::record::extraction::fuzz_packets(data);
});
