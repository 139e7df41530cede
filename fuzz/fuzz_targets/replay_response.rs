//! Staging's responses framed the way the replay client's read loop frames them, read whole and
//! in fuzzer-chosen pieces, for GET, HEAD, CONNECT and HTTP/0.9 requests: no panic, bytes used
//! never exceed bytes read, body lengths match the framing, the same responses either way.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reel::replay::client::fuzz_response_framing(data);
});
