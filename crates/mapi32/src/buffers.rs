//! Memory handed to callers. Every block is registered by address; `MAPIFreeBuffer` frees
//! a pointer only if it is a registered block, so foreign, stack and already-freed pointers
//! are refused without ever being dereferenced.
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Blocks are `u64` words so that every structure at their start is suitably aligned.
type Block = Box<[u64]>;

fn blocks() -> MutexGuard<'static, HashMap<usize, Block>> {
    static BLOCKS: OnceLock<Mutex<HashMap<usize, Block>>> = OnceLock::new();
    BLOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Number of blocks callers have not freed yet (for tests and leak diagnosis).
pub fn live_blocks() -> usize {
    blocks().len()
}

/// Frees a block we handed out. `false` for anything else.
pub(crate) fn release(address: usize) -> bool {
    blocks().remove(&address).is_some()
}

/// Fills one zeroed block front to back: a structure first, then the data it points to.
pub(crate) struct BlockWriter {
    block: Block,
    used: usize,
}

impl BlockWriter {
    pub(crate) fn new(bytes: usize) -> Self {
        let words = bytes.div_ceil(8).max(1);
        Self {
            block: vec![0u64; words].into_boxed_slice(),
            used: 0,
        }
    }

    fn base(&mut self) -> *mut u8 {
        self.block.as_mut_ptr().cast()
    }

    /// Reserves room for one `T` at the next aligned offset.
    pub(crate) fn reserve<T>(&mut self) -> *mut T {
        let align = std::mem::align_of::<T>();
        let offset = self.used.next_multiple_of(align);
        let end = offset + std::mem::size_of::<T>();
        assert!(
            end <= self.block.len() * 8,
            "block too small for its structure"
        );
        self.used = end;
        // SAFETY: offset..end lies inside the block (checked above), and offset is aligned
        // for T because the block itself is 8-aligned and align_of::<T>() divides 8.
        unsafe { self.base().add(offset).cast() }
    }

    /// Reserves room for `count` consecutive `T`s; NULL for none.
    pub(crate) fn reserve_array<T>(&mut self, count: usize) -> *mut T {
        if count == 0 {
            return std::ptr::null_mut();
        }
        let align = std::mem::align_of::<T>();
        let offset = self.used.next_multiple_of(align);
        let end = offset + std::mem::size_of::<T>() * count;
        assert!(end <= self.block.len() * 8, "block too small for its array");
        self.used = end;
        // SAFETY: as in `reserve`, for `count` elements.
        unsafe { self.base().add(offset).cast() }
    }

    /// Copies bytes (plus a NUL when `nul`) into the block; returns where they start.
    pub(crate) fn put(&mut self, bytes: &[u8], nul: bool) -> *mut u8 {
        let end = self.used + bytes.len() + usize::from(nul);
        assert!(end <= self.block.len() * 8, "block too small for its data");
        let start = self.used;
        self.used = end;
        // SAFETY: start..end lies inside the block (checked above) and `bytes` is a separate
        // allocation; the NUL terminator is already there because blocks start zeroed.
        unsafe {
            let dst = self.base().add(start);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
            dst
        }
    }

    /// Registers the block and returns its address, now owned by the caller.
    pub(crate) fn finish(mut self) -> *mut u8 {
        let base = self.base();
        blocks().insert(base as usize, self.block);
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_freed_once() {
        let mut w = BlockWriter::new(64);
        let _ = w.reserve::<u64>();
        let p = w.put(b"abc", true);
        let base = w.finish();
        assert_ne!(p, base);
        assert!(release(base as usize));
        assert!(!release(base as usize));
        let local = 5u32;
        assert!(!release(&local as *const u32 as usize));
    }
}
