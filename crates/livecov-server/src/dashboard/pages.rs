//! Rendered build pages, kept gzipped up to a budget of bytes; the least recently used
//! go first. A page is assembled once however many requests ask for it at the same
//! time. Pages compress about tenfold (their scripts are mostly digits and commas), so
//! the budget holds ten times the pages, and they are sent as they are kept to every
//! client that takes gzip.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::io::Write;

use livecov_render::PageInMemory;

/// A build page as kept: its HTML and chunk scripts, each gzipped.
pub(crate) struct Packed {
    pub(crate) html: Vec<u8>,
    pub(crate) chunks: Vec<Vec<u8>>,
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
        })
    }

    fn size(&self) -> usize {
        self.html.len() + self.chunks.iter().map(Vec::len).sum::<usize>()
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
    /// Pages assembled since start (a miss each), and pages evicted.
    pub(crate) assembled: AtomicU64,
    pub(crate) evicted: AtomicU64,
    inner: Mutex<Inner>,
}

impl PageCache {
    pub(crate) fn new(budget: usize) -> PageCache {
        PageCache {
            budget,
            clock: AtomicU64::new(0),
            assembled: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                bytes: 0,
            }),
        }
    }

    /// The page under `key`, assembled by `make` (on a blocking thread) when it is not
    /// held. A failure is not kept: the next request tries again.
    pub(crate) async fn get(
        &self,
        key: PageKey,
        make: impl FnOnce() -> Result<PageInMemory, String> + Send + 'static,
    ) -> Result<Arc<Packed>, String> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let entry = {
            let mut inner = self.inner.lock().expect("page cache");
            inner
                .entries
                .entry(key.clone())
                .or_insert_with(|| {
                    Arc::new(Entry {
                        cell: tokio::sync::OnceCell::new(),
                        used: AtomicU64::new(tick),
                    })
                })
                .clone()
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

    /// Drops the least recently used assembled pages until the budget holds (never the
    /// one just made).
    fn evict(&self, inner: &mut Inner, keep: &PageKey) {
        while inner.bytes > self.budget {
            let oldest = inner
                .entries
                .iter()
                .filter(|(k, e)| *k != keep && e.cell.get().is_some())
                .min_by_key(|(_, e)| e.used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
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
