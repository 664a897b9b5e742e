//! Rendered build pages, kept gzipped up to a budget of bytes. A page is assembled once
//! however many requests ask for it at the same time. Pages compress about tenfold
//! (their scripts are mostly digits and commas), so the budget holds ten times the
//! pages, and they are sent as they are kept to every client that takes gzip.
//!
//! Over budget, the file scripts of the least recently used page go first and its HTML
//! stays: the HTML is what a visitor waits for, and it is small (16 KB gzipped for a
//! build of the bench's 500-pod data, against 600 KB for its scripts), so the HTML of
//! every build page of 1,000 collections fits where their scripts never would. A script
//! asked of a page that kept only its HTML assembles the page again. Only when no page
//! holds scripts any more does a whole page go, least recently used first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::io::Write;

use livecov_render::PageInMemory;

/// A build page as kept: its HTML and chunk scripts, each gzipped.
pub(crate) struct Packed {
    pub(crate) html: Vec<u8>,
    /// Empty once the budget took them (see [`Packed::whole`]).
    pub(crate) chunks: Vec<Vec<u8>>,
    /// False when the chunks were dropped to keep the HTML.
    pub(crate) whole: bool,
}

impl Packed {
    fn of(page: &PageInMemory) -> Result<Packed, String> {
        Ok(Packed {
            html: gzip(page.html.as_bytes())?,
            chunks: page
                .chunks
                .iter()
                .map(|c| gzip(c))
                .collect::<Result<_, _>>()?,
            whole: true,
        })
    }

    fn chunk_bytes(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    fn size(&self) -> usize {
        self.html.len() + self.chunk_bytes()
    }
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 8),
        flate2::Compression::fast(),
    );
    e.write_all(bytes).map_err(|e| e.to_string())?;
    e.finish().map_err(|e| e.to_string())
}

/// The bytes of a kept part, for a client that does not take gzip.
pub(crate) fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 8);
    let mut d = flate2::write::GzDecoder::new(&mut out);
    // Written by `gzip` above: it always decodes.
    let _ = d.write_all(bytes).and_then(|()| d.finish().map(|_| ()));
    out
}

/// (collection, build, page key).
pub(crate) type PageKey = (String, String, String);

type Rendered = Result<Arc<Packed>, String>;

struct Entry {
    cell: tokio::sync::OnceCell<Rendered>,
    used: AtomicU64,
}

struct Inner {
    entries: HashMap<PageKey, Arc<Entry>>,
    /// Bytes of the pages assembled and still held.
    bytes: usize,
}

pub(crate) struct PageCache {
    budget: usize,
    clock: AtomicU64,
    /// Pages assembled since start (a miss each), pages whose scripts were dropped to
    /// keep their HTML, and pages dropped whole.
    pub(crate) assembled: AtomicU64,
    pub(crate) trimmed: AtomicU64,
    pub(crate) evicted: AtomicU64,
    inner: Mutex<Inner>,
}

impl PageCache {
    pub(crate) fn new(budget: usize) -> PageCache {
        PageCache {
            budget,
            clock: AtomicU64::new(0),
            assembled: AtomicU64::new(0),
            trimmed: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                bytes: 0,
            }),
        }
    }

    /// The page under `key`, assembled by `make` (on a blocking thread) when it is not
    /// held, or when `scripts` are wanted and only its HTML is. A failure is not kept:
    /// the next request tries again.
    pub(crate) async fn get(
        &self,
        key: PageKey,
        scripts: bool,
        make: impl FnOnce() -> Result<PageInMemory, String> + Send + 'static,
    ) -> Result<Arc<Packed>, String> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let entry = {
            let mut inner = self.inner.lock().expect("page cache");
            let held = inner.entries.get(&key).cloned();
            // A page that kept only its HTML, asked for its scripts: this request
            // assembles it again, and the requests after it wait for that.
            let trimmed = |e: &Entry| match e.cell.get() {
                Some(Ok(p)) if !p.whole => Some(p.size()),
                _ => None,
            };
            match held {
                Some(e) if !scripts || trimmed(&e).is_none() => e,
                held => {
                    if let Some(size) = held.as_deref().and_then(trimmed) {
                        inner.bytes = inner.bytes.saturating_sub(size);
                    }
                    let e = Arc::new(Entry {
                        cell: tokio::sync::OnceCell::new(),
                        used: AtomicU64::new(tick),
                    });
                    inner.entries.insert(key.clone(), e.clone());
                    e
                }
            }
        };
        entry.used.store(tick, Ordering::Relaxed);
        let mut made = false;
        let result = entry
            .cell
            .get_or_init(|| async {
                made = true;
                self.assembled.fetch_add(1, Ordering::Relaxed);
                let packed = move || make().and_then(|page| Packed::of(&page));
                match tokio::task::spawn_blocking(packed).await {
                    Ok(r) => r.map(Arc::new),
                    Err(e) => Err(format!("the page's worker failed: {e}")),
                }
            })
            .await
            .clone();
        if made {
            let mut inner = self.inner.lock().expect("page cache");
            match &result {
                Ok(page) => {
                    inner.bytes += page.size();
                    self.evict(&mut inner, &key);
                }
                Err(_) => {
                    if inner
                        .entries
                        .get(&key)
                        .is_some_and(|e| Arc::ptr_eq(e, &entry))
                    {
                        inner.entries.remove(&key);
                    }
                }
            }
        }
        result
    }

    /// Until the budget holds (never touching the page just made): drops the scripts
    /// of the least recently used page that has any, keeping its HTML; when none has,
    /// drops the least recently used page.
    fn evict(&self, inner: &mut Inner, keep: &PageKey) {
        while inner.bytes > self.budget {
            let oldest = |with_scripts: bool| {
                inner
                    .entries
                    .iter()
                    .filter(|(k, e)| {
                        *k != keep
                            && match e.cell.get() {
                                Some(Ok(p)) => !with_scripts || p.chunk_bytes() > 0,
                                Some(Err(_)) => !with_scripts,
                                None => false,
                            }
                    })
                    .min_by_key(|(_, e)| e.used.load(Ordering::Relaxed))
                    .map(|(k, e)| (k.clone(), e.clone()))
            };
            if let Some((k, e)) = oldest(true) {
                let Some(Ok(page)) = e.cell.get() else { break };
                inner.bytes = inner.bytes.saturating_sub(page.chunk_bytes());
                let trimmed = Entry {
                    cell: tokio::sync::OnceCell::new_with(Some(Ok(Arc::new(Packed {
                        html: page.html.clone(),
                        chunks: Vec::new(),
                        whole: false,
                    })))),
                    used: AtomicU64::new(e.used.load(Ordering::Relaxed)),
                };
                inner.entries.insert(k, Arc::new(trimmed));
                self.trimmed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let Some((k, _)) = oldest(false) else { break };
            if let Some(e) = inner.entries.remove(&k) {
                self.evicted.fetch_add(1, Ordering::Relaxed);
                if let Some(Ok(page)) = e.cell.get() {
                    inner.bytes = inner.bytes.saturating_sub(page.size());
                }
            }
        }
    }

    /// Pages held and their bytes (for /metrics).
    pub(crate) fn held(&self) -> (usize, usize) {
        let inner = self.inner.lock().expect("page cache");
        (inner.entries.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page whose HTML and scripts do not compress: their sizes are what is kept.
    fn page(n: u64, script_bytes: usize) -> PageInMemory {
        let mut state = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut noise = |len: usize| -> Vec<u8> {
            (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect()
        };
        let html = noise(1000)
            .iter()
            .map(|b| char::from(b'a' + b % 26))
            .collect();
        PageInMemory {
            html,
            chunks: vec![noise(script_bytes), noise(script_bytes)],
            source: livecov_render::SourceStatus::Ok,
            source_note: String::new(),
        }
    }

    fn key(n: u64) -> PageKey {
        ("c".into(), format!("b{n}"), "g1".into())
    }

    async fn get(cache: &PageCache, n: u64, scripts: bool) -> Arc<Packed> {
        cache
            .get(key(n), scripts, move || Ok(page(n, 20_000)))
            .await
            .unwrap()
    }

    /// Twenty pages of 1 KB of HTML and 40 KB of scripts under a 200 KB budget: the
    /// scripts of the oldest go, every HTML stays and is served without assembling
    /// again; a script of a trimmed page assembles it again, with the same bytes.
    #[tokio::test]
    async fn over_budget_the_scripts_go_first_and_every_html_stays() {
        let cache = PageCache::new(200_000);
        let mut first = Vec::new();
        for n in 0..20 {
            first.push(get(&cache, n, false).await);
        }
        assert_eq!(cache.assembled.load(Ordering::Relaxed), 20);
        assert_eq!(cache.evicted.load(Ordering::Relaxed), 0);
        assert!(cache.trimmed.load(Ordering::Relaxed) >= 15);
        let (held, bytes) = cache.held();
        assert_eq!(held, 20);
        assert!(bytes <= 200_000, "{bytes}");
        // Every HTML again: no page assembled.
        for n in 0..20 {
            let p = get(&cache, n, false).await;
            assert_eq!(p.html, first[n as usize].html);
        }
        assert_eq!(cache.assembled.load(Ordering::Relaxed), 20);
        // The oldest lost its scripts; asking for them assembles it again, whole.
        let p = get(&cache, 0, true).await;
        assert!(p.whole);
        assert_eq!(p.chunks, first[0].chunks);
        assert_eq!(cache.assembled.load(Ordering::Relaxed), 21);
        // The newest kept its scripts: no assembly.
        let p = get(&cache, 19, true).await;
        assert!(p.whole && p.chunks.len() == 2);
        assert_eq!(cache.assembled.load(Ordering::Relaxed), 21);
        let (_, bytes) = cache.held();
        assert!(bytes <= 200_000, "{bytes}");
    }

    /// When the HTML alone is over budget, whole pages go, the least recently used
    /// first, and the budget holds (but for the page just made, kept whole).
    #[tokio::test]
    async fn when_only_html_is_left_whole_pages_go_oldest_first() {
        let cache = PageCache::new(10_000);
        let mut newest = 0;
        for n in 0..30 {
            newest = get(&cache, n, false).await.size();
        }
        let (held, bytes) = cache.held();
        assert!(bytes <= 10_000 + newest, "{bytes}");
        assert!(held < 30 && held > 0, "{held}");
        assert!(cache.evicted.load(Ordering::Relaxed) > 0);
        // The newest is still there, the oldest is not.
        let before = cache.assembled.load(Ordering::Relaxed);
        get(&cache, 29, false).await;
        assert_eq!(cache.assembled.load(Ordering::Relaxed), before);
        get(&cache, 0, false).await;
        assert_eq!(cache.assembled.load(Ordering::Relaxed), before + 1);
    }
}
