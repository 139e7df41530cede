//! Fuzzes the GoReplay importer: reading (plain or gzip), converting to `.reel` records and
//! exporting again must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reel::log::fuzz_gor(data);
});
