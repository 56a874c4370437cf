"""Give freed heap memory back to the system (glibc ``malloc_trim``); a no-op elsewhere.

CPython frees objects to malloc, but glibc keeps what it freed in its heap:
- lxml (the Word forms) makes many small allocations that fragment the heap: a daemon that
  had filled 60 gift forms sat at 80+ MB resident although the memory was free, and a trim
  brought a process back from 77 to 30 MB;
- a large mail's bytes are freed, but glibc keeps the top of its heap, and after one large
  free raises its mmap threshold so the next large object lands on the heap too: without a
  trim an idle daemon stayed at the size of the last large mail (82 MB after a 28 MB mail).
A trim costs about 20 ms, so callers run it when the mailbox is quiet or after a large mail,
never on the way from an ordinary mail to its answer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc


def _load_libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "malloc_trim"):
        return None
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    return libc


_LIBC = _load_libc()


def release_memory() -> None:
    """Collect garbage, then hand the heap's free memory back to the system (glibc only)."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
