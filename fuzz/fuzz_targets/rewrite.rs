//! Rewrite rules parsed from fuzzer text and applied to fuzzer-provided request bytes: no panic;
//! a well-formed head stays well-formed, with its method, version and body; the rules hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reel::replay::rewrite::fuzz_rewrite(data);
});
