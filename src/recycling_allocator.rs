//! `RecyclingAllocator`: a global allocator that keeps freed large blocks and hands them out
//! again, so a training step does not pay the operating system for fresh memory every time.
//!
//! **Why.** A training step of the paper's network at 256×256, batch 16, allocates several
//! gigabytes of activations and gradients (one 16×256×256×32 feature map is 134 MB), and frees
//! them by the end of the step. The system allocator returns blocks that large to the kernel
//! (glibc uses `mmap` above 32 MB), and the next step gets them back as fresh pages: each 4 KiB
//! page costs a page fault and a zeroing on first touch, about a million faults per step. The
//! profile (`perf record`, chapter 13 of the book) showed a fifth of the step in the kernel.
//! The next step asks for exactly the same sizes, so keeping the freed blocks and giving them
//! back on an exact-size match removes almost all of it.
//!
//! **How.** Blocks of at least [`MIN_RECYCLED_BYTES`] go, when freed, into a small cache of at
//! most [`MAX_CACHED_BLOCKS`] blocks and [`MAX_CACHED_BYTES`] bytes (the oldest block is
//! returned to the system first when it is full). An allocation of that size looks for a cached
//! block of exactly its size and alignment first. Smaller blocks go straight to the system
//! allocator. Zeroed requests zero a recycled block with `write_bytes`.
//!
//! It changes no result, only where memory comes from. The binary, the benches and the book's
//! examples install it with
//! `#[global_allocator] static ALLOCATOR: RecyclingAllocator = RecyclingAllocator;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Blocks at least this large (1 MiB) are recycled; smaller ones are left to the system.
pub const MIN_RECYCLED_BYTES: usize = 1 << 20;
/// At most this many freed blocks are kept.
pub const MAX_CACHED_BLOCKS: usize = 256;
/// At most this many bytes (1 GiB) of freed blocks are kept.
pub const MAX_CACHED_BYTES: usize = 1 << 30;

/// One freed block: its address (as an integer, so the cache is `Send`) and its layout.
#[derive(Clone, Copy)]
struct CachedBlock {
    address: usize,
    size: usize,
    align: usize,
}

/// The freed blocks, oldest first, in `blocks[..len]`, and their total size in bytes.
struct Cache {
    blocks: [CachedBlock; MAX_CACHED_BLOCKS],
    len: usize,
    bytes: usize,
}

const EMPTY: CachedBlock = CachedBlock {
    address: 0,
    size: 0,
    align: 0,
};

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    blocks: [EMPTY; MAX_CACHED_BLOCKS],
    len: 0,
    bytes: 0,
});

impl Cache {
    /// Remove and return a block of exactly this layout, if one is cached.
    fn take(&mut self, layout: Layout) -> Option<*mut u8> {
        let slot = self.blocks[..self.len]
            .iter()
            .position(|b| b.size == layout.size() && b.align == layout.align())?;
        let block = self.blocks[slot];
        // Keep the blocks in age order: close the gap.
        self.blocks[slot..self.len].rotate_left(1);
        self.len -= 1;
        self.bytes -= block.size;
        Some(block.address as *mut u8)
    }

    /// Return every cached block to the system.
    fn release_all(&mut self) {
        for block in &self.blocks[..self.len] {
            // SAFETY: as in `keep`: the block came from `System` with this layout, and the
            // cache is its only owner.
            unsafe { System.dealloc(block.address as *mut u8, layout_of(*block)) };
        }
        self.len = 0;
        self.bytes = 0;
    }

    /// Keep a freed block (at most [`MAX_CACHED_BYTES`]), first returning the oldest blocks to
    /// the system until it fits.
    fn keep(&mut self, block: CachedBlock) {
        while self.len == MAX_CACHED_BLOCKS || self.bytes + block.size > MAX_CACHED_BYTES {
            // Non-empty here: an empty cache has room for any block of at most the maximum.
            let oldest = self.blocks[0];
            self.blocks[..self.len].rotate_left(1);
            self.len -= 1;
            self.bytes -= oldest.size;
            // SAFETY: a cached block came from `System` with this layout and is no longer
            // cached, so nobody else can reach it.
            unsafe { System.dealloc(oldest.address as *mut u8, layout_of(oldest)) };
        }
        self.blocks[self.len] = block;
        self.len += 1;
        self.bytes += block.size;
    }
}

/// Whether freed large blocks are kept (on unless [`set_recycling`] turned it off).
static RECYCLING: AtomicBool = AtomicBool::new(true);

/// Turn recycling on or off while the program runs (it starts on). Off, the allocator passes
/// every request to the system allocator, as if it were not installed, and the blocks cached so
/// far are returned to the system. For measuring what recycling saves (chapter 13's example
/// times a training step both ways); a program that never calls it always recycles.
pub fn set_recycling(on: bool) {
    RECYCLING.store(on, Ordering::Relaxed);
    if !on {
        lock().release_all();
    }
}

/// Bytes of freed blocks the cache holds now (0 when recycling is off).
pub fn cached_bytes() -> usize {
    lock().bytes
}

/// Whether a block of `layout` goes through the cache: large enough and recycling on.
fn recycled(layout: Layout) -> bool {
    layout.size() >= MIN_RECYCLED_BYTES && RECYCLING.load(Ordering::Relaxed)
}

/// A [`GlobalAlloc`] that recycles large blocks (see the module documentation).
pub struct RecyclingAllocator;

// ANCHOR: alloc
unsafe impl GlobalAlloc for RecyclingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if recycled(layout) {
            if let Some(ptr) = lock().take(layout) {
                return ptr;
            }
        }
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract; we pass it through.
        unsafe { System.alloc(layout) }
    }
    // ANCHOR_END: alloc

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if recycled(layout) {
            if let Some(ptr) = lock().take(layout) {
                // SAFETY: the block is `layout.size()` bytes, owned by nobody else now.
                unsafe { ptr.write_bytes(0, layout.size()) };
                return ptr;
            }
        }
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !recycled(layout) || layout.size() > MAX_CACHED_BYTES {
            // SAFETY: `ptr` was allocated by this allocator with `layout`, and every block this
            // allocator hands out comes from `System` with the same layout.
            return unsafe { System.dealloc(ptr, layout) };
        }
        lock().keep(CachedBlock {
            address: ptr as usize,
            size: layout.size(),
            align: layout.align(),
        });
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.size() < MIN_RECYCLED_BYTES && new_size < MIN_RECYCLED_BYTES {
            // SAFETY: a small block came from `System` with this layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // Large: a new block (perhaps recycled), the contents copied, the old one recycled.
        // SAFETY: the caller guarantees `new_size` with this alignment is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as in `alloc`.
        let new_ptr = unsafe { self.alloc(new_layout) };
        if !new_ptr.is_null() {
            // SAFETY: both blocks are valid for the copied length and do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new_ptr
    }
}

/// The layout a cached block was allocated with.
fn layout_of(block: CachedBlock) -> Layout {
    Layout::from_size_align(block.size, block.align).expect("it was a valid layout")
}

/// The cache, even if a thread panicked while holding it (its contents stay consistent: every
/// update is completed before anything that can panic).
fn lock() -> std::sync::MutexGuard<'static, Cache> {
    CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
