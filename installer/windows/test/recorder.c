/*
 * TEST HARNESS ONLY, never shipped: a recording stand-in for the Windows
 * tools Wine 8 lacks (takeown.exe) or only stubs (icacls.exe, netsh.exe
 * and certutil.exe exit 0 and do nothing). Copied over them in a
 * throw-away WINEPREFIX by scripts/windows-test.sh, it appends its
 * command line to C:\recorded.txt and exits 0, so the test can check the
 * exact command lines the installer and greengate.exe ran.
 */
#include <windows.h>

int WINAPI wWinMain(HINSTANCE h, HINSTANCE p, LPWSTR cmd, int show)
{
	LPWSTR line = GetCommandLineW();
	HANDLE f = CreateFileW(L"C:\\recorded.txt", FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE,
		NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
	char buf[8192];
	int n;
	DWORD w;
	if (f == INVALID_HANDLE_VALUE)
		return 1;
	n = WideCharToMultiByte(CP_UTF8, 0, line, -1, buf, sizeof buf - 2, NULL, NULL);
	if (n > 0) {
		buf[n - 1] = '\n';
		WriteFile(f, buf, n, &w, NULL);
	}
	CloseHandle(f);
	return 0;
}
