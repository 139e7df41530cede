//! Runs each flood of `tests/pipeline_floods.rs` in its own process and prints a table: packets,
//! bytes, the pipeline's accounted peak memory (what `--max-memory` bounds), the process's peak
//! resident memory (`VmHWM`) and the time taken.
//!
//! `cargo run --release --example floods` (all cases); `… --example floods -- CASE` runs one case
//! in this process and prints its row (what the parent does for each case).

#[path = "../tests/flood_support/mod.rs"]
mod flood_support;

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use flood_support::*;

/// Every case: name, the bound it is held to, and how to run it.
struct Case {
    name: &'static str,
    budget: &'static str,
    run: fn() -> Outcome,
}

const CASES: &[Case] = &[
    Case {
        name: "baseline_empty",
        budget: "-",
        run: || half_open(0, false, READ_DEFAULTS),
    },
    Case {
        name: "half_open_syn_100k",
        budget: "48MiB",
        run: || half_open(100_000, false, READ_DEFAULTS),
    },
    Case {
        name: "half_open_syn_1M_beyond_the_table",
        budget: "48MiB",
        run: || half_open(1 << 20, false, READ_DEFAULTS),
    },
    Case {
        name: "half_open_head_100k",
        budget: "48MiB",
        run: || half_open(100_000, true, READ_DEFAULTS),
    },
    Case {
        name: "half_open_head_100k_small",
        budget: "1MiB",
        run: || half_open(100_000, true, SMALL),
    },
    Case {
        name: "half_open_head_100k_table10k",
        budget: "48MiB",
        run: || {
            half_open(
                100_000,
                true,
                Budget {
                    max_flows: 10_000,
                    ..READ_DEFAULTS
                },
            )
        },
    },
    Case {
        name: "slow_heads_10k",
        budget: "48MiB",
        run: || slow_heads(10_000, 64, 8, READ_DEFAULTS),
    },
    Case {
        name: "slow_heads_10k_small",
        budget: "1MiB",
        run: || slow_heads(10_000, 64, 8, SMALL),
    },
    Case {
        name: "slow_heads_past_max_head",
        budget: "48MiB",
        run: || slow_heads(100, 4200, 16, READ_DEFAULTS),
    },
    Case {
        name: "endless_chunked_1GiB_maxbody64k",
        budget: "1MiB",
        run: || endless_chunked(1 << 30, SMALL),
    },
    Case {
        name: "endless_chunked_1GiB_default",
        budget: "48MiB/16MiB",
        run: || endless_chunked(1 << 30, READ_DEFAULTS),
    },
    Case {
        name: "tiny_headers_100k",
        budget: "48MiB",
        run: || tiny_headers(100_000, READ_DEFAULTS),
    },
    Case {
        name: "tiny_headers_100k_one_a_segment",
        budget: "48MiB",
        run: || tiny_headers_trickled(100_000, READ_DEFAULTS),
    },
    Case {
        name: "tiny_headers_13k_fit",
        budget: "48MiB",
        run: || tiny_headers(13_000, READ_DEFAULTS),
    },
    Case {
        name: "header_line_1MiB",
        budget: "48MiB",
        run: || big_header_line(1 << 20, READ_DEFAULTS),
    },
    Case {
        name: "orphans_10k_x20",
        budget: "48MiB",
        run: || orphans(10_000, 20, READ_DEFAULTS),
    },
    Case {
        name: "orphans_10k_x20_small",
        budget: "1MiB",
        run: || orphans(10_000, 20, SMALL),
    },
];

/// This process's peak resident memory in KiB (`VmHWM` of /proc/self/status).
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `VmHWM` when the flood had been pushed, before the end of input.
static HWM_BEFORE_FINISH_KIB: AtomicU64 = AtomicU64::new(0);

fn note_hwm() {
    HWM_BEFORE_FINISH_KIB.store(vm_hwm_kib(), Ordering::Relaxed);
}

fn mib(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / f64::from(1 << 20))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(name) = args.first() {
        let Some(case) = CASES.iter().find(|c| c.name == name) else {
            eprintln!("unknown case {name}");
            std::process::exit(2);
        };
        let _ = BEFORE_FINISH.set(note_hwm);
        let t = Instant::now();
        let o = (case.run)();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} |",
            case.name,
            o.packets,
            mib(o.bytes),
            case.budget,
            mib(o.peak),
            o.peak_flows,
            mib(HWM_BEFORE_FINISH_KIB.load(Ordering::Relaxed) * 1024),
            mib(vm_hwm_kib() * 1024),
            secs
        );
        return;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("cannot find this program: {e}");
            std::process::exit(3);
        }
    };
    println!(
        "| case | packets | MiB pushed | --max-memory | accounted peak MiB | peak open flows | VmHWM before end MiB | VmHWM MiB | seconds |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "(per-connection state: HttpConn {} bytes, in the flow table with the reassembler's)",
        std::mem::size_of::<reel::http::HttpConn>()
    );
    for case in CASES {
        match Command::new(&exe).arg(case.name).output() {
            Ok(out) => print!("{}", String::from_utf8_lossy(&out.stdout)),
            Err(e) => println!("| {} | failed: {e} |", case.name),
        }
    }
}
