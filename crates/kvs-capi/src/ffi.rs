//! Crossing the boundary: panics caught, C strings read within bounds, Rust strings written
//! into fixed arrays.

use core::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::types::{CHAR, STATUS, STATUS_INTERNAL_ERROR};

/// Runs `body`, turning a panic into `STATUS_INTERNAL_ERROR` (logged) so that no unwind
/// crosses into C.
pub(crate) fn guard(name: &str, body: impl FnOnce() -> STATUS) -> STATUS {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(status) => status,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(
                "{name}: internal error (a bug in the library, please report it): {what}"
            );
            STATUS_INTERNAL_ERROR
        }
    }
}

/// Why a C string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrError {
    /// More than the limit before the terminator.
    TooLong,
    /// Not UTF-8.
    NotUtf8,
}

/// Reads the NUL-terminated string at `ptr`, looking at no more than `max + 1` bytes. `NULL`
/// reads as `None`.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string, or to at least `max + 1` readable
/// bytes.
pub(crate) unsafe fn read_str(ptr: *const CHAR, max: usize) -> Result<Option<String>, StrError> {
    if ptr.is_null() {
        return Ok(None);
    }
    let mut len = 0;
    // SAFETY: the caller guarantees the bytes up to the terminator, or `max + 1` bytes, are
    // readable; the loop stops at whichever comes first.
    while unsafe { *ptr.add(len) } != 0 {
        len += 1;
        if len > max {
            return Err(StrError::TooLong);
        }
    }
    // SAFETY: `len` bytes were just read above.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    std::str::from_utf8(bytes)
        .map(|s| Some(s.to_owned()))
        .map_err(|_| StrError::NotUtf8)
}

/// Reads a NUL-terminated string from a fixed array; refused when the array holds no
/// terminator.
pub(crate) fn read_array(array: &[c_char]) -> Result<String, StrError> {
    let len = array
        .iter()
        .position(|&c| c == 0)
        .ok_or(StrError::TooLong)?;
    // SAFETY: `c_char` and `u8` have the same size and alignment, and `len` is in bounds.
    let bytes = unsafe { std::slice::from_raw_parts(array.as_ptr().cast::<u8>(), len) };
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| StrError::NotUtf8)
}

/// Copies `bytes` into `array` with a terminator, cutting what does not fit; returns the
/// number of bytes copied.
pub(crate) fn write_array(array: &mut [c_char], bytes: &[u8]) -> usize {
    let n = bytes.len().min(array.len().saturating_sub(1));
    for (dst, &src) in array.iter_mut().zip(&bytes[..n]) {
        *dst = src as c_char;
    }
    if let Some(end) = array.get_mut(n) {
        *end = 0;
    }
    n
}

/// Reads `len` bytes at `ptr`, or up to the terminator when `len` is 0, refusing more than
/// `max`.
///
/// # Safety
/// `ptr` points to `len` readable bytes, or (when `len` is 0) to a NUL-terminated string or
/// at least `max + 1` readable bytes.
pub(crate) unsafe fn read_bytes(
    ptr: *const CHAR,
    len: u32,
    max: usize,
) -> Result<Vec<u8>, StrError> {
    let len = len as usize;
    if len == 0 {
        // SAFETY: forwarded from the caller.
        return unsafe { read_str(ptr, max) }.map(|s| s.unwrap_or_default().into_bytes());
    }
    if len > max {
        return Err(StrError::TooLong);
    }
    // SAFETY: the caller guarantees `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_read_within_bounds() {
        let s = c"hello";
        // SAFETY: a valid C string.
        assert_eq!(unsafe { read_str(s.as_ptr(), 5) }, Ok(Some("hello".into())));
        // SAFETY: as above; the limit stops the scan at byte 5.
        assert_eq!(unsafe { read_str(s.as_ptr(), 4) }, Err(StrError::TooLong));
        // SAFETY: NULL is allowed.
        assert_eq!(unsafe { read_str(std::ptr::null(), 4) }, Ok(None));
        let unterminated = [b'a' as c_char; 4];
        assert_eq!(read_array(&unterminated), Err(StrError::TooLong));
        let mut out = [1 as c_char; 4];
        assert_eq!(write_array(&mut out, b"abcdef"), 3);
        assert_eq!(read_array(&out), Ok("abc".into()));
    }

    #[test]
    fn a_panic_becomes_a_status() {
        assert_eq!(guard("test", || panic!("boom")), STATUS_INTERNAL_ERROR);
        assert_eq!(guard("test", || 7), 7);
    }
}
