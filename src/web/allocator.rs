//! The wasm build's global allocator: power-of-two size classes with free lists, carved from
//! `memory.grow` pages. It replaces std's dlmalloc (~8 KB of code) in the `no_std` wasm build;
//! the session's allocations are few and small (tokens, ids), so simple classes waste little.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr;

const PAGE: usize = 65_536;
const MIN_SHIFT: u32 = 4;
const MAX_SHIFT: u32 = 16;
const CLASSES: usize = (MAX_SHIFT - MIN_SHIFT + 1) as usize;

struct Heap {
    /// Heads of singly linked free lists, one per class (a free block stores the next pointer).
    free: [usize; CLASSES],
    /// Free multi-page blocks: each stores `[next, pages]` at its start.
    large_free: usize,
    bump: usize,
    bump_end: usize,
}

pub struct SizeClassAllocator(UnsafeCell<Heap>);

// wasm32-unknown-unknown without the atomics feature runs one thread: no concurrent access exists.
unsafe impl Sync for SizeClassAllocator {}

impl SizeClassAllocator {
    pub const fn new() -> Self {
        SizeClassAllocator(UnsafeCell::new(Heap { free: [0; CLASSES], large_free: 0, bump: 0, bump_end: 0 }))
    }
}

/// The class index for a layout, or `None` for blocks larger than one page.
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT).checked_next_power_of_two()?;
    let shift = size.trailing_zeros();
    (shift <= MAX_SHIFT).then_some((shift - MIN_SHIFT) as usize)
}

fn grow(pages: usize) -> Option<usize> {
    let previous = wasm32::memory_grow(0, pages);
    (previous != usize::MAX).then_some(previous * PAGE)
}

fn pages_for(layout: Layout) -> usize {
    layout.size().max(1).div_ceil(PAGE)
}

unsafe impl GlobalAlloc for SizeClassAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let heap = &mut *self.0.get();
        match class_of(layout) {
            Some(class) => {
                let head = heap.free[class];
                if head != 0 {
                    heap.free[class] = *(head as *const usize);
                    return head as *mut u8;
                }
                let size = 1usize << (class as u32 + MIN_SHIFT);
                // Aligning each block to its own size satisfies every alignment its class admits.
                let mut start = (heap.bump + size - 1) & !(size - 1);
                if start + size > heap.bump_end || heap.bump == 0 {
                    let Some(base) = grow(1) else { return ptr::null_mut() };
                    if base != heap.bump_end {
                        heap.bump = base;
                    }
                    heap.bump_end = base + PAGE;
                    start = (heap.bump + size - 1) & !(size - 1);
                    if start + size > heap.bump_end {
                        start = base;
                    }
                }
                heap.bump = start + size;
                start as *mut u8
            }
            None => {
                let pages = pages_for(layout);
                // First fit among freed large blocks, taken whole.
                let mut link: *mut usize = &mut heap.large_free;
                while *link != 0 {
                    let block = *link as *mut usize;
                    if *block.add(1) >= pages {
                        *link = *block;
                        return block as *mut u8;
                    }
                    link = block;
                }
                grow(pages).map_or(ptr::null_mut(), |base| base as *mut u8)
            }
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let heap = &mut *self.0.get();
        match class_of(layout) {
            Some(class) => {
                *(block as *mut usize) = heap.free[class];
                heap.free[class] = block as usize;
            }
            None => {
                let node = block as *mut usize;
                *node = heap.large_free;
                *node.add(1) = pages_for(layout);
                heap.large_free = block as usize;
            }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else { return ptr::null_mut() };
        if class_of(layout).is_some() && class_of(layout) == class_of(new_layout) {
            return block;
        }
        let moved = self.alloc(new_layout);
        if !moved.is_null() {
            ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
            self.dealloc(block, layout);
        }
        moved
    }
}
