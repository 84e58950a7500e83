/*
 * TEST HARNESS ONLY, never shipped: a stand-in for Windows 10's
 * bcryptprimitives.dll, which Wine 8 lacks. Go >= 1.22 takes its random
 * bytes from ProcessPrng there and dies at start without it. This one
 * export fills the buffer from RtlGenRandom (advapi32 SystemFunction036).
 * Built by scripts/windows-test.sh with x86_64-w64-mingw32-gcc.
 */
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!RtlGenRandom(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
