//! A small pcap driver for the extractor's tests on real captures: libpcap reads frames,
//! etherparse decodes them, and a deliberately simple in-order reassembler (out-of-order segments
//! held, overlaps trimmed, holes reported as gaps, snaplen cuts reported as snaplen gaps) calls the
//! StreamHandler methods the way the real TCP stage does. It is test scaffolding, not the TCP
//! stage: it exists so the HTTP stage can be checked on real traffic on its own.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TcpSlice};
use reel::exchange::Record;
use reel::http::{ExtractConfig, ExtractStats, Extractor, HttpConn};
use reel::tcp::{CloseReason, ConnInfo, Dir, GapCause, Interest, StreamHandler};

struct Seg {
    ts: u64,
    data: Vec<u8>,
    missing: u32,
}

#[derive(Default)]
struct Side {
    next: Option<u32>,
    pending: BTreeMap<u64, (u32, Seg)>,
    fin_at: Option<u32>,
    fin_done: bool,
}

struct Flow {
    info: ConnInfo,
    conn: HttpConn,
    sides: [Side; 2],
    skip: bool,
}

fn dir_of(i: usize) -> Dir {
    if i == 0 {
        Dir::FromInitiator
    } else {
        Dir::FromResponder
    }
}

struct Driver {
    ex: Extractor,
    flows: HashMap<(SocketAddr, SocketAddr), Flow>,
    next_id: u64,
    records: Vec<Record>,
}

impl Driver {
    fn deliver(&mut self, key: (SocketAddr, SocketAddr), d: usize, seg: Seg) {
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        let dir = dir_of(d);
        if !flow.skip
            && !seg.data.is_empty()
            && self
                .ex
                .data(&mut flow.conn, &flow.info, dir, seg.ts, &seg.data)
                == Interest::Skip
        {
            flow.skip = true;
        }
        if !flow.skip && seg.missing > 0 {
            let r = self.ex.gap(
                &mut flow.conn,
                &flow.info,
                dir,
                seg.ts,
                u64::from(seg.missing),
                GapCause::Snaplen,
            );
            if r == Interest::Skip {
                flow.skip = true;
            }
        }
    }

    /// Delivers what is now in order on side `d`, reporting holes when too much waits.
    fn drain(&mut self, key: (SocketAddr, SocketAddr), d: usize, force: bool) {
        loop {
            let Some(flow) = self.flows.get_mut(&key) else {
                return;
            };
            let side = &mut flow.sides[d];
            let Some(next) = side.next else {
                return;
            };
            // Re-key pending segments relative to `next` (wrap-aware).
            let Some((&_k, _)) = side.pending.iter().next() else {
                break;
            };
            let (seq, seg) = {
                let mut best: Option<(i64, u64)> = None;
                for (&k, (seq, _)) in side.pending.iter() {
                    let rel = i64::from(seq.wrapping_sub(next) as i32);
                    if best.is_none_or(|(b, _)| rel < b) {
                        best = Some((rel, k));
                    }
                }
                let Some((rel, k)) = best else { break };
                if rel > 0 && !(force || side.pending.len() > 64) {
                    break;
                }
                let Some((seq, seg)) = side.pending.remove(&k) else {
                    break;
                };
                (seq, seg)
            };
            let rel = i64::from(seq.wrapping_sub(next) as i32);
            let end_rel = rel + seg.data.len() as i64 + i64::from(seg.missing);
            if end_rel <= 0 {
                continue;
            }
            if rel > 0 {
                let ts = seg.ts;
                let info = flow.info.clone();
                if !flow.skip
                    && self.ex.gap(
                        &mut flow.conn,
                        &info,
                        dir_of(d),
                        ts,
                        rel as u64,
                        GapCause::Loss,
                    ) == Interest::Skip
                {
                    flow.skip = true;
                }
                self.records.extend(self.ex.drain());
            }
            let skip = (-rel).max(0) as usize;
            let data = seg.data.get(skip..).unwrap_or_default().to_vec();
            let missing = if skip > seg.data.len() {
                seg.missing - (skip - seg.data.len()) as u32
            } else {
                seg.missing
            };
            let Some(flow) = self.flows.get_mut(&key) else {
                return;
            };
            flow.sides[d].next = Some(next.wrapping_add(end_rel as u32));
            self.deliver(
                key,
                d,
                Seg {
                    ts: seg.ts,
                    data,
                    missing,
                },
            );
            self.records.extend(self.ex.drain());
        }
        self.check_fin(key, d);
    }

    fn check_fin(&mut self, key: (SocketAddr, SocketAddr), d: usize) {
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        let side = &mut flow.sides[d];
        if let (Some(next), Some(fin), false) = (side.next, side.fin_at, side.fin_done) {
            if next == fin && side.pending.is_empty() {
                side.fin_done = true;
                let info = flow.info.clone();
                self.ex.fin(&mut flow.conn, &info, dir_of(d), 0);
                self.records.extend(self.ex.drain());
            }
        }
    }

    fn close(&mut self, key: (SocketAddr, SocketAddr), reason: CloseReason, ts: u64) {
        for d in 0..2 {
            self.drain(key, d, true);
        }
        if let Some(flow) = self.flows.remove(&key) {
            let reason =
                if reason == CloseReason::EndOfInput && flow.sides.iter().all(|s| s.fin_done) {
                    CloseReason::Fin
                } else {
                    reason
                };
            self.ex.close(flow.conn, &flow.info, ts, reason);
            self.records.extend(self.ex.drain());
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        ts: u64,
        src: SocketAddr,
        dst: SocketAddr,
        tcp: &TcpSlice<'_>,
        missing: u32,
    ) {
        let (key, d) = if self.flows.contains_key(&(src, dst)) {
            ((src, dst), 0)
        } else if self.flows.contains_key(&(dst, src)) {
            ((dst, src), 1)
        } else {
            if tcp.rst() {
                return;
            }
            let syn_ack = tcp.syn() && tcp.ack();
            let (initiator, responder, d) = if syn_ack {
                (dst, src, 1)
            } else {
                (src, dst, 0)
            };
            self.next_id += 1;
            let info = ConnInfo {
                id: self.next_id,
                initiator,
                responder,
                handshake_seen: tcp.syn(),
            };
            let conn = self.ex.open(&info);
            self.flows.insert(
                (initiator, responder),
                Flow {
                    info,
                    conn,
                    sides: [Side::default(), Side::default()],
                    skip: false,
                },
            );
            ((initiator, responder), d)
        };
        if tcp.rst() {
            self.close(key, CloseReason::Rst, ts);
            return;
        }
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        let side = &mut flow.sides[d];
        let mut seq = tcp.sequence_number();
        if tcp.syn() {
            seq = seq.wrapping_add(1);
            if side.next.is_none() {
                side.next = Some(seq);
            }
        }
        let payload = tcp.payload();
        if side.next.is_none() && (!payload.is_empty() || missing > 0) {
            side.next = Some(seq);
        }
        if tcp.fin() {
            side.fin_at = Some(seq.wrapping_add(payload.len() as u32 + missing));
        }
        if !payload.is_empty() || missing > 0 {
            let k = u64::from(seq) << 20 | (side.pending.len() as u64 & 0xfffff);
            side.pending.insert(
                k,
                (
                    seq,
                    Seg {
                        ts,
                        data: payload.to_vec(),
                        missing,
                    },
                ),
            );
        }
        self.drain(key, d, false);
        if let Some(flow) = self.flows.get(&key) {
            if flow.sides.iter().all(|s| s.fin_done) {
                self.close(key, CloseReason::Fin, ts);
            }
        }
    }
}

fn addrs(net: &LaxNetSlice<'_>) -> Option<(IpAddr, IpAddr)> {
    match net {
        LaxNetSlice::Ipv4(ip) => Some((
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
        )),
        LaxNetSlice::Ipv6(ip) => Some((
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
        )),
        LaxNetSlice::Arp(_) => None,
    }
}

fn decode(linktype: i32, data: &[u8]) -> Option<LaxSlicedPacket<'_>> {
    match linktype {
        1 => LaxSlicedPacket::from_ethernet(data).ok(),
        113 => {
            let proto = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
            Some(LaxSlicedPacket::from_ether_type(
                EtherType(proto),
                data.get(16..)?,
            ))
        }
        276 => {
            let proto = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            Some(LaxSlicedPacket::from_ether_type(
                EtherType(proto),
                data.get(20..)?,
            ))
        }
        0 | 108 => LaxSlicedPacket::from_ip(data.get(4..)?).ok(),
        12 | 14 | 101 | 228 | 229 => LaxSlicedPacket::from_ip(data).ok(),
        _ => None,
    }
}

/// Runs the extractor over a capture file; `None` when libpcap cannot open it.
pub fn extract(path: &Path, config: ExtractConfig) -> Option<(Vec<Record>, ExtractStats)> {
    let mut cap = pcap::Capture::from_file(path).ok()?;
    let linktype = cap.get_datalink().0;
    let mut driver = Driver {
        ex: Extractor::new(config),
        flows: HashMap::new(),
        next_id: 0,
        records: Vec::new(),
    };
    let mut last_ts = 0;
    while let Ok(packet) = cap.next_packet() {
        let h = packet.header;
        let ts = (h.ts.tv_sec as u64) * 1_000_000_000 + (h.ts.tv_usec as u64) * 1_000;
        last_ts = ts;
        let Some(p) = decode(linktype, packet.data) else {
            continue;
        };
        let Some(net) = p.net.as_ref() else {
            continue;
        };
        let Some((sip, dip)) = addrs(net) else {
            continue;
        };
        let Some(ipp) = net.ip_payload_ref() else {
            continue;
        };
        if ipp.ip_number != etherparse::IpNumber::TCP || ipp.fragmented {
            continue;
        }
        let Ok(tcp) = TcpSlice::from_slice(ipp.payload) else {
            continue;
        };
        let missing = h.len.saturating_sub(h.caplen);
        let src = SocketAddr::new(sip, tcp.source_port());
        let dst = SocketAddr::new(dip, tcp.destination_port());
        driver.segment(ts, src, dst, &tcp, missing);
    }
    let keys: Vec<_> = driver.flows.keys().copied().collect();
    for key in keys {
        driver.close(key, CloseReason::EndOfInput, last_ts);
    }
    let stats = driver.ex.stats().clone();
    Some((driver.records, stats))
}
