//! The offline source: bad input gives the right error or count (never a panic), filters,
//! pcapng files that mix link types, timestamps.

use std::path::{Path, PathBuf};

use reel::capture::{CaptureError, OfflineSource, linktype};
use reel::exit::{Classify, Status};

/// `../shared/captures/public` next to the checkout (or next to the worktree folder).
fn public() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = ["../shared/captures/public", "../../shared/captures/public"]
        .iter()
        .map(|rel| manifest.join(rel))
        .find(|dir| dir.join("INDEX.tsv").is_file());
    if found.is_none() {
        eprintln!("skipped: ../shared/captures not found");
    }
    found
}

/// (ts_ns, linktype, captured length) of one frame.
type Seen = (u64, i32, usize);

/// Every frame of the files, and the source (for its per-file stats).
fn read_all(
    paths: &[PathBuf],
    filter: Option<&str>,
) -> Result<(Vec<Seen>, OfflineSource), CaptureError> {
    let mut source = OfflineSource::open(paths, filter)?;
    let mut frames = Vec::new();
    while let Some(frame) = source.next_frame()? {
        frames.push((frame.ts_ns, frame.linktype, frame.data.len()));
    }
    Ok((frames, source))
}

fn open_error(path: &Path) -> CaptureError {
    match OfflineSource::open(&[path.to_owned()], None) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(err) => err,
    }
}

#[test]
fn missing_file_directory_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pcap");
    let err = open_error(&missing);
    assert!(matches!(err, CaptureError::NotFound { .. }), "{err:?}");
    assert_eq!(err.status(), Status::BadInput);
    assert_eq!(
        err.to_string(),
        format!("{}: no such file", missing.display())
    );

    let err = open_error(dir.path());
    assert!(matches!(err, CaptureError::NotAFile { .. }), "{err:?}");
    assert_eq!(err.status(), Status::BadInput);

    let err = OfflineSource::open(&[], None).err().unwrap();
    assert!(matches!(err, CaptureError::NoFiles));
    assert_eq!(err.to_string(), "--read: no capture file given");
}

#[test]
fn text_and_empty_files_are_not_captures() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "GET / HTTP/1.1\r\nHost: example\r\n\r\n").unwrap();
    let err = open_error(&text);
    assert!(matches!(err, CaptureError::NotACapture { .. }), "{err:?}");
    assert_eq!(err.status(), Status::BadInput);
    assert!(
        err.to_string().starts_with(&format!(
            "{}: not a pcap or pcapng capture file",
            text.display()
        )),
        "{err}"
    );

    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let err = open_error(&empty);
    assert!(matches!(err, CaptureError::CorruptHeader { .. }), "{err:?}");
    assert_eq!(err.status(), Status::BadInput);
}

#[test]
fn truncated_file_headers_are_errors() {
    let Some(public) = public() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (rel, keep) in [
        ("zeek/http/get.pcap", 10),
        ("zeek/http/get.pcap", 23),
        ("ndpi/webdav.pcap", 20),
    ] {
        let bytes = std::fs::read(public.join(rel)).unwrap();
        let cut = dir.path().join("cut");
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let err = open_error(&cut);
        assert!(
            matches!(err, CaptureError::CorruptHeader { .. }),
            "{rel} {keep}: {err:?}"
        );
        assert!(err.to_string().contains("ends inside its header"), "{err}");
        assert_eq!(err.status(), Status::BadInput);
    }
}

#[test]
fn files_cut_mid_record_keep_the_frames_before() {
    let Some(public) = public() else { return };
    let dir = tempfile::tempdir().unwrap();
    // get.pcap: records end at 118, 208, 290…; cut inside the third record's data and inside
    // the fourth record's header.
    let bytes = std::fs::read(public.join("zeek/http/get.pcap")).unwrap();
    for (keep, frames) in [(250, 2), (295, 3), (118, 1)] {
        let cut = dir.path().join(format!("get-{keep}.pcap"));
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let (read, source) = read_all(std::slice::from_ref(&cut), None).unwrap();
        assert_eq!(read.len(), frames, "cut at {keep}");
        let truncated = keep != 118;
        assert_eq!(
            source.truncated_files(),
            u64::from(truncated),
            "cut at {keep}"
        );
        assert_eq!(source.file_stats()[0].truncated, truncated);
        assert_eq!(source.file_stats()[0].frames, frames as u64);
    }
    // pcapng: cut inside a block.
    let bytes = std::fs::read(public.join("ndpi/webdav.pcap")).unwrap();
    let cut = dir.path().join("webdav-cut.pcapng");
    std::fs::write(&cut, &bytes[..3000]).unwrap();
    let (read, source) = read_all(&[cut], None).unwrap();
    assert!(!read.is_empty() && read.len() < 92, "{}", read.len());
    assert_eq!(source.truncated_files(), 1);
}

#[test]
fn an_absurd_record_length_is_a_corrupt_record() {
    let Some(public) = public() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(public.join("zeek/http/get.pcap")).unwrap();
    // The second record's captured length (record header at 118, caplen at +8).
    bytes[118 + 8..118 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let bad = dir.path().join("bad.pcap");
    std::fs::write(&bad, &bytes).unwrap();
    let mut source = OfflineSource::open(std::slice::from_ref(&bad), None).unwrap();
    assert!(source.next_frame().unwrap().is_some());
    let err = source.next_frame().expect_err("an error");
    assert!(
        matches!(err, CaptureError::CorruptRecord { frames_read: 1, .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), Status::BadInput);
    assert!(
        err.to_string()
            .starts_with(&format!("{}: corrupt record after frame 1", bad.display()))
    );
    // The file that failed is closed; the source ends.
    assert!(source.next_frame().unwrap().is_none());
}

#[test]
fn bad_filters_name_the_flag() {
    let Some(public) = public() else { return };
    let path = public.join("zeek/http/get.pcap");
    let err = OfflineSource::open(&[path], Some("tcp port eighty"))
        .err()
        .unwrap();
    assert!(matches!(err, CaptureError::BadFilter { .. }), "{err:?}");
    assert_eq!(err.status(), Status::BadInput);
    assert!(
        err.to_string()
            .starts_with("--filter \"tcp port eighty\": "),
        "{err}"
    );
}

#[test]
fn filters_select_frames() {
    let Some(public) = public() else { return };
    let path = vec![public.join("zeek/http/get.pcap")];
    assert_eq!(read_all(&path, Some("tcp port 80")).unwrap().0.len(), 14);
    assert_eq!(read_all(&path, Some("udp")).unwrap().0.len(), 0);
    assert_eq!(
        read_all(&path, Some("src host 141.142.228.5"))
            .unwrap()
            .0
            .len(),
        7
    );
}

#[test]
fn pcapng_with_mixed_link_types_falls_back_to_reels_reader() {
    let Some(public) = public() else { return };
    let path = vec![public.join("pcapplusplus/pcapng-example.pcapng")];
    let (frames, source) = read_all(&path, None).unwrap();
    assert_eq!(frames.len(), 159);
    let ethernet = frames.iter().filter(|f| f.1 == linktype::EN10MB).count();
    let cooked = frames.iter().filter(|f| f.1 == linktype::LINUX_SLL).count();
    assert_eq!((ethernet, cooked), (59, 100));
    // libpcap's frames (first interface) then reel's (second interface, snaplen 128).
    assert_eq!(frames[0].0, 1_422_527_998_578_402_281);
    assert_eq!(frames[58].0, 1_422_528_033_092_194_163);
    assert!(frames[59..].iter().all(|f| f.2 <= 128));
    let stats = &source.file_stats()[0];
    assert!(stats.pcapng_fallback);
    assert_eq!(stats.linktypes, [linktype::EN10MB, linktype::LINUX_SLL]);
    assert_eq!(stats.frames, 159);

    // Filters are run per link type after the fallback (tshark: 59 and 91 frames).
    let (frames, _) = read_all(&path, Some("tcp port 3306")).unwrap();
    assert_eq!(frames.len(), 59);
    let (frames, _) = read_all(&path, Some("tcp port 6000")).unwrap();
    assert_eq!(frames.len(), 91);
    assert!(frames.iter().all(|f| f.1 == linktype::LINUX_SLL));

    // A filter that only makes sense for the first link type is refused at the second.
    let mut source =
        OfflineSource::open(&path, Some("ether host 00:00:00:00:00:00 or tcp")).unwrap();
    let err = loop {
        match source.next_frame() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error"),
            Err(err) => break err,
        }
    };
    assert!(matches!(err, CaptureError::BadFilter { .. }), "{err:?}");
    assert!(err.to_string().contains("for link type 113"), "{err}");
}

#[test]
fn timestamps_and_formats() {
    let Some(public) = public() else { return };
    // Big-endian, nanosecond resolution.
    let (frames, _) = read_all(
        &[public.join("pcapplusplus/nanosecs_big_endian.pcap")],
        None,
    )
    .unwrap();
    assert_eq!(frames.len(), 10);
    assert_eq!(frames[0].0, 1_766_361_926_167_647_291);
    assert_eq!(frames[1].0, 1_766_361_926_167_658_091);
    // Microsecond pcap, scaled to ns.
    let (frames, _) = read_all(&[public.join("zeek/http/get.pcap")], None).unwrap();
    assert_eq!(frames[0].0 % 1000, 0);
    // pcapng with a .pcap name.
    let (frames, source) = read_all(&[public.join("ndpi/webdav.pcap")], None).unwrap();
    assert_eq!(frames.len(), 92);
    assert!(!source.file_stats()[0].pcapng_fallback);
}

#[test]
fn one_bad_file_among_several_is_named() {
    let Some(public) = public() else { return };
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("second.txt");
    std::fs::write(&text, "hello").unwrap();
    let err = OfflineSource::open(&[public.join("zeek/http/get.pcap"), text.clone()], None)
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with(&text.display().to_string()),
        "{err}"
    );
}

#[test]
fn an_absurd_snaplen_in_the_file_header_is_read_as_libpcap_reads_it() {
    // libpcap (and tcpdump, tshark) take a 0 or huge header snaplen as "no limit"; the records
    // are what is checked (see an_absurd_record_length_is_a_corrupt_record).
    let Some(public) = public() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(public.join("zeek/http/get.pcap")).unwrap();
    for snaplen in [0u32, u32::MAX] {
        bytes[16..20].copy_from_slice(&snaplen.to_le_bytes());
        let path = dir.path().join("snaplen.pcap");
        std::fs::write(&path, &bytes).unwrap();
        let (frames, _) = read_all(&[path], None).unwrap();
        assert_eq!(frames.len(), 14, "snaplen {snaplen}");
    }
    // A pcap version no reader knows is a corrupt header.
    bytes[4..6].copy_from_slice(&9u16.to_le_bytes());
    let path = dir.path().join("version.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let err = open_error(&path);
    assert!(matches!(err, CaptureError::CorruptHeader { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("unsupported pcap savefile version 9.4"),
        "{err}"
    );
}
