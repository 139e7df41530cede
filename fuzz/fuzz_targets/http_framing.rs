//! Response framing as the replay client drives it, and the capture-side extractor over the same
//! bytes split at data-derived points: no panic, no hang, split-invariant, invariants kept.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reel::http::fuzz_framing(data);
});
