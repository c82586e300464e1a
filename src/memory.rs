//! The process's own memory: its peak resident size, and giving the allocator's
//! freed pages back to the system. The client's peak memory is the scale limit
//! that grows with the training sample (issue 17). Linux only; elsewhere nothing is
//! known and nothing is done.

/// Hands the allocator's free pages back to the system (glibc's `malloc_trim`).
///
/// glibc keeps memory freed on its heaps for later small allocations. The pull's
/// Arrow batches, the training rows' ids and table, the fit's vectors are freed
/// there, but the next large buffers (the training matrix, the test window's
/// columns) are mappings of their own and never reuse it: without this, the
/// process's resident memory counted them on top of the matrix (issue 17: 1M
/// members, the client's peak 1.6 x the matrix, of which some 0.4 x was freed).
/// Called around every stage of a run, and inside the training rows' encoding once
/// their ids and labels are gone, before the matrix grows. Other platforms'
/// allocators are left alone.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer: it only gives the allocator's own free
    // pages back to the system, under the allocator's lock (any thread may call it).
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Peak resident memory of this process so far (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// One `/proc/self/status` line's size in bytes (`VmHWM:`, `VmRSS:`).
fn status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Logs, at debug level (`-v`), the resident and peak memory at a point inside a
/// stage: where in encoding or in the fit the client's peak is (issue 17's
/// benchmark reads these lines). Reads `/proc` only when debug is on.
pub(crate) fn trace_point(point: &str) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let mib = |b: Option<u64>| b.map_or(f64::NAN, |b| b as f64 / (1024.0 * 1024.0));
    let (rss, peak) = (mib(status_bytes("VmRSS:")), mib(peak_rss_bytes()));
    tracing::debug!(
        point,
        rss_mib = rss,
        peak_mib = peak,
        "memory at {point}: resident {rss:.1} MiB, peak so far {peak:.1} MiB"
    );
}
