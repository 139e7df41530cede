//! Fuzzes the `.reel` reader: any bytes must read without a panic, and what was read must survive
//! a write and a second read unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reel::log::fuzz_reader(data);
});
