// The C allocator's figures and its trim, which Swift cannot call: what Swift sees of glibc
// lacks <malloc.h> (mallinfo2, malloc_trim). Everything is prefixed `bb_`. On a C library
// without them (musl, Darwin) the functions say so and do nothing.
#ifndef BRIDGEBACK_CMEMORY_H
#define BRIDGEBACK_CMEMORY_H

#include <stddef.h>

/// The heap as glibc's allocator holds it: `in_use` bytes allocated and not freed (mmapped
/// chunks included), `from_system` bytes it holds from the kernel for them (its arenas and
/// mmapped chunks), `releasable` bytes at the top of the main arena. Returns 1, or 0 (all
/// left 0) where the C library has no mallinfo2. Locks each arena in turn and walks its free
/// chunks: not for every request, a few times a minute at most.
int bb_heap_figures(size_t *in_use, size_t *from_system, size_t *releasable);

/// Gives the kernel back the free pages of every arena (glibc's `malloc_trim(0)`). Returns 1
/// if memory was released, 0 if none was or the C library has no malloc_trim.
int bb_heap_trim(void);

/// The process's resident set in bytes (/proc/self/statm), or 0 where it cannot be read.
size_t bb_resident_bytes(void);

#endif
