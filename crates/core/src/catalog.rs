//! The event catalog: QEMU's `trace-events` grammar, where catalogs are found,
//! and our own built-in specs for the events the qtrace tools decode.
//!
//! Grammar (one event per line, no continuation lines):
//! `[property ...] name(type arg, ...) ["format" PRIx64 "…"]`; blank lines and
//! `#` comments are skipped; `disable`, `tcg` and `vcpu` properties are
//! understood (`vcpu` adds a hidden `void *__cpu` argument and a `cpu=%p `
//! prefix; `tcg` events carry two formats and become `<name>_trans` and
//! `<name>_exec`). A malformed line becomes a warning naming file and line.
//!
//! Several specs may exist for one name (the same event in different QEMU
//! versions, or in several catalogs): they are tried in priority order and the
//! first whose format matches the line wins; the winner is tried first next
//! time.
//!
//! Loading is lazy: a catalog keeps the text of its sources and, at load,
//! only finds each declaration's event name (QEMU's catalog declares ~5,000
//! events; a tool reads a handful). A declaration's arguments and format are
//! parsed when its event is first looked up, and its format compiled on the
//! first line of that event. Problems found that late are kept for
//! [`Catalog::take_warnings`].

use std::cell::{Cell, OnceCell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::error::{EXCERPT_BYTES, Error, Result, excerpt};
use crate::format::{CFormat, Slot};
use crate::value::{Kind, Radix, Value};

/// Our own descriptions of the events the tools decode, all known variants.
const BUILTIN: &str = include_str!("builtin.trace-events");
/// Where QEMU installs its catalog.
pub const INSTALLED_CATALOGS: &[&str] = &[
    "/usr/share/qemu/trace-events-all",
    "/usr/local/share/qemu/trace-events-all",
];
/// Environment variable naming catalog files (separated by `:`).
pub const CATALOG_ENV: &str = "QTRACE_TRACE_EVENTS";

/// One declared argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// C type, e.g. `const char *`.
    pub ty: String,
    /// Name, e.g. `dev`.
    pub name: String,
}

/// Where a spec came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The catalog file (or `<built-in>`).
    pub path: Arc<str>,
    /// 1-based line number in it.
    pub line: u32,
}

/// One event declaration.
#[derive(Debug)]
pub struct EventSpec {
    /// Event name.
    pub name: String,
    /// Declared arguments (after the `vcpu` transform).
    pub args: Vec<Arg>,
    /// The format as C source (after the `vcpu` transform); `None` when absent.
    pub format: Option<String>,
    /// Declared with the `disable` property.
    pub disabled: bool,
    /// Where it was declared.
    pub origin: Origin,
    compiled: OnceCell<std::result::Result<Compiled, String>>,
    string_args: OnceCell<Box<[bool]>>,
}

/// A compiled spec: the matcher plus the name and kind of each value slot.
#[derive(Debug)]
pub struct Compiled {
    format: CFormat,
    names: Vec<Box<str>>,
    kinds: Vec<Kind>,
}

impl Compiled {
    /// Field names, in order.
    pub fn names(&self) -> &[Box<str>] {
        &self.names
    }
    /// Field kinds, in order.
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }
    /// The parsed format.
    pub fn format(&self) -> &CFormat {
        &self.format
    }
}

impl EventSpec {
    /// For each argument, whether the simple trace backend writes it as a
    /// string (computed once).
    pub fn string_args(&self) -> &[bool] {
        self.string_args.get_or_init(|| {
            self.args
                .iter()
                .map(|a| crate::simple::is_string_type(&a.ty))
                .collect()
        })
    }

    /// The compiled matcher, or why the format cannot be compiled.
    pub fn compiled(&self) -> std::result::Result<&Compiled, &str> {
        self.compiled
            .get_or_init(|| self.compile())
            .as_ref()
            .map_err(|e| e.as_str())
    }

    fn compile(&self) -> std::result::Result<Compiled, String> {
        let format = match &self.format {
            Some(src) => CFormat::parse(src)?,
            None => CFormat::from_pieces(Vec::new()),
        };
        let kinds = format.slot_kinds();
        let mut names = Vec::with_capacity(kinds.len());
        let mut args = self.args.iter();
        for (i, k) in kinds.iter().enumerate() {
            let name = if *k == Kind::Errno {
                "errno".to_string()
            } else {
                match args.next() {
                    Some(a) => a.name.clone(),
                    None => format!("arg{i}"),
                }
            };
            names.push(name.into_boxed_str());
        }
        Ok(Compiled {
            format,
            names,
            kinds,
        })
    }

    /// The declaration as one line of trace-events text.
    pub fn declaration(&self) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| {
                if a.ty.ends_with('*') {
                    format!("{}{}", a.ty, a.name)
                } else {
                    format!("{} {}", a.ty, a.name)
                }
            })
            .collect();
        let args = if args.is_empty() {
            "void".to_string()
        } else {
            args.join(", ")
        };
        match &self.format {
            Some(f) => format!("{}({}) {}", self.name, args, f),
            None => format!("{}({})", self.name, args),
        }
    }
}

/// The specs one name has, in priority order.
#[derive(Debug)]
struct NameEntry {
    /// The first spec declared under the name.
    first: u32,
    /// The others, in priority order (usually none: no allocation).
    more: Vec<u32>,
    /// Those that parse, without repeats (resolved on first use).
    specs: OnceCell<Vec<u32>>,
    /// The spec tried first.
    preferred: Cell<u32>,
}

/// A declaration line of a source, parsed when one of its events is first
/// looked up.
#[derive(Debug)]
struct Decl {
    source: u32,
    /// 1-based line number.
    line: u32,
    /// The line (trimmed) within its source's text.
    start: usize,
    end: usize,
    /// Its parse error was reported.
    warned: Cell<bool>,
}

/// One spec of a declaration (a `tcg` line declares two), parsed on demand.
#[derive(Debug)]
struct LazySpec {
    decl: u32,
    /// Which of the declaration's specs.
    sub: u8,
    /// Boxed: a spec is large, and most are never parsed.
    spec: OnceCell<Option<Box<EventSpec>>>,
}

/// A set of event specs from one or more catalogs, in priority order.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Each source: its name (for origins and messages) and its text.
    texts: Vec<(Arc<str>, String)>,
    decls: Vec<Decl>,
    /// Every declared spec, in load order; a spec's index is its place here.
    specs: Vec<LazySpec>,
    by_name: FxHashMap<Box<[u8]>, NameEntry>,
    warnings: RefCell<Vec<Error>>,
    sources: Vec<String>,
}

/// Which catalogs to load; see [`Catalog::load`].
#[derive(Debug, Clone)]
pub struct CatalogOptions {
    /// Files given with `--trace-events`, highest priority first.
    pub files: Vec<PathBuf>,
    /// Read the `QTRACE_TRACE_EVENTS` variable.
    pub env: bool,
    /// Look for QEMU's installed `trace-events-all`.
    pub installed: bool,
    /// Add the built-in specs.
    pub builtin: bool,
}

impl Default for CatalogOptions {
    fn default() -> Self {
        CatalogOptions {
            files: Vec::new(),
            env: true,
            installed: true,
            builtin: true,
        }
    }
}

/// The result of matching one message against a name's specs.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    spec: &'a EventSpec,
    compiled: &'a Compiled,
    message: &'a [u8],
    slots: &'a [Slot],
}

impl<'a> Fields<'a> {
    /// The spec whose format matched.
    pub fn spec(&self) -> &'a EventSpec {
        self.spec
    }
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.slots.len()
    }
    /// True when the event has no fields.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
    /// Field names in order.
    pub fn names(&self) -> &'a [Box<str>] {
        &self.compiled.names
    }
    /// The name of field `i`.
    pub fn name(&self, i: usize) -> &'a str {
        &self.compiled.names[i]
    }
    /// The kind of field `i`.
    pub fn kind(&self, i: usize) -> Kind {
        self.compiled.kinds[i]
    }
    /// Where the text of field `i` lies in the message.
    pub fn text_range(&self, i: usize) -> std::ops::Range<usize> {
        let s = self.slots[i];
        s.start as usize..s.end as usize
    }
    /// The text field `i` had in the message.
    pub fn text(&self, i: usize) -> &'a [u8] {
        let s = self.slots[i];
        &self.message[s.start as usize..s.end as usize]
    }
    /// The typed value of field `i`.
    pub fn value(&self, i: usize) -> Value<'a> {
        let s = self.slots[i];
        match self.compiled.kinds[i] {
            Kind::Signed => Value::Signed(s.num as i64),
            Kind::Unsigned(r) => Value::Unsigned(s.num, r),
            Kind::Width => Value::Unsigned(s.num, Radix::Dec),
            Kind::Pointer => Value::Pointer(if s.null { None } else { Some(s.num) }),
            Kind::Str | Kind::Errno => Value::Str(if s.null { None } else { Some(self.text(i)) }),
            Kind::Char => Value::Char(s.num as u8),
            Kind::Float => Value::Float(self.text(i)),
        }
    }
    /// Field `i` as an unsigned integer: integers (signed ones as two's
    /// complement), pointers (NULL is 0) and characters; 0 for strings and
    /// floats. The fast accessor for a field whose kind the tool knows.
    #[inline]
    pub fn num(&self, i: usize) -> u64 {
        self.slots[i].num
    }
    /// Field `i` is a NULL pointer or string (`(nil)`, `(null)`).
    #[inline]
    pub fn is_null(&self, i: usize) -> bool {
        self.slots[i].null
    }
    /// The index of the field called `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.compiled.names.iter().position(|n| &**n == name)
    }
    /// The value of the field called `name`.
    pub fn get(&self, name: &str) -> Option<Value<'a>> {
        self.index(name).map(|i| self.value(i))
    }
    /// The value of the first of `names` that exists (for fields renamed
    /// between QEMU versions, e.g. `offset` / `sector_num`).
    pub fn get_any(&self, names: &[&str]) -> Option<(usize, Value<'a>)> {
        names
            .iter()
            .find_map(|n| self.index(n).map(|i| (i, self.value(i))))
    }
}

/// The fields a tool reads from an event, resolved to argument positions
/// once per matching spec instead of by name on every line.
///
/// Each wanted field is a list of alternative names (fields renamed between
/// QEMU versions, e.g. `["offset", "sector_num"]`); the first name the spec
/// has wins. Resolutions are cached by spec, most recent first, so a run
/// over one QEMU version's trace resolves each event once.
///
/// ```
/// use qtrace_core::catalog::{Catalog, Projection};
/// let catalog = Catalog::builtin();
/// let mut proj = Projection::new([&["offset", "sector_num"][..], &["to_dev"]]);
/// let mut scratch = Vec::new();
/// let f = catalog
///     .decode(b"dma_blk_io", b"dbs=0x1 bs=0x2 sector_num=8 to_dev=1", &mut scratch)
///     .unwrap();
/// let [offset, to_dev] = proj.resolve(&f);
/// assert_eq!(f.num(offset.unwrap()), 8);
/// assert_eq!(f.num(to_dev.unwrap()), 1);
/// ```
#[derive(Debug)]
pub struct Projection<const N: usize> {
    wanted: [&'static [&'static str]; N],
    /// (spec address, positions), in the order the specs were first seen.
    /// Not reordered on use: events that alternate (a read, a write) would
    /// otherwise move entries on every line.
    cache: Vec<(usize, [Option<usize>; N])>,
}

impl<const N: usize> Projection<N> {
    /// A projection onto `wanted` fields, each a list of alternative names.
    pub fn new(wanted: [&'static [&'static str]; N]) -> Self {
        Projection {
            wanted,
            cache: Vec::new(),
        }
    }

    /// The position of each wanted field in `fields` (`None` where the
    /// spec has none of its names).
    #[inline]
    pub fn resolve(&mut self, fields: &Fields<'_>) -> [Option<usize>; N] {
        let key = std::ptr::from_ref(fields.spec) as usize;
        // A trace uses one or two specs per event: a short scan.
        for &(k, pos) in &self.cache {
            if k == key {
                return pos;
            }
        }
        self.resolve_new(fields, key)
    }

    #[cold]
    fn resolve_new(&mut self, fields: &Fields<'_>, key: usize) -> [Option<usize>; N] {
        let pos = self
            .wanted
            .map(|names| names.iter().find_map(|n| fields.index(n)));
        self.cache.push((key, pos));
        pos
    }
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only the built-in specs.
    pub fn builtin() -> Self {
        let mut c = Catalog::new();
        c.add_text("<built-in>", BUILTIN);
        c
    }

    /// Loads catalogs from the sources `opts` allows, in priority order:
    /// `--trace-events` files, `QTRACE_TRACE_EVENTS`, the installed catalog,
    /// the built-in specs. A named file that cannot be read is an error.
    pub fn load(opts: &CatalogOptions) -> Result<Catalog> {
        let mut c = Catalog::new();
        for f in &opts.files {
            c.add_file(f)?;
        }
        if opts.env
            && let Some(v) = std::env::var_os(CATALOG_ENV)
        {
            for p in std::env::split_paths(&v) {
                if !p.as_os_str().is_empty() {
                    c.add_file(&p)?;
                }
            }
        }
        if opts.installed
            && let Some(p) = INSTALLED_CATALOGS
                .iter()
                .map(Path::new)
                .find(|p| p.is_file())
        {
            c.add_file(p)?;
        }
        if opts.builtin {
            c.add_text("<built-in>", BUILTIN);
        }
        Ok(c)
    }

    /// Adds every event of a trace-events file.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|source| Error::Input {
            input: path.display().to_string(),
            source,
        })?;
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        self.add_owned(&path.display().to_string(), text);
        Ok(())
    }

    /// Adds every event of trace-events text; `origin` names it in messages.
    pub fn add_text(&mut self, origin: &str, text: &str) {
        self.add_owned(origin, text.to_string());
    }

    /// Keeps `text` and registers the name of each of its declarations
    /// (the rest of a line is parsed when its event is looked up).
    fn add_owned(&mut self, origin: &str, text: String) {
        let source = self.texts.len() as u32;
        self.sources.push(origin.to_string());
        // About one declaration per line.
        let lines = bytecount::count(text.as_bytes(), b'\n') + 1;
        self.decls.reserve(lines);
        self.specs.reserve(lines);
        self.by_name.reserve(lines);
        let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len()));
        let mut raw_start = 0;
        for (i, raw_end) in ends.enumerate() {
            let raw = &text[raw_start..raw_end];
            let line_start = raw_start;
            raw_start = raw_end + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line_no = (i + 1) as u32;
            let head = match parse_head(line) {
                Ok(h) => h,
                Err(what) => {
                    self.warnings.get_mut().push(Error::Catalog {
                        path: origin.to_string(),
                        line: u64::from(line_no),
                        what,
                    });
                    continue;
                }
            };
            let start = line_start + (line.as_ptr() as usize - raw.as_ptr() as usize);
            let decl = self.decls.len() as u32;
            self.decls.push(Decl {
                source,
                line: line_no,
                start,
                end: start + line.len(),
                warned: Cell::new(false),
            });
            if head.tcg {
                self.declare(decl, 0, format!("{}_trans", head.name).as_bytes());
                self.declare(decl, 1, format!("{}_exec", head.name).as_bytes());
            } else {
                self.declare(decl, 0, head.name.as_bytes());
            }
        }
        self.texts.push((Arc::from(origin), text));
    }

    fn declare(&mut self, decl: u32, sub: u8, name: &[u8]) {
        let idx = self.specs.len() as u32;
        self.specs.push(LazySpec {
            decl,
            sub,
            spec: OnceCell::new(),
        });
        match self.by_name.get_mut(name) {
            Some(entry) => entry.more.push(idx),
            None => {
                self.by_name.insert(
                    name.into(),
                    NameEntry {
                        first: idx,
                        more: Vec::new(),
                        specs: OnceCell::new(),
                        preferred: Cell::new(idx),
                    },
                );
            }
        }
    }

    /// The spec with index `idx` (see [`spec_indices`](Self::spec_indices)),
    /// parsed on first use; `None` when its declaration does not parse.
    pub fn spec(&self, idx: u32) -> Option<&EventSpec> {
        let lazy = self.specs.get(idx as usize)?;
        lazy.spec
            .get_or_init(|| self.parse_spec(lazy.decl, lazy.sub))
            .as_deref()
    }

    #[cold]
    fn parse_spec(&self, decl: u32, sub: u8) -> Option<Box<EventSpec>> {
        let d = &self.decls[decl as usize];
        let (path, text) = &self.texts[d.source as usize];
        match parse_event_line(&text[d.start..d.end]) {
            Ok(specs) => specs.into_iter().nth(usize::from(sub)).map(|spec| {
                Box::new(EventSpec {
                    origin: Origin {
                        path: path.clone(),
                        line: d.line,
                    },
                    ..spec
                })
            }),
            Err(what) => {
                if !d.warned.replace(true) {
                    self.warnings.borrow_mut().push(Error::Catalog {
                        path: path.to_string(),
                        line: u64::from(d.line),
                        what,
                    });
                }
                None
            }
        }
    }

    /// The specs of an entry that parse, without repeats: the same
    /// declaration from a lower-priority source adds nothing.
    fn resolve<'c>(&'c self, entry: &'c NameEntry) -> &'c [u32] {
        entry.specs.get_or_init(|| {
            let mut kept: Vec<u32> = Vec::with_capacity(1 + entry.more.len());
            for idx in std::iter::once(entry.first).chain(entry.more.iter().copied()) {
                let Some(spec) = self.spec(idx) else {
                    continue;
                };
                let dup = kept.iter().any(|&j| {
                    self.spec(j)
                        .is_some_and(|o| o.format == spec.format && o.args == spec.args)
                });
                if !dup {
                    kept.push(idx);
                }
            }
            if let Some(&first) = kept.first() {
                entry.preferred.set(first);
            }
            kept
        })
    }

    /// Problems found in catalog files (malformed lines) since the last
    /// call, to report once. Lines are checked as far as their event name
    /// at load, and wholly when their event is first looked up.
    pub fn take_warnings(&self) -> Vec<Error> {
        std::mem::take(&mut *self.warnings.borrow_mut())
    }

    /// Reports the problems [`take_warnings`](Self::take_warnings) gives
    /// as warnings to `diag`.
    pub fn report_warnings(&self, diag: &crate::scan::Diag) {
        for w in self.take_warnings() {
            diag.warn(w);
        }
    }

    /// Parses every declaration now (so that [`take_warnings`](Self::take_warnings)
    /// lists every malformed line).
    pub fn check_all(&self) {
        for entry in self.by_name.values() {
            self.resolve(entry);
        }
    }

    /// The catalog sources loaded, in priority order.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// The names of every declared event, as a set another thread can share.
    pub fn name_set(&self) -> crate::ahead::NameSet {
        std::sync::Arc::new(self.by_name.keys().cloned().collect())
    }

    /// The matchers of the events called `names`, for the splitting threads
    /// to decode ahead (see [`crate::predecode`]). Unknown names, and specs
    /// whose format does not compile, are left out.
    pub fn predecoder<'n>(
        &self,
        names: impl IntoIterator<Item = &'n [u8]>,
    ) -> crate::predecode::Predecoder {
        let mut table = crate::predecode::Predecoder::new();
        for (position, name) in names.into_iter().enumerate() {
            let Some(entry) = self.by_name.get(name) else {
                continue;
            };
            let specs = self
                .resolve(entry)
                .iter()
                .filter_map(|&idx| {
                    let compiled = self.spec(idx)?.compiled().ok()?;
                    Some((idx, compiled.format.clone()))
                })
                .collect();
            table.add(name, position as u32, specs);
        }
        table
    }

    /// True when some line declares this event name (whether or not the
    /// rest of the line parses).
    #[inline]
    pub fn knows(&self, name: &[u8]) -> bool {
        self.by_name.contains_key(name)
    }

    /// Every spec declared for `name`, in priority order.
    pub fn specs_for(&self, name: &[u8]) -> impl Iterator<Item = &EventSpec> {
        self.spec_indices(name)
            .iter()
            .filter_map(move |&i| self.spec(i))
    }

    /// The indices (for [`spec`](Self::spec)) of every spec declared for
    /// `name`, in priority order.
    pub fn spec_indices(&self, name: &[u8]) -> &[u32] {
        self.by_name.get(name).map_or(&[], |e| self.resolve(e))
    }

    /// The specs of the events whose names `wanted` accepts, in load order
    /// (only those are parsed).
    pub fn specs_where(&self, mut wanted: impl FnMut(&[u8]) -> bool) -> Vec<&EventSpec> {
        let mut indices: Vec<u32> = Vec::new();
        for (name, entry) in &self.by_name {
            if wanted(name) {
                indices.extend_from_slice(self.resolve(entry));
            }
        }
        indices.sort_unstable();
        indices.into_iter().filter_map(|i| self.spec(i)).collect()
    }

    /// Every spec, in load order (this parses the whole catalog).
    pub fn specs(&self) -> Vec<&EventSpec> {
        self.specs_where(|_| true)
    }

    /// Distinct event names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .by_name
            .keys()
            .filter_map(|k| std::str::from_utf8(k).ok())
            .collect();
        v.sort_unstable();
        v
    }

    /// Matches `message` against the specs of `name` (the last winner first)
    /// and returns the fields, or `None` when no format matches (or the name
    /// is unknown). `scratch` holds the slots and is reused between lines.
    #[inline]
    pub fn decode<'a>(
        &'a self,
        name: &[u8],
        message: &'a [u8],
        scratch: &'a mut Vec<Slot>,
    ) -> Option<Fields<'a>> {
        self.event(name)?.decode(message, scratch)
    }

    /// The specs of the event called `name`, looked up once: a tool that
    /// decodes a few known events keeps their handles and skips the name
    /// lookup on every line. `None` when no spec declares the name.
    #[inline]
    pub fn event(&self, name: &[u8]) -> Option<EventSpecs<'_>> {
        let entry = self.by_name.get(name)?;
        (!self.resolve(entry).is_empty()).then_some(EventSpecs {
            catalog: self,
            entry,
        })
    }
}

/// Sets of a [`DecodeCache`] (a power of two), of two entries each.
const CACHE_SETS: usize = 512;
/// Messages longer than this are decoded but not kept in a [`DecodeCache`].
const MAX_CACHED_MESSAGE: usize = 200;

/// Fields of recently decoded messages, for [`EventSpecs::decode_cached`]:
/// 512 sets of two entries, chosen by a hash of the message (about 300 KiB
/// once used).
#[derive(Debug, Default)]
pub struct DecodeCache {
    entries: MessageCache<Vec<Slot>>,
    scratch: Vec<Slot>,
}

/// What a tool made of the fields of recently decoded messages, for
/// [`EventSpecs::decode_digest`]: laid out like a [`DecodeCache`], but each
/// entry keeps the tool's digest of the fields (say, the few numbers it
/// reads from them) instead of the fields.
#[derive(Debug)]
pub struct DigestCache<T> {
    entries: MessageCache<Option<T>>,
    scratch: Vec<Slot>,
}

impl<T> Default for DigestCache<T> {
    fn default() -> Self {
        DigestCache {
            entries: MessageCache::default(),
            scratch: Vec::new(),
        }
    }
}

/// A set-associative map from (spec, message) to `V`, the part both caches
/// share.
#[derive(Debug)]
struct MessageCache<V> {
    entries: Vec<CacheEntry<V>>,
}

impl<V> Default for MessageCache<V> {
    fn default() -> Self {
        MessageCache {
            entries: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct CacheEntry<V> {
    hash: u64,
    /// The spec it was decoded with (`u32::MAX`: empty).
    spec: u32,
    message: Vec<u8>,
    value: V,
}

impl<V: Default> MessageCache<V> {
    /// The hash `message` is filed under, or `None` when it is too long to
    /// keep.
    #[inline]
    fn hash(message: &[u8]) -> Option<u64> {
        use std::hash::BuildHasher;
        (message.len() <= MAX_CACHED_MESSAGE).then(|| rustc_hash::FxBuildHasher.hash_one(message))
    }

    /// Where the value kept for `message` decoded with `spec` is.
    #[inline]
    fn find(&self, hash: u64, spec: u32, message: &[u8]) -> Option<usize> {
        let set = 2 * (hash as usize & (CACHE_SETS - 1));
        (set..set + 2).find(|&i| {
            self.entries
                .get(i)
                .is_some_and(|e| e.spec == spec && e.hash == hash && e.message == message)
        })
    }

    /// The value at a place [`find`](Self::find) gave.
    #[inline]
    fn value(&self, at: usize) -> &V {
        &self.entries[at].value
    }

    /// Room for `message` decoded with `spec`, whose value the caller
    /// fills in. The new entry goes first in its set; the older one of the
    /// two goes.
    fn slot(&mut self, hash: u64, spec: u32, message: &[u8]) -> &mut V {
        if self.entries.is_empty() {
            self.entries = (0..2 * CACHE_SETS)
                .map(|_| CacheEntry {
                    hash: 0,
                    spec: u32::MAX,
                    message: Vec::new(),
                    value: V::default(),
                })
                .collect();
        }
        let set = 2 * (hash as usize & (CACHE_SETS - 1));
        self.entries.swap(set, set + 1);
        let e = &mut self.entries[set];
        e.hash = hash;
        e.spec = spec;
        e.message.clear();
        e.message.extend_from_slice(message);
        &mut e.value
    }
}

/// The specs one event name has in a [`Catalog`] (see [`Catalog::event`]).
#[derive(Debug, Clone, Copy)]
pub struct EventSpecs<'c> {
    catalog: &'c Catalog,
    /// A resolved entry (see [`Catalog::event`]).
    entry: &'c NameEntry,
}

impl<'c> EventSpecs<'c> {
    /// Matches `message` against the specs (the last winner first) and
    /// returns the fields, or `None` when no format matches. `scratch` holds
    /// the slots and is reused between lines.
    #[inline]
    pub fn decode<'a>(self, message: &'a [u8], scratch: &'a mut Vec<Slot>) -> Option<Fields<'a>>
    where
        'c: 'a,
    {
        let preferred = self.entry.preferred.get();
        if let Some(spec) = self.catalog.spec(preferred)
            && let Ok(compiled) = spec.compiled()
            && compiled.format.match_message(message, scratch)
        {
            return Some(Fields {
                spec,
                compiled,
                message,
                slots: scratch,
            });
        }
        self.decode_others(preferred, message, scratch)
    }

    /// Like [`decode`](Self::decode) on the event's message, but takes the
    /// values a splitting thread decoded ahead ([`Event::pre`]) when they
    /// are what `decode` would give: when they come from the spec `decode`
    /// tries first. See [`crate::predecode`].
    ///
    /// [`Event::pre`]: crate::scan::Event::pre
    #[inline]
    pub fn decode_event<'a>(
        self,
        ev: &crate::scan::Event<'a>,
        scratch: &'a mut Vec<Slot>,
    ) -> Option<Fields<'a>>
    where
        'c: 'a,
    {
        if let Some(pre) = ev.pre
            && pre.spec == self.entry.preferred.get()
            && let Some(spec) = self.catalog.spec(pre.spec)
            && let Ok(compiled) = spec.compiled()
        {
            return Some(Fields {
                spec,
                compiled,
                message: ev.message,
                slots: pre.slots,
            });
        }
        self.decode(ev.message, scratch)
    }

    /// Like [`decode`](Self::decode), but remembers the fields of messages
    /// it decoded in `cache`: trace messages repeat (one device pointer, a
    /// few hundred key codes), and a repeated message skips the matcher. An
    /// entry is used only while the spec it was decoded with is still the one
    /// tried first, so the answer is always what `decode` would give. A cache
    /// may be shared by several events of one catalog.
    #[inline]
    pub fn decode_cached<'a>(
        self,
        message: &'a [u8],
        cache: &'a mut DecodeCache,
    ) -> Option<Fields<'a>>
    where
        'c: 'a,
    {
        let DecodeCache { entries, scratch } = cache;
        let Some(hash) = MessageCache::<Vec<Slot>>::hash(message) else {
            return self.decode(message, scratch);
        };
        let preferred = self.entry.preferred.get();
        if let Some(at) = entries.find(hash, preferred, message)
            && let Some(spec) = self.catalog.spec(preferred)
        {
            if let Ok(compiled) = spec.compiled() {
                return Some(Fields {
                    spec,
                    compiled,
                    message,
                    slots: entries.value(at),
                });
            }
        }
        let fields = self.decode(message, scratch)?;
        // The spec that matched is now the one tried first.
        let kept = entries.slot(hash, self.entry.preferred.get(), message);
        kept.clear();
        kept.extend_from_slice(fields.slots);
        Some(fields)
    }

    /// Decodes `message` and returns what `digest` makes of its fields,
    /// remembering the digest in `cache` for messages that repeat (so a
    /// repeated message skips both the matcher and the digest). `digest`
    /// must depend on the fields only. `None` when no format matches; a
    /// digest is kept, like [`decode_cached`](Self::decode_cached)'s
    /// fields, only while the spec it came from is the one tried first.
    #[inline]
    pub fn decode_digest<T: Clone>(
        self,
        message: &[u8],
        cache: &mut DigestCache<T>,
        digest: impl FnOnce(&Fields<'_>) -> T,
    ) -> Option<T> {
        let DigestCache { entries, scratch } = cache;
        let Some(hash) = MessageCache::<Option<T>>::hash(message) else {
            return self.decode(message, scratch).map(|f| digest(&f));
        };
        if let Some(at) = entries.find(hash, self.entry.preferred.get(), message)
            && let Some(kept) = entries.value(at)
        {
            return Some(kept.clone());
        }
        let value = digest(&self.decode(message, scratch)?);
        *entries.slot(hash, self.entry.preferred.get(), message) = Some(value.clone());
        Some(value)
    }

    /// The other specs, in priority order, after the preferred one failed.
    #[cold]
    fn decode_others<'a>(
        self,
        preferred: u32,
        message: &'a [u8],
        scratch: &'a mut Vec<Slot>,
    ) -> Option<Fields<'a>>
    where
        'c: 'a,
    {
        let specs = self.catalog.resolve(self.entry);
        for &idx in specs.iter().filter(|&&i| i != preferred) {
            let Some(spec) = self.catalog.spec(idx) else {
                continue;
            };
            let Ok(compiled) = spec.compiled() else {
                continue;
            };
            if compiled.format.match_message(message, scratch) {
                self.entry.preferred.set(idx);
                return Some(Fields {
                    spec,
                    compiled,
                    message,
                    slots: scratch,
                });
            }
        }
        None
    }
}

/// The part of an event line before its arguments.
#[derive(Debug)]
struct Head<'a> {
    name: &'a str,
    /// Where the `(` is.
    open: usize,
    disabled: bool,
    tcg: bool,
    vcpu: bool,
}

/// Parses an event line up to its `(`: the properties and the name.
fn parse_head(line: &str) -> std::result::Result<Head<'_>, String> {
    let open = memchr::memchr(b'(', line.as_bytes()).ok_or("expected 'name(args)'")?;
    let head = &line[..open];
    // Most lines are just `name(`: one pass over the name decides.
    if head
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && head.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Ok(Head {
            name: head,
            open,
            disabled: false,
            tcg: false,
            vcpu: false,
        });
    }
    let mut words = head.split_whitespace();
    let name = words.next_back().ok_or("missing event name")?;
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!(
            "invalid event name '{}'",
            excerpt(name.as_bytes(), EXCERPT_BYTES)
        ));
    }
    let (mut disabled, mut tcg, mut vcpu) = (false, false, false);
    for w in words {
        match w {
            "disable" => disabled = true,
            "tcg" => tcg = true,
            "vcpu" => vcpu = true,
            other => {
                return Err(format!(
                    "unknown property '{}'",
                    excerpt(other.as_bytes(), EXCERPT_BYTES)
                ));
            }
        }
    }
    Ok(Head {
        name,
        open,
        disabled,
        tcg,
        vcpu,
    })
}

/// Parses one event line into one spec (two for `tcg`). The origin is filled
/// in by the caller.
fn parse_event_line(line: &str) -> std::result::Result<Vec<EventSpec>, String> {
    let Head {
        name,
        open,
        disabled,
        tcg,
        vcpu,
    } = parse_head(line)?;
    let close = line[open..]
        .find(')')
        .ok_or("missing ')' after the arguments")?
        + open;
    let mut args = parse_args(&line[open + 1..close])?;
    let rest = line[close + 1..].trim();
    let mut formats: Vec<String> = Vec::new();
    if !rest.is_empty() {
        if !rest.starts_with('"') {
            return Err("the format must start with '\"'".into());
        }
        if tcg {
            // `"trans", "exec"`: split at the last comma followed by a quote.
            let bytes = rest.as_bytes();
            let split = (0..bytes.len())
                .rev()
                .find(|&i| bytes[i] == b',' && rest[i + 1..].trim_start().starts_with('"'));
            match split {
                Some(i) => {
                    formats.push(rest[..i].trim().to_string());
                    formats.push(rest[i + 1..].trim().to_string());
                }
                None => return Err("a tcg event needs two formats".into()),
            }
        } else {
            formats.push(rest.to_string());
        }
    }
    for f in &formats {
        crate::format::c_source_to_bytes(f)?;
    }
    if vcpu {
        // tracetool prefixes the format with "cpu=%p ", an absent one too.
        if formats.is_empty() {
            formats.push("\"\"".to_string());
        }
        args.insert(
            0,
            Arg {
                ty: "void *".into(),
                name: "__cpu".into(),
            },
        );
        for f in &mut formats {
            *f = format!("\"cpu=%p \" {f}");
        }
    }
    let make = |name: String, args: Vec<Arg>, format: Option<String>| EventSpec {
        name,
        args,
        format,
        disabled,
        origin: Origin {
            path: Arc::from(""),
            line: 0,
        },
        compiled: OnceCell::new(),
        string_args: OnceCell::new(),
    };
    if tcg {
        let trans_args: Vec<Arg> = args
            .iter()
            .filter(|a| !a.ty.starts_with("TCG"))
            .cloned()
            .collect();
        let mut it = formats.into_iter();
        Ok(vec![
            make(format!("{name}_trans"), trans_args, it.next()),
            make(format!("{name}_exec"), args, it.next()),
        ])
    } else {
        Ok(vec![make(name.to_string(), args, formats.pop())])
    }
}

fn parse_args(s: &str) -> std::result::Result<Vec<Arg>, String> {
    let s = s.trim();
    if s.is_empty() || s == "void" {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|a| {
            let a = a.trim();
            if a.is_empty() {
                return Err("empty argument".to_string());
            }
            let (ty, name) = match a.rfind('*') {
                Some(p) => (a[..=p].trim(), a[p + 1..].trim()),
                None => match a.rsplit_once(char::is_whitespace) {
                    Some((ty, name)) => (ty.trim(), name.trim()),
                    None => {
                        return Err(format!(
                            "argument '{}' has no type",
                            excerpt(a.as_bytes(), EXCERPT_BYTES)
                        ));
                    }
                },
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!(
                    "invalid argument name in '{}'",
                    excerpt(a.as_bytes(), EXCERPT_BYTES)
                ));
            }
            // Normalise `char*` → `char *` so string detection is uniform.
            let ty = if ty.ends_with('*') && !ty.ends_with(" *") && !ty.ends_with("**") {
                format!("{} *", ty[..ty.len() - 1].trim_end())
            } else {
                ty.to_string()
            };
            Ok(Arg {
                ty,
                name: name.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_variants() {
        let mut c = Catalog::new();
        c.add_text(
            "t",
            "# comment\n\
             \n\
             \t# indented comment\n\
             pci_cfg_read(const char *dev, uint32_t bus, uint32_t slot, uint32_t func, unsigned offs, unsigned val) \"%s %02x:%02x.%x @0x%x -> 0x%x\"\n\
             ide_status_read(uint32_t addr, uint32_t val, void *bus, void *s)        \"IDE PIO rd @ 0x%\"PRIx32\" val 0x%02\"PRIx32\n\
             disable dbus_vmstate_pre_save(void)\n\
             bmdma_reset(void) \"\"\n\
             vcpu guest_cpu_enter(void) \"\"\n\
             vcpu tcg guest_mem_before(TCGv vaddr, uint16_t info) \"info=%d\", \"vaddr=0x%016\"PRIx64\" info=%d\"\n\
             broken line here\n\
             x(char*p) \"%s\"\n",
        );
        // The broken line is reported at load: it has no event name.
        let at_load = c.take_warnings();
        c.check_all();
        let later = c.take_warnings();
        assert_eq!(at_load.len(), 1, "{at_load:?}");
        assert!(later.is_empty(), "{later:?}");
        assert!(at_load[0].to_string().starts_with("t:10: "));
        let names = c.names();
        for n in [
            "pci_cfg_read",
            "ide_status_read",
            "dbus_vmstate_pre_save",
            "bmdma_reset",
            "guest_cpu_enter",
            "guest_mem_before_trans",
            "guest_mem_before_exec",
            "x",
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        let spec = c.specs_for(b"guest_cpu_enter").next().unwrap();
        assert_eq!(spec.args[0].name, "__cpu");
        let spec = c.specs_for(b"guest_mem_before_trans").next().unwrap();
        assert_eq!(
            spec.args
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>(),
            ["__cpu", "info"]
        );
        assert_eq!(spec.format.as_deref(), Some("\"cpu=%p \" \"info=%d\""));
        assert!(
            c.specs_for(b"dbus_vmstate_pre_save")
                .next()
                .unwrap()
                .disabled
        );
        assert_eq!(c.specs_for(b"x").next().unwrap().args[0].ty, "char *");

        let mut scratch = Vec::new();
        let f = c
            .decode(
                b"ide_status_read",
                b"IDE PIO rd @ 0x1f7 val 0x50",
                &mut scratch,
            )
            .unwrap();
        assert_eq!(
            f.names().iter().map(|n| &**n).collect::<Vec<_>>(),
            ["addr", "val"]
        );
        assert_eq!(f.get("val"), Some(Value::Unsigned(0x50, Radix::Hex)));
        let mut scratch = Vec::new();
        let f = c
            .decode(b"guest_cpu_enter", b"cpu=0x55 ", &mut scratch)
            .unwrap();
        assert_eq!(f.get("__cpu"), Some(Value::Pointer(Some(0x55))));
    }

    #[test]
    fn declarations_are_parsed_on_first_lookup_and_reported_once() {
        let mut c = Catalog::new();
        c.add_text(
            "t",
            "good(int x) \"x=%d\"\nbad(int) \"%d\"\nbad(int y) \"y=%d\"\n",
        );
        // Loading reads names only: nothing to report yet.
        assert!(c.take_warnings().is_empty());
        assert!(c.knows(b"bad") && c.knows(b"good"));
        assert!(c.specs.iter().all(|s| s.spec.get().is_none()));
        // The first lookup parses both declarations of `bad`.
        let lines: Vec<u32> = c.specs_for(b"bad").map(|s| s.origin.line).collect();
        assert_eq!(lines, [3]);
        let warnings = c.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].to_string().starts_with("t:2: "), "{warnings:?}");
        // ... and only them, once.
        assert!(c.specs[0].spec.get().is_none());
        assert_eq!(c.specs_for(b"bad").count(), 1);
        assert!(c.take_warnings().is_empty());
        let mut scratch = Vec::new();
        let f = c.decode(b"bad", b"y=7", &mut scratch).unwrap();
        assert_eq!(f.num(0), 7);
        assert_eq!(c.specs().len(), 2);
    }

    #[test]
    fn builtin_covers_every_variant_and_the_matching_one_wins() {
        let c = Catalog::builtin();
        c.check_all();
        let warnings = c.take_warnings();
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut s = Vec::new();
        let f = c
            .decode(b"pci_cfg_read", b"i440FX 00:0 @0x0 -> 0x8086", &mut s)
            .unwrap();
        assert_eq!(f.get("devid"), Some(Value::Unsigned(0, Radix::Dec)));
        let mut s = Vec::new();
        let f = c
            .decode(b"pci_cfg_read", b"mch 00:1f.0 @0x0 -> 0x8086", &mut s)
            .unwrap();
        assert_eq!(f.get("slot"), Some(Value::Unsigned(31, Radix::Hex)));
        let mut s = Vec::new();
        let f = c
            .decode(b"ps2_put_keycode", b"0x55e7 keycode 52", &mut s)
            .unwrap();
        assert_eq!(f.get("keycode"), Some(Value::Signed(52)));
        let mut s = Vec::new();
        let f = c
            .decode(
                b"dma_blk_io",
                b"dbs=0x1 bs=0x2 sector_num=8 to_dev=1",
                &mut s,
            )
            .unwrap();
        assert_eq!(
            f.get_any(&["offset", "sector_num"]).unwrap().1,
            Value::Signed(8)
        );
        let mut s = Vec::new();
        assert!(c.decode(b"pci_cfg_read", b"garbage", &mut s).is_none());
    }

    #[test]
    fn installed_catalog_parses_cleanly_when_present() {
        for p in INSTALLED_CATALOGS {
            let p = Path::new(p);
            if !p.is_file() {
                continue;
            }
            let mut c = Catalog::new();
            c.add_file(p).unwrap();
            c.check_all();
            let warnings = c.take_warnings();
            assert!(
                warnings.is_empty(),
                "{:?}",
                &warnings[..warnings.len().min(5)]
            );
            assert!(c.names().len() > 3000);
            let bad: Vec<_> = c
                .specs()
                .into_iter()
                .filter(|s| s.compiled().is_err())
                .map(|s| s.name.clone())
                .collect();
            assert!(bad.is_empty(), "formats that do not compile: {bad:?}");
        }
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    /// Two formats that both read "12": which one wins depends on the one
    /// that matched last, and the cache must follow it.
    const AMBIGUOUS: &str = "\
ps2_put_keycode(void *opaque, int keycode) \"%p keycode %d\"
ps2_put_keycode(void *opaque, int keycode) \"%p keycode %x\"
";

    #[test]
    fn cached_decoding_gives_what_decoding_gives() {
        let (mut plain, mut cached) = (Catalog::new(), Catalog::new());
        plain.add_text("t", AMBIGUOUS);
        cached.add_text("t", AMBIGUOUS);
        let (p, c) = (
            plain.event(b"ps2_put_keycode").unwrap(),
            cached.event(b"ps2_put_keycode").unwrap(),
        );
        let mut scratch = Vec::new();
        let mut cache = DecodeCache::default();
        let long = format!("0x{} keycode 12", "1".repeat(250));
        let messages = [
            "0x10 keycode 12",
            "0x10 keycode 1c",
            "0x10 keycode 12",
            "0x10 keycode zz",
            "0x10 keycode 12",
            "(nil) keycode 7",
            "0x10 keycode 12",
            &long,
            &long,
        ];
        let show = |f: Option<Fields<'_>>| {
            f.map(|f| {
                let values: Vec<Value<'_>> = (0..f.len()).map(|i| f.value(i)).collect();
                format!("{}: {values:?}", f.spec().format.as_deref().unwrap_or(""))
            })
        };
        let mut digested = Catalog::new();
        digested.add_text("t", AMBIGUOUS);
        let d = digested.event(b"ps2_put_keycode").unwrap();
        let mut digests = DigestCache::default();
        let digest_calls = std::cell::Cell::new(0);
        let mut got = Vec::new();
        for m in messages {
            let want = show(p.decode(m.as_bytes(), &mut scratch));
            let have = show(c.decode_cached(m.as_bytes(), &mut cache));
            assert_eq!(have, want, "{m}");
            let digest = d.decode_digest(m.as_bytes(), &mut digests, |f| {
                digest_calls.set(digest_calls.get() + 1);
                show(Some(*f)).unwrap()
            });
            assert_eq!(digest, want, "{m}");
            got.push(have);
        }
        // A message seen with the same spec preferred is not digested again.
        let before = digest_calls.get();
        for m in ["0x20 keycode 12", "0x20 keycode 12", "0x20 keycode 12"] {
            let want = show(p.decode(m.as_bytes(), &mut scratch));
            let digest = d.decode_digest(m.as_bytes(), &mut digests, |f| {
                digest_calls.set(digest_calls.get() + 1);
                show(Some(*f)).unwrap()
            });
            assert_eq!(digest, want, "{m}");
        }
        assert_eq!(digest_calls.get() - before, 1);
        // The answers do change with the spec that matched last.
        assert_eq!(
            got[0],
            Some(r#""%p keycode %d": [Pointer(Some(16)), Signed(12)]"#.into())
        );
        assert_eq!(
            got[2],
            Some(r#""%p keycode %x": [Pointer(Some(16)), Unsigned(18, Hex)]"#.into())
        );
        assert_eq!(got[3], None);
    }
}
