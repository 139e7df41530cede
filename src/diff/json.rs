//! The streaming JSON walk: a byte-level tokenizer that builds no tree. Every value position is a
//! path template (`$.items[].price`: object keys named, array indexes erased); each template keeps
//! one hash of its values in document order, so object key order never matters and array order
//! does. Every value also gets a canonical subtree hash (objects order-free, arrays in sequence)
//! that feeds its array's length, multiset and sequence hashes.
//!
//! Caps: templates are tracked to depth [`MAX_DEPTH`], [`MAX_ELEMENTS`] elements per array and
//! [`MAX_TEMPLATES`] templates per response (the rest fold into `$(more)`); values beyond still
//! count in the hashes of the arrays that hold them. Nesting beyond [`MAX_NESTING`] is an error.
//! Never panics on any bytes; linear in the input.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use memchr::memchr2;
use xxhash_rust::xxh3::xxh3_64;

use super::intern::{NONE, PathId};
use super::number::number_hash;
use super::{Flags, ValueKind, fmix, seq, tagged};

/// Templates are tracked to this depth.
pub(crate) const MAX_DEPTH: usize = 64;
/// Templates per response; the rest fold into [`MORE`].
pub(crate) const MAX_TEMPLATES: usize = 256;
/// Elements per array whose paths are tracked.
pub(crate) const MAX_ELEMENTS: u64 = 10_000;
/// Deeper nesting is not JSON reel compares (it would only be an attack on the stack of others).
pub(crate) const MAX_NESTING: usize = 1024;
/// The template the paths beyond [`MAX_TEMPLATES`] fold into.
pub(crate) const MORE: &str = "$(more)";

const TAG_NULL: u8 = 1;
const TAG_BOOL: u8 = 2;
const TAG_NUMBER: u8 = 3;
const TAG_STRING: u8 = 4;
const TAG_OBJECT: u8 = 5;
const TAG_ARRAY: u8 = 6;
const ELEMENT: u64 = 0x5b5d_5b5d_5b5d_5b5d;
const ROOT: u64 = 0x2424_2424_2424_2424;
const MULTISET: u64 = 0x6d75_6c74_6973_6574;

/// Template keys are already hashes: the map uses them as they are.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The JSON is not valid (the caller compares the body as text instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

/// What the walk learned about one template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    start: usize,
    end: usize,
    /// Values in document order (or as a multiset under an unordered array).
    pub hash: u64,
    /// Arrays: element sequences.
    pub order: u64,
    /// Arrays: total elements.
    pub len: u64,
    /// Occurrences.
    pub count: u64,
    /// The type of the occurrences (`Mixed` when they differ).
    pub kind: Option<ValueKind>,
    /// Index of the template of the innermost container above, or [`NONE`].
    pub under: PathId,
    /// Matched an ignore pattern: not reported, not hashed.
    pub ignored: bool,
    /// Matched an unordered pattern: this array's order is not compared.
    unordered_self: bool,
    /// Under an unordered array: values hashed as a multiset.
    in_unordered: bool,
}

/// Where the next value sits.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    key: u64,
    tracked: bool,
    ignored: bool,
    in_unordered: bool,
    under: PathId,
}

/// A resolved value position.
#[derive(Debug, Clone, Copy)]
struct Val {
    tmpl: Option<usize>,
    ctx: Ctx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    container: Container,
    val: Val,
    path_len: usize,
    /// Objects: sum of key contributions; arrays: sequence hash.
    acc: u64,
    /// Arrays: multiset sum.
    sum: u64,
    /// Keys or elements.
    n: u64,
    keys_start: usize,
    /// The key being read (objects).
    key: u64,
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    Value,
    KeyOrEnd,
    Key,
    Colon,
    ObjectNext,
    ValueOrEnd,
    ArrayNext,
    Done,
}

/// The reusable state of the walk (buffers kept between responses).
#[derive(Debug, Default)]
pub(crate) struct Walker {
    templates: Vec<Template>,
    index: HashMap<u64, usize, BuildHasherDefault<KeyHasher>>,
    arena: String,
    frames: Vec<Frame>,
    keys: Vec<(u64, u64)>,
    scratch: Vec<u8>,
    cur: String,
    more: Option<usize>,
    /// Facts found by the last walk (duplicate keys, caps).
    pub flags: Flags,
}

/// Per template path: (ignored, unordered), asked once per template and response.
pub(crate) trait Rules {
    /// Whether `path` is ignored and whether its order is not compared.
    fn rule(&self, path: &str) -> (bool, bool);
}

impl Walker {
    /// The templates of the last walk with their paths, in first-seen order.
    pub fn templates(&self) -> impl Iterator<Item = (&str, &Template)> {
        self.templates
            .iter()
            .map(|t| (&self.arena[t.start..t.end], t))
    }

    /// Walks `body`; returns the canonical hash of the whole document.
    pub fn walk(&mut self, body: &[u8], rules: &dyn Rules) -> Result<u64, Invalid> {
        self.templates.clear();
        self.index.clear();
        self.arena.clear();
        self.frames.clear();
        self.keys.clear();
        self.cur.clear();
        self.more = None;
        self.flags = Flags::default();
        self.cur.push('$');

        let mut next = Ctx {
            key: ROOT,
            tracked: true,
            ignored: false,
            in_unordered: false,
            under: NONE,
        };
        let mut state = Expect::Value;
        let mut root = 0;
        let mut i = 0;
        loop {
            i = skip_ws(body, i);
            let b = body.get(i).copied();
            state = match state {
                Expect::Done => {
                    return if b.is_none() { Ok(root) } else { Err(Invalid) };
                }
                Expect::Value => {
                    let b = b.ok_or(Invalid)?;
                    let val = self.resolve(next, rules);
                    match b {
                        b'{' | b'[' => {
                            if self.frames.len() >= MAX_NESTING {
                                return Err(Invalid);
                            }
                            let container = if b == b'{' {
                                Container::Object
                            } else {
                                Container::Array
                            };
                            self.frames.push(Frame {
                                container,
                                val,
                                path_len: self.cur.len(),
                                acc: 0,
                                sum: 0,
                                n: 0,
                                keys_start: self.keys.len(),
                                key: 0,
                            });
                            i += 1;
                            if container == Container::Object {
                                Expect::KeyOrEnd
                            } else {
                                Expect::ValueOrEnd
                            }
                        }
                        b'"' => {
                            let end = self.string(body, i)?;
                            let h = tagged(TAG_STRING, xxh3_64(&self.scratch));
                            i = end;
                            self.leaf(val, ValueKind::String, h, &mut root)
                        }
                        b't' | b'f' | b'n' => {
                            let (word, kind, h): (&[u8], _, _) = match b {
                                b't' => (b"true", ValueKind::Bool, tagged(TAG_BOOL, 1)),
                                b'f' => (b"false", ValueKind::Bool, tagged(TAG_BOOL, 0)),
                                _ => (b"null", ValueKind::Null, tagged(TAG_NULL, 0)),
                            };
                            if body.get(i..i + word.len()) != Some(word) {
                                return Err(Invalid);
                            }
                            i += word.len();
                            self.leaf(val, kind, h, &mut root)
                        }
                        b'-' | b'0'..=b'9' => {
                            let end = number_end(body, i).ok_or(Invalid)?;
                            let h = tagged(TAG_NUMBER, number_hash(&body[i..end]));
                            i = end;
                            self.leaf(val, ValueKind::Number, h, &mut root)
                        }
                        _ => return Err(Invalid),
                    }
                }
                Expect::KeyOrEnd | Expect::Key => match b {
                    Some(b'}') if matches!(state, Expect::KeyOrEnd) => {
                        i += 1;
                        self.close(&mut root)
                    }
                    Some(b'"') => {
                        let end = self.string(body, i)?;
                        i = end;
                        next = self.key_ctx();
                        Expect::Colon
                    }
                    _ => return Err(Invalid),
                },
                Expect::Colon => {
                    if b != Some(b':') {
                        return Err(Invalid);
                    }
                    i += 1;
                    Expect::Value
                }
                Expect::ObjectNext => match b {
                    Some(b',') => {
                        i += 1;
                        Expect::Key
                    }
                    Some(b'}') => {
                        i += 1;
                        self.close(&mut root)
                    }
                    _ => return Err(Invalid),
                },
                Expect::ValueOrEnd => match b {
                    Some(b']') => {
                        i += 1;
                        self.close(&mut root)
                    }
                    Some(_) => {
                        next = self.element_ctx();
                        Expect::Value
                    }
                    None => return Err(Invalid),
                },
                Expect::ArrayNext => match b {
                    Some(b',') => {
                        i += 1;
                        next = self.element_ctx();
                        Expect::Value
                    }
                    Some(b']') => {
                        i += 1;
                        self.close(&mut root)
                    }
                    _ => return Err(Invalid),
                },
            };
        }
    }

    /// The template of a value position (created on first sight), or none when untracked.
    fn resolve(&mut self, ctx: Ctx, rules: &dyn Rules) -> Val {
        if !ctx.tracked || ctx.ignored {
            return Val { tmpl: None, ctx };
        }
        let idx = match self.index.get(&ctx.key) {
            Some(&idx) => idx,
            None => {
                let idx = if self.templates.len() >= MAX_TEMPLATES {
                    self.flags.insert(Flags::MORE_PATHS);
                    match self.more {
                        Some(m) => m,
                        None => {
                            let m = self.push_template(MORE, NONE, (false, false), false);
                            self.more = Some(m);
                            m
                        }
                    }
                } else {
                    let rule = rules.rule(&self.cur);
                    let path = std::mem::take(&mut self.cur);
                    let idx = self.push_template(&path, ctx.under, rule, ctx.in_unordered);
                    self.cur = path;
                    idx
                };
                self.index.insert(ctx.key, idx);
                idx
            }
        };
        let t = &self.templates[idx];
        if t.ignored {
            return Val {
                tmpl: None,
                ctx: Ctx {
                    ignored: true,
                    tracked: false,
                    ..ctx
                },
            };
        }
        Val {
            tmpl: Some(idx),
            ctx,
        }
    }

    fn push_template(
        &mut self,
        path: &str,
        under: PathId,
        (ignored, unordered_self): (bool, bool),
        in_unordered: bool,
    ) -> usize {
        let start = self.arena.len();
        self.arena.push_str(path);
        self.templates.push(Template {
            start,
            end: self.arena.len(),
            hash: 0,
            order: 0,
            len: 0,
            count: 0,
            kind: None,
            under,
            ignored,
            unordered_self,
            in_unordered,
        });
        self.templates.len() - 1
    }

    /// Where the value after the key just read (in `scratch`) sits.
    fn key_ctx(&mut self) -> Ctx {
        let key_hash = xxh3_64(&self.scratch);
        let depth = self.frames.len();
        let Some(frame) = self.frames.last_mut() else {
            return Ctx {
                key: 0,
                tracked: false,
                ignored: false,
                in_unordered: false,
                under: NONE,
            };
        };
        frame.key = key_hash;
        let parent = frame.val;
        let tracked = parent.tmpl.is_some() && depth < MAX_DEPTH;
        if parent.tmpl.is_some() && !tracked {
            self.flags.insert(Flags::CAPPED);
        }
        if tracked {
            self.cur.truncate(frame.path_len);
            push_key(&mut self.cur, &self.scratch);
        }
        Ctx {
            key: seq(parent.ctx.key, key_hash),
            tracked,
            ignored: parent.ctx.ignored,
            in_unordered: parent.ctx.in_unordered,
            under: parent.tmpl.map_or(parent.ctx.under, |t| t as PathId),
        }
    }

    /// Where the next element of the innermost array sits.
    fn element_ctx(&mut self) -> Ctx {
        let depth = self.frames.len();
        let Some(frame) = self.frames.last() else {
            return Ctx {
                key: 0,
                tracked: false,
                ignored: false,
                in_unordered: false,
                under: NONE,
            };
        };
        let parent = frame.val;
        let tracked = parent.tmpl.is_some() && depth < MAX_DEPTH && frame.n < MAX_ELEMENTS;
        if parent.tmpl.is_some() && !tracked {
            self.flags.insert(Flags::CAPPED);
        }
        if tracked {
            self.cur.truncate(frame.path_len);
            self.cur.push_str("[]");
        }
        let (under, unordered) = match parent.tmpl {
            Some(t) => (t as PathId, self.templates[t].unordered_self),
            None => (parent.ctx.under, false),
        };
        Ctx {
            key: seq(parent.ctx.key, ELEMENT),
            tracked,
            ignored: parent.ctx.ignored,
            in_unordered: parent.ctx.in_unordered || unordered,
            under,
        }
    }

    /// A scalar value ended.
    fn leaf(&mut self, val: Val, kind: ValueKind, h: u64, root: &mut u64) -> Expect {
        if let Some(t) = val.tmpl {
            self.record(t, kind, h, 0, 0);
        }
        self.complete(h, val.ctx.ignored, root)
    }

    /// The innermost container ended.
    fn close(&mut self, root: &mut u64) -> Expect {
        let Some(frame) = self.frames.pop() else {
            return Expect::Done;
        };
        self.keys.truncate(frame.keys_start);
        self.cur.truncate(frame.path_len);
        let h = match frame.container {
            Container::Object => {
                if let Some(t) = frame.val.tmpl {
                    self.record(t, ValueKind::Object, tagged(TAG_OBJECT, 0), 0, 0);
                }
                tagged(TAG_OBJECT, fmix(frame.acc ^ frame.n))
            }
            Container::Array => {
                let multiset = fmix(frame.sum ^ frame.n);
                let sequence = seq(frame.acc, frame.n);
                let unordered = frame.val.ctx.in_unordered
                    || frame
                        .val
                        .tmpl
                        .is_some_and(|t| self.templates[t].unordered_self);
                if let Some(t) = frame.val.tmpl {
                    self.record(t, ValueKind::Array, multiset, sequence, frame.n);
                }
                tagged(TAG_ARRAY, if unordered { multiset } else { sequence })
            }
        };
        self.complete(h, frame.val.ctx.ignored, root)
    }

    /// A value of hash `h` ended: it joins its container (or is the document).
    fn complete(&mut self, h: u64, ignored: bool, root: &mut u64) -> Expect {
        let Some(frame) = self.frames.last_mut() else {
            *root = h;
            return Expect::Done;
        };
        match frame.container {
            Container::Object => {
                if !ignored {
                    let contribution = fmix(seq(frame.key, h));
                    let keys = &mut self.keys[frame.keys_start..];
                    if let Some(slot) = keys.iter_mut().find(|(k, _)| *k == frame.key) {
                        // Last wins.
                        frame.acc = frame.acc.wrapping_sub(slot.1).wrapping_add(contribution);
                        slot.1 = contribution;
                        self.flags.insert(Flags::DUPLICATE_KEYS);
                    } else {
                        frame.acc = frame.acc.wrapping_add(contribution);
                        frame.n += 1;
                        self.keys.push((frame.key, contribution));
                    }
                }
                Expect::ObjectNext
            }
            Container::Array => {
                if !ignored {
                    frame.acc = seq(frame.acc, h);
                    frame.sum = frame.sum.wrapping_add(fmix(h ^ MULTISET));
                }
                frame.n += 1;
                Expect::ArrayNext
            }
        }
    }

    fn record(&mut self, t: usize, kind: ValueKind, part: u64, order: u64, len: u64) {
        let tmpl = &mut self.templates[t];
        tmpl.kind = match tmpl.kind {
            None => Some(kind),
            Some(k) if k == kind => Some(k),
            Some(_) => Some(ValueKind::Mixed),
        };
        tmpl.count += 1;
        tmpl.len += len;
        if tmpl.in_unordered {
            tmpl.hash = tmpl.hash.wrapping_add(fmix(part ^ MULTISET));
        } else {
            tmpl.hash = seq(tmpl.hash, part);
        }
        if kind == ValueKind::Array && !tmpl.in_unordered && !tmpl.unordered_self {
            tmpl.order = seq(tmpl.order, order);
        }
    }

    /// Reads the string starting at `body[i] == '"'` into `scratch`, unescaped; returns the index
    /// after its closing quote.
    fn string(&mut self, body: &[u8], i: usize) -> Result<usize, Invalid> {
        self.scratch.clear();
        let mut at = i + 1;
        loop {
            let rest = body.get(at..).ok_or(Invalid)?;
            let found = memchr2(b'"', b'\\', rest).ok_or(Invalid)?;
            self.scratch.extend_from_slice(&rest[..found]);
            at += found;
            if body[at] == b'"' {
                return Ok(at + 1);
            }
            let esc = body.get(at + 1).copied().ok_or(Invalid)?;
            at += 2;
            let c = match esc {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let hi = hex4(body, at)?;
                    at += 4;
                    if (0xd800..0xdc00).contains(&hi) && body.get(at..at + 2) == Some(b"\\u") {
                        let lo = hex4(body, at + 2)?;
                        if (0xdc00..0xe000).contains(&lo) {
                            at += 6;
                            let cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                            char::from_u32(cp).unwrap_or('\u{fffd}')
                        } else {
                            '\u{fffd}'
                        }
                    } else {
                        char::from_u32(hi).unwrap_or('\u{fffd}')
                    }
                }
                _ => return Err(Invalid),
            };
            let mut buf = [0u8; 4];
            self.scratch
                .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

fn hex4(body: &[u8], at: usize) -> Result<u32, Invalid> {
    let digits = body.get(at..at + 4).ok_or(Invalid)?;
    let mut v = 0u32;
    for &d in digits {
        let x = (d as char).to_digit(16).ok_or(Invalid)?;
        v = v * 16 + x;
    }
    Ok(v)
}

fn skip_ws(body: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = body.get(i) {
        i += 1;
    }
    i
}

/// The end of the number token at `i`, checked against JSON's grammar.
fn number_end(body: &[u8], mut i: usize) -> Option<usize> {
    let digits = |i: &mut usize| {
        let start = *i;
        while body.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if body.get(i) == Some(&b'-') {
        i += 1;
    }
    if body.get(i) == Some(&b'0') {
        i += 1;
    } else if !digits(&mut i) {
        return None;
    }
    if body.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if let Some(b'e' | b'E') = body.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = body.get(i) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    Some(i)
}

/// Appends `.key`, or `["key"]` for a key that is not a plain word.
fn push_key(path: &mut String, key: &[u8]) {
    let plain = !key.is_empty()
        && key.iter().all(|&b| {
            b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$' || b == b'@'
        });
    let key = String::from_utf8_lossy(key);
    if plain {
        path.push('.');
        path.push_str(&key);
    } else {
        path.push('[');
        path.push_str(&serde_json::Value::String(key.into_owned()).to_string());
        path.push(']');
    }
}
