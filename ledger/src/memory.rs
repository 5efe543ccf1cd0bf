//! Memory hints for the large preallocated arrays (account and transfer records, id indexes).
//!
//! With 4 KiB pages, a lookup in a 100 MB array is nearly always a TLB miss as well as a cache
//! miss; in a VM that is a two-dimensional page walk. Asking Linux for transparent huge pages
//! (2 MiB) on these arrays takes most of those walks away (about +25 % transfers/s on the uniform
//! 1 M-account workload). It is only a hint: contents and behaviour are unchanged, and where it is
//! refused or unsupported nothing happens.

/// Arrays smaller than this are left alone: they fit a handful of pages anyway.
const ADVISE_BYTES_MIN: usize = 4 << 20;

/// Asks the OS to back `vector`'s allocation (its whole capacity) with huge pages. Call it before
/// the memory is first touched: pages already mapped stay small.
pub(crate) fn advise_huge_pages<T>(vector: &Vec<T>) {
    let bytes = vector.capacity().saturating_mul(std::mem::size_of::<T>());
    if bytes < ADVISE_BYTES_MIN {
        return;
    }
    advise(vector.as_ptr().cast::<u8>(), bytes);
}

#[cfg(target_os = "linux")]
fn advise(start: *const u8, bytes: usize) {
    const PAGE_BYTES: usize = 4096;

    let start_address = start as usize;
    let aligned = start_address.next_multiple_of(PAGE_BYTES);
    let end = start_address + bytes;
    if end <= aligned {
        return;
    }
    let length = (end - aligned) / PAGE_BYTES * PAGE_BYTES;
    if length == 0 {
        return;
    }
    // SAFETY: [aligned, aligned + length) lies inside one live allocation this crate owns;
    // MADV_HUGEPAGE only changes how the kernel backs those pages, never their contents or
    // mapping, so no Rust-visible memory changes. The result is ignored on purpose: a refused
    // hint (THP disabled, old kernel) leaves ordinary pages, which is correct, only slower.
    let _refused =
        unsafe { libc::madvise(aligned as *mut libc::c_void, length, libc::MADV_HUGEPAGE) };
}

#[cfg(not(target_os = "linux"))]
fn advise(_start: *const u8, _bytes: usize) {}
