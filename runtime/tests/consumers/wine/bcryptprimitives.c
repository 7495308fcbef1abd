/* bcryptprimitives.dll for Wine 8.0, which lacks it: Rust's standard
 * library (1.78 and later) imports ProcessPrng from it on Windows, so no
 * Rust program starts under Wine 8.0 without this. ProcessPrng fills a
 * buffer with random bytes and always succeeds (Microsoft's documentation);
 * this one asks RtlGenRandom (advapi32's SystemFunction036), which Wine has.
 * Test support only: never shipped with netc. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
