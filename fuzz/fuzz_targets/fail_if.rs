//! The `--fail-if` expression parser: no panic, errors point inside the expression, a parsed
//! gate written back in canonical form parses to the same gate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reel::compare::gate::fuzz_gate(data);
});
