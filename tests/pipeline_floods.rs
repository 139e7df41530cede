//! Floods through the whole extraction pipeline (decode → reassembly → HTTP framing and pairing),
//! fed as generated Ethernet/IPv4/TCP frames (a live flood would test the kernel, not us). Each
//! flood states its bound in the pipeline's own memory accounting (`tcp.peak_buffered_bytes`:
//! reassembly buffers plus what the HTTP stage holds, the figure `--max-memory` caps) and asserts
//! the exact counters of what was kept and what was given up. `tests/tcp_floods.rs` floods the
//! reassembler alone; `examples/floods.rs` runs these floods one per process for resident memory
//! and time.

mod flood_support;

use flood_support::*;

use reel::http::framing::DEFAULT_MAX_HEAD;

/// What `--max-memory` caps must never be exceeded, and nothing else than TCP holds memory here.
fn within(o: &Outcome, budget: Budget) {
    assert!(
        o.peak <= budget.max_memory as u64,
        "peak {} over --max-memory {}",
        o.peak,
        budget.max_memory
    );
    assert_eq!(o.peak_seen, o.peak, "IP fragments held");
    eprintln!(
        "{} packets, {} bytes: accounted peak {} of {}",
        o.packets, o.bytes, o.peak, budget.max_memory
    );
}

/// A model of the budget: `conns` connections take turns for `rounds` rounds; after its turn in
/// round `r` a live connection holds `charge(r)` bytes; whenever the total is over `budget`, the
/// live connection holding the most (the oldest among equals) is given up. Returns, per
/// connection, the round in which it was given up, if it was.
fn model_give_ups(
    conns: usize,
    rounds: usize,
    charge: impl Fn(usize) -> usize,
    budget: usize,
) -> Vec<Option<usize>> {
    let mut held = vec![0usize; conns];
    let mut gone = vec![None; conns];
    let mut total = 0usize;
    for r in 0..rounds {
        for i in 0..conns {
            if gone[i].is_some() {
                continue;
            }
            total = total - held[i] + charge(r);
            held[i] = charge(r);
            while total > budget {
                let Some(j) = (0..conns)
                    .filter(|&j| gone[j].is_none() && held[j] > 0)
                    .max_by(|&a, &b| held[a].cmp(&held[b]).then(b.cmp(&a)))
                else {
                    break;
                };
                total -= held[j];
                gone[j] = Some(r);
            }
        }
    }
    gone
}

// ----- 1. half-open connections -----

#[test]
fn a_hundred_thousand_syns_hold_no_bytes() {
    let o = half_open(100_000, false, READ_DEFAULTS);
    within(&o, READ_DEFAULTS);
    assert_eq!(o.peak, 0);
    assert_eq!(o.peak_flows, 100_000);
    assert_eq!(
        o.nonzero(),
        vec![
            ("tcp.closed_end_of_input", 100_000),
            ("tcp.flows_opened", 100_000),
            ("tcp.segments", 100_000),
        ]
    );
    assert!(o.records.is_empty());
}

#[test]
fn a_hundred_thousand_partial_heads_are_held_then_emitted_cut() {
    let head = partial_head(0).len() as u64;
    assert_eq!(head, 47);
    let o = half_open(100_000, true, READ_DEFAULTS);
    within(&o, READ_DEFAULTS);
    // Bound: each connection holds its partial head, nothing more.
    assert_eq!(o.peak, 100_000 * head);
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.requests", 100_000),
            ("http.truncated_incomplete", 100_000),
            ("http.unanswered", 100_000),
            ("tcp.closed_end_of_input", 100_000),
            ("tcp.flows_opened", 100_000),
            ("tcp.payload_bytes", 100_000 * head),
            ("tcp.segments", 200_000),
        ]
    );
    assert_eq!(o.records("request.incomplete"), 100_000);
}

#[test]
fn partial_heads_over_a_small_budget_give_up_exactly_the_excess() {
    let head = partial_head(0).len() as u64;
    let o = half_open(100_000, true, SMALL);
    within(&o, SMALL);
    let fit = SMALL.max_memory as u64 / head; // 22310
    let given_up = 100_000 - fit;
    assert_eq!(o.peak, fit * head);
    assert_eq!(o.peak_flows as u64, fit + 1); // the next one's SYN, before its head
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.requests", 100_000),
            ("http.truncated_incomplete", fit),
            ("http.truncated_memory", given_up),
            ("http.unanswered", 100_000),
            ("tcp.closed_end_of_input", fit),
            ("tcp.closed_memory", given_up),
            ("tcp.flows_opened", 100_000),
            ("tcp.given_up_bytes", given_up * head),
            ("tcp.given_up_flows", given_up),
            ("tcp.payload_bytes", 100_000 * head),
            ("tcp.segments", 200_000),
        ]
    );
    assert_eq!(o.records("request.memory"), given_up);
}

#[test]
fn partial_heads_beyond_the_flow_table_evict_exactly_the_excess() {
    let head = partial_head(0).len() as u64;
    let table = Budget {
        max_flows: 10_000,
        ..READ_DEFAULTS
    };
    let o = half_open(100_000, true, table);
    within(&o, table);
    assert_eq!(o.peak, 10_000 * head);
    assert_eq!(o.peak_flows, 10_000);
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.requests", 100_000),
            ("http.truncated_incomplete", 10_000),
            ("http.truncated_memory", 90_000),
            ("http.unanswered", 100_000),
            ("tcp.closed_end_of_input", 10_000),
            ("tcp.closed_memory", 90_000),
            ("tcp.evicted_flows", 90_000),
            ("tcp.flows_opened", 100_000),
            ("tcp.payload_bytes", 100_000 * head),
            ("tcp.segments", 200_000),
        ]
    );
}

// ----- 2. slow partial request heads -----

#[test]
fn ten_thousand_slow_heads_are_held_whole_within_the_default_budget() {
    let o = slow_heads(10_000, 64, 8, READ_DEFAULTS);
    within(&o, READ_DEFAULTS);
    assert_eq!(o.peak, 10_000 * 512);
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.requests", 10_000),
            ("http.truncated_incomplete", 10_000),
            ("http.unanswered", 10_000),
            ("tcp.closed_end_of_input", 10_000),
            ("tcp.flows_opened", 10_000),
            ("tcp.payload_bytes", 10_000 * 512),
            ("tcp.segments", 10_000 + 10_000 * 64),
        ]
    );
}

#[test]
fn ten_thousand_slow_heads_over_a_small_budget_give_up_the_largest_as_the_model_does() {
    let (conns, rounds, piece) = (10_000usize, 64usize, 8usize);
    let o = slow_heads(conns as u32, rounds, piece, SMALL);
    within(&o, SMALL);
    let gone = model_give_ups(conns, rounds, |r| (r + 1) * piece, SMALL.max_memory);
    let given_up = gone.iter().flatten().count() as u64;
    let given_up_bytes: u64 = gone
        .iter()
        .flatten()
        .map(|r| ((r + 1) * piece) as u64)
        .sum();
    let kept = conns as u64 - given_up;
    assert_eq!((given_up, given_up_bytes), (7952, 1_694_560));
    assert_eq!(kept * (rounds * piece) as u64, SMALL.max_memory as u64);
    assert_eq!(o.peak, SMALL.max_memory as u64);
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.requests", conns as u64),
            ("http.truncated_incomplete", kept),
            ("http.truncated_memory", given_up),
            ("http.unanswered", conns as u64),
            ("tcp.closed_end_of_input", kept),
            ("tcp.closed_memory", given_up),
            ("tcp.flows_opened", conns as u64),
            ("tcp.given_up_bytes", given_up_bytes),
            ("tcp.given_up_flows", given_up),
            ("tcp.payload_bytes", (conns * rounds * piece) as u64),
            ("tcp.segments", (conns + conns * rounds) as u64),
        ]
    );
}

#[test]
fn slow_heads_past_the_head_limit_are_rejected_at_it() {
    // 100 connections trickle 16 bytes at a time up to 67,200 bytes of head: each is rejected
    // once it passes DEFAULT_MAX_HEAD (64 KiB), its bytes skipped and counted.
    let (conns, rounds, piece) = (100u64, 4200u64, 16u64);
    let o = slow_heads(conns as u32, rounds as usize, piece as usize, READ_DEFAULTS);
    within(&o, READ_DEFAULTS);
    assert_eq!(DEFAULT_MAX_HEAD, 65_536);
    // Bound: max_head + 1 bytes per connection; measured after each segment, a head that
    // reached the limit exactly is what each holds at most.
    assert_eq!(o.peak, conns * DEFAULT_MAX_HEAD as u64);
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.framing_errors", conns),
            ("http.resync_skipped_bytes", conns * rounds * piece),
            ("tcp.closed_end_of_input", conns),
            ("tcp.flows_opened", conns),
            ("tcp.payload_bytes", conns * rounds * piece),
            ("tcp.segments", conns + conns * rounds),
        ]
    );
    assert!(o.records.is_empty());
}

// ----- 3. one endless chunked body -----

/// Payload bytes of the endless upload: head, then 4 KiB chunks with their size lines.
fn upload_bytes(total: u64) -> u64 {
    CHUNKED_HEAD.len() as u64 + total / 4096 * (4096 + 8)
}

#[test]
fn an_endless_chunked_body_under_max_body_keeps_memory_flat() {
    let total = 1u64 << 30;
    let o = endless_chunked(total, SMALL);
    within(&o, SMALL);
    let payload = upload_bytes(total);
    // Bound: the head and --max-body bytes of the body, whatever the body's length.
    assert_eq!(o.peak, CHUNKED_HEAD.len() as u64 + 65_536);
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.requests", 1),
            ("http.truncated_max_body", 1),
            ("http.unanswered", 1),
            ("tcp.closed_end_of_input", 1),
            ("tcp.flows_opened", 1),
            ("tcp.payload_bytes", payload),
            ("tcp.segments", 1 + payload.div_ceil(MSS as u64)),
        ]
    );
    assert_eq!(o.records("request.max_body"), 1);
}

#[test]
fn an_endless_chunked_body_kept_whole_is_given_up_at_the_flow_share() {
    // No --max-body: the body is stored, so the connection is given up when it holds more than
    // --max-flow-memory (16 MiB), not when all connections together reach --max-memory.
    let total = 256u64 << 20;
    let o = endless_chunked(total, READ_DEFAULTS);
    within(&o, READ_DEFAULTS);
    let payload = upload_bytes(total);
    let share = READ_DEFAULTS.max_flow as u64;
    // Everything delivered is stored: the first full segment that takes it over the share.
    let segments_kept = share / MSS as u64;
    assert_eq!(o.peak, segments_kept * MSS as u64);
    assert!(o.peak <= share);
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.requests", 1),
            ("http.truncated_memory", 1),
            ("http.unanswered", 1),
            ("tcp.closed_memory", 1),
            ("tcp.flows_opened", 1),
            ("tcp.given_up_bytes", (segments_kept + 1) * MSS as u64),
            ("tcp.given_up_flows", 1),
            ("tcp.payload_bytes", payload),
            ("tcp.segments", 1 + payload.div_ceil(MSS as u64)),
        ]
    );
}

// ----- 4. and 5. oversized heads -----

#[test]
fn a_hundred_thousand_tiny_headers_are_rejected_and_the_next_request_kept() {
    let o = tiny_headers(100_000, READ_DEFAULTS);
    within(&o, READ_DEFAULTS);
    let before_after = 20 + 100_000 * 5 + 2;
    let payload = before_after + AFTER.len() as u64;
    // Bound: the head limit; the head was given up when it passed it.
    assert!(o.peak <= DEFAULT_MAX_HEAD as u64 + 1);
    assert_eq!(o.peak, (DEFAULT_MAX_HEAD / MSS * MSS) as u64);
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.framing_errors", 1),
            ("http.requests", 1),
            ("http.resync_skipped_bytes", before_after),
            ("http.unanswered", 1),
            ("tcp.closed_end_of_input", 1),
            ("tcp.flows_opened", 1),
            ("tcp.payload_bytes", payload),
            ("tcp.segments", 1 + payload.div_ceil(MSS as u64)),
        ]
    );
    assert_eq!(o.records("request.whole"), 1);
}

#[test]
fn a_hundred_thousand_tiny_headers_one_a_segment_are_rejected_in_linear_time() {
    // Each segment makes the framer look at the head again; it resumes where it stopped, so the
    // work is linear (the test's run time shows it; no timed assertion).
    let o = tiny_headers_trickled(100_000, READ_DEFAULTS);
    within(&o, READ_DEFAULTS);
    let before_after = 20 + 100_000 * 5 + 2;
    let payload = before_after + AFTER.len() as u64;
    // The head held grows 5 bytes a segment up to the limit: 20 + 5 × 13,103 = 65,535 bytes.
    assert_eq!(o.peak, 65_535);
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.framing_errors", 1),
            ("http.requests", 1),
            ("http.resync_skipped_bytes", before_after),
            ("http.unanswered", 1),
            ("tcp.closed_end_of_input", 1),
            ("tcp.flows_opened", 1),
            ("tcp.payload_bytes", payload),
            ("tcp.segments", 1 + 1 + 100_000 + 1),
        ]
    );
    assert_eq!(o.records("request.whole"), 1);
}

#[test]
fn thirteen_thousand_tiny_headers_within_the_limit_are_parsed() {
    let o = tiny_headers(13_000, READ_DEFAULTS);
    within(&o, READ_DEFAULTS);
    let head = 20 + 13_000 * 5 + 2;
    assert!(head <= DEFAULT_MAX_HEAD as u64);
    assert_eq!(o.get("http.framing_errors"), 0);
    assert_eq!(o.get("http.requests"), 2);
    assert_eq!(o.records("request.whole"), 2);
    assert!(o.peak <= DEFAULT_MAX_HEAD as u64);
}

#[test]
fn a_one_mebibyte_header_line_is_rejected_and_the_next_request_kept() {
    let o = big_header_line(1 << 20, READ_DEFAULTS);
    within(&o, READ_DEFAULTS);
    let before_after = 26 + (1 << 20) + 4;
    let payload = before_after + AFTER.len() as u64;
    assert!(o.peak <= DEFAULT_MAX_HEAD as u64 + 1);
    assert_eq!(o.peak, (DEFAULT_MAX_HEAD / MSS * MSS) as u64);
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.framing_errors", 1),
            ("http.requests", 1),
            ("http.resync_skipped_bytes", before_after),
            ("http.unanswered", 1),
            ("tcp.closed_end_of_input", 1),
            ("tcp.flows_opened", 1),
            ("tcp.payload_bytes", payload),
            ("tcp.segments", 1 + payload.div_ceil(MSS as u64)),
        ]
    );
    assert_eq!(o.records("request.whole"), 1);
}

// ----- 6. responses with no request -----

#[test]
fn responses_with_no_request_are_orphans_and_at_most_sixteen_wait() {
    let (conns, per_conn) = (10_000u64, 20u64);
    let o = orphans(conns as u32, per_conn as u32, READ_DEFAULTS);
    within(&o, READ_DEFAULTS);
    let len = RESPONSE.len() as u64;
    // Bound: a response whose request may still come waits, at most 16 (and 64 KiB) per
    // connection; the 17th sends the oldest out as an orphan.
    assert_eq!(o.peak, conns * 16 * len);
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.orphans", conns * per_conn),
            ("tcp.closed_end_of_input", conns),
            ("tcp.flows_opened", conns),
            ("tcp.payload_bytes", conns * per_conn * len),
            ("tcp.segments", conns * per_conn),
        ]
    );
    assert_eq!(o.records("orphan"), conns * per_conn);
    assert_eq!(o.records("request"), 0);
}

#[test]
fn responses_with_no_request_over_a_small_budget_give_up_as_the_model_does() {
    let (conns, per_conn) = (10_000usize, 20usize);
    let o = orphans(conns as u32, per_conn as u32, SMALL);
    within(&o, SMALL);
    let len = RESPONSE.len();
    let waiting = |r: usize| (r + 1).min(16) * len;
    let gone = model_give_ups(conns, per_conn, waiting, SMALL.max_memory);
    let given_up = gone.iter().flatten().count() as u64;
    let given_up_bytes: u64 = gone.iter().flatten().map(|&r| waiting(r) as u64).sum();
    // A given-up connection's waiting responses come out as orphans; its later ones are
    // absorbed unparsed (counted in tcp.payload_bytes only).
    let orphans: u64 = gone
        .iter()
        .map(|g| g.map_or(per_conn, |r| r + 1) as u64)
        .sum();
    assert_eq!((given_up, orphans), (8476, 80_428));
    assert_eq!(
        o.nonzero(),
        vec![
            ("http.orphans", orphans),
            ("tcp.closed_end_of_input", conns as u64 - given_up),
            ("tcp.closed_memory", given_up),
            ("tcp.flows_opened", conns as u64),
            ("tcp.given_up_bytes", given_up_bytes),
            ("tcp.given_up_flows", given_up),
            ("tcp.payload_bytes", (conns * per_conn * len) as u64),
            ("tcp.segments", (conns * per_conn) as u64),
        ]
    );
}
