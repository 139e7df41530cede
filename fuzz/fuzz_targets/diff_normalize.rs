//! A stored response (head, body) normalized for the response diff: no panic; the summary is
//! sorted, deterministic and equal to itself; ignoring `$` leaves no JSON path.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reel::diff::normalize::fuzz_normalize(data);
});
