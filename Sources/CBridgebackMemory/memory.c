#include "CBridgebackMemory.h"

// Any C library header defines __GLIBC__ where it is glibc (<stddef.h> is the compiler's own).
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

int bb_heap_figures(size_t *in_use, size_t *from_system, size_t *releasable) {
    *in_use = 0;
    *from_system = 0;
    *releasable = 0;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 info = mallinfo2();
    *in_use = info.uordblks + info.hblkhd;
    *from_system = info.arena + info.hblkhd;
    *releasable = info.keepcost;
    return 1;
#else
    return 0;
#endif
}

int bb_heap_trim(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}

size_t bb_resident_bytes(void) {
    FILE *file = fopen("/proc/self/statm", "re");
    if (file == NULL) return 0;
    unsigned long size = 0, resident = 0;
    int read = fscanf(file, "%lu %lu", &size, &resident);
    fclose(file);
    long page = sysconf(_SC_PAGESIZE);
    return (read == 2 && page > 0) ? (size_t)resident * (size_t)page : 0;
}
