//! Memory handed to callers. Every block is registered by address; `MAPIFreeBuffer` frees
//! a pointer only if it is a registered block, so foreign, stack and already-freed pointers
//! are refused without ever being dereferenced.
use std::collections::HashMap;
use std::marker::PhantomData;
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
pub fn release(address: usize) -> bool {
    blocks().remove(&address).is_some()
}

/// Room for `count` consecutive `T`s inside a [`BlockWriter`], filled with
/// [`BlockWriter::write`].
pub struct Slot<T> {
    offset: usize,
    count: usize,
    ptr: *mut T,
    _type: PhantomData<T>,
}

impl<T> Slot<T> {
    /// Where the room starts, for the caller's structures to point at; NULL for none.
    pub fn ptr(&self) -> *mut T {
        self.ptr
    }
}

/// Fills one zeroed block front to back: a structure first, then the data it points to.
pub struct BlockWriter {
    block: Block,
    used: usize,
}

impl BlockWriter {
    pub fn new(bytes: usize) -> Self {
        let words = bytes.div_ceil(8).max(1);
        Self {
            block: vec![0u64; words].into_boxed_slice(),
            used: 0,
        }
    }

    fn base(&mut self) -> *mut u8 {
        self.block.as_mut_ptr().cast()
    }

    /// Reserves room for `count` consecutive `T`s at the next aligned offset (NULL for none).
    pub fn reserve<T>(&mut self, count: usize) -> Slot<T> {
        assert!(
            std::mem::align_of::<T>() <= 8,
            "blocks are 8-aligned; {} needs more",
            std::any::type_name::<T>()
        );
        let offset = self.used.next_multiple_of(std::mem::align_of::<T>());
        let end = offset + std::mem::size_of::<T>() * count;
        assert!(
            end <= self.block.len() * 8,
            "block too small for its structures"
        );
        self.used = end;
        let ptr = if count == 0 {
            std::ptr::null_mut()
        } else {
            // SAFETY: offset..end lies inside the block (checked above).
            unsafe { self.base().add(offset).cast() }
        };
        Slot {
            offset,
            count,
            ptr,
            _type: PhantomData,
        }
    }

    /// Writes element `index` of a slot of this block.
    pub fn write<T>(&mut self, slot: &Slot<T>, index: usize, value: T) {
        assert!(index < slot.count, "slot index out of range");
        let at = slot.offset + index * std::mem::size_of::<T>();
        assert!(at + std::mem::size_of::<T>() <= self.block.len() * 8);
        // SAFETY: inside the block (checked), aligned for T because the block is 8-aligned,
        // align_of::<T>() divides 8 (checked in `reserve`) and `at` is a multiple of it.
        unsafe { self.base().add(at).cast::<T>().write(value) };
    }

    /// Copies bytes (plus a NUL when `nul`) into the block; returns where they start.
    pub fn put(&mut self, bytes: &[u8], nul: bool) -> *mut u8 {
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
    pub fn finish(mut self) -> *mut u8 {
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
        let slot = w.reserve::<u64>(1);
        w.write(&slot, 0, 7);
        let p = w.put(b"abc", true);
        let base = w.finish();
        assert_ne!(p, base);
        assert_eq!(slot.ptr().cast::<u8>(), base);
        assert!(release(base as usize));
        assert!(!release(base as usize));
        let local = 5u32;
        assert!(!release(&local as *const u32 as usize));
    }

    #[test]
    #[should_panic(expected = "slot index out of range")]
    fn writes_stay_inside_their_slot() {
        let mut w = BlockWriter::new(64);
        let slot = w.reserve::<u32>(2);
        w.write(&slot, 2, 1);
    }
}
