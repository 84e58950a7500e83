; GreenGate's Windows installer (NSIS 3, MUI2). Built on Linux by
; installer/windows/build.sh:
;
;   makensis -WX -DVERSION=1.2.3 -DVIVERSION=1.2.3.0 \
;     -DBUILDDIR=dist/build/windows -DOUTFILE=dist/greengate-1.2.3-setup.exe \
;     [-DTRAY] installer/windows/greengate.nsi
;
; It does what install.ps1 does, with the same greengate.exe commands, so
; the service logic stays in the binary (agent/service, agent/sysproxy):
;
;   greengate.exe service install --exe "$INSTDIR\greengate.exe"
;   greengate.exe service start
;   greengate.exe service proxy-on
;   greengate.exe settings password      (when none is set yet)
;
; Silent install (/S) needs the parent password, so no machine is left
; without one: /PASSWORDFILE=C:\path holds it on its first line (ASCII,
; or the system's ANSI code page); setup reads it and deletes the file at
; once. The same option lets a silent upgrade or uninstall pass the
; password check. /PURGE makes a silent uninstall delete the settings too.
;
; Upgrade in place: when GreenGate is installed, setup stops the service
; (parent password, checked by the installed greengate.exe), replaces the
; files, and starts it again; settings, password and block log stay.
;
; The uninstaller runs `greengate.exe service uninstall` in a console
; window: that command asks for the parent password (no echo), checks it
; through the agent's admin API (rate-limited, recorded in the block log;
; the password file only when the agent does not answer), removes the
; system proxy settings (the PAC is fail-closed), then stops and removes
; the service. When it exits non-zero nothing is removed.
;
; NOT RUN on Windows yet: there is no Windows machine in this project.
; scripts/windows-test.sh runs it under Wine 8 (what that cannot show is
; listed there).

; A 64-bit installer: GreenGate is 64-bit only, $SYSDIR is the real
; System32 (no WOW64 redirection of takeown, icacls, cmd), and Wine
; runs it with the wine64 package alone (Debian's wine32 is multiarch).
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel admin
ManifestDPIAware true

!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!ifndef VIVERSION
  !define VIVERSION "0.0.0.0"
!endif
!ifndef BUILDDIR
  !define BUILDDIR "../../dist/build/windows"
!endif
!ifndef OUTFILE
  !define OUTFILE "../../dist/greengate-${VERSION}-setup.exe"
!endif

!define PRODUCT "GreenGate"
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\GreenGate"
!define RUNKEY "Software\Microsoft\Windows\CurrentVersion\Run"

Name "${PRODUCT}"
OutFile "${OUTFILE}"
; build.sh -DSIGNCMD=.../sign.sh when a certificate is given: the
; uninstaller is signed as it is packed, the installer once written.
!ifdef SIGNCMD
  !uninstfinalize '"${SIGNCMD}" "%1"' = 0
  !finalize '"${SIGNCMD}" "%1"' = 0
!endif
; Fixed, administrator-only folder: the service runs this binary as
; SYSTEM, so it must not live anywhere a user can write.
InstallDir "$PROGRAMFILES64\GreenGate"
BrandingText "${PRODUCT} ${VERSION}"

VIProductVersion "${VIVERSION}"
VIFileVersion "${VIVERSION}"
VIAddVersionKey /LANG=1033 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileDescription" "${PRODUCT} setup"
VIAddVersionKey /LANG=1033 "LegalCopyright" "GreenGate authors"

!include MUI2.nsh
!include LogicLib.nsh
!include x64.nsh
!include FileFunc.nsh
!include StrFunc.nsh
!include TextFunc.nsh
${StrStr}
${UnStrStr}

Var Password ; from /PASSWORDFILE, "" if none was given
Var Upgrade  ; 1 when an installed GreenGate is being replaced
Var Purge    ; 1 with /PURGE (uninstall)

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

; The system's UI language picks one (English otherwise).
!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_LANGUAGE "SimpChinese"

LangString Need64Bit ${LANG_ENGLISH} "GreenGate needs 64-bit Windows."
LangString Need64Bit ${LANG_SIMPCHINESE} "GreenGate 需要 64 位 Windows。"
LangString NeedPasswordFile ${LANG_ENGLISH} "A silent install or uninstall needs the parent password: /PASSWORDFILE=C:\path\file with the password on its first line (the file is deleted once read)."
LangString NeedPasswordFile ${LANG_SIMPCHINESE} "静默安装或卸载需要家长密码：/PASSWORDFILE=C:\路径\文件，文件第一行为密码（读取后即删除）。"
LangString BadPasswordFile ${LANG_ENGLISH} "Could not read the password file given with /PASSWORDFILE. Nothing was changed."
LangString BadPasswordFile ${LANG_SIMPCHINESE} "无法读取 /PASSWORDFILE 指定的密码文件。未做任何更改。"
LangString StepStop ${LANG_ENGLISH} "Stopping the installed GreenGate to upgrade it"
LangString StepStop ${LANG_SIMPCHINESE} "正在停止已安装的 GreenGate 以进行升级"
LangString UpAskPassword ${LANG_ENGLISH} "GreenGate is already installed. Upgrading stops it for a moment, which needs the parent password. A console window opens: type the parent password (nothing is shown while you type) and press Enter."
LangString UpAskPassword ${LANG_SIMPCHINESE} "GreenGate 已经安装。升级需要短暂停止它，这需要家长密码。将打开一个控制台窗口：输入家长密码（输入时不显示）并按回车。"
LangString UpRefused ${LANG_ENGLISH} "The installed GreenGate refused to stop (exit code $0). Nothing was changed: it stays installed and running."
LangString UpRefused ${LANG_SIMPCHINESE} "已安装的 GreenGate 拒绝停止（退出码 $0）。未做任何更改：它仍已安装并在运行。"
LangString FailPassword ${LANG_ENGLISH} "Setting the parent password from /PASSWORDFILE failed (exit code $0):$\r$\n$2$\r$\nSetup stops. Run the uninstaller to remove what was copied."
LangString FailPassword ${LANG_SIMPCHINESE} "无法从 /PASSWORDFILE 设置家长密码（退出码 $0）：$\r$\n$2$\r$\n安装已停止。请运行卸载程序删除已复制的文件。"
LangString StepData ${LANG_ENGLISH} "Restricting $APPDATA\GreenGate to SYSTEM and Administrators"
LangString StepData ${LANG_SIMPCHINESE} "将 $APPDATA\GreenGate 限制为仅 SYSTEM 和 Administrators 可访问"
LangString StepService ${LANG_ENGLISH} "Registering and starting the GreenGate service"
LangString StepService ${LANG_SIMPCHINESE} "正在注册并启动 GreenGate 服务"
LangString StepProxy ${LANG_ENGLISH} "Pointing this computer's browsers at the filter"
LangString StepProxy ${LANG_SIMPCHINESE} "正在让本机浏览器经过过滤器"
LangString FailData ${LANG_ENGLISH} "Could not take over or restrict the settings folder ($1 exit code $0). Setup stops."
LangString FailData ${LANG_SIMPCHINESE} "无法接管或限制设置文件夹的权限（$1 退出码 $0）。安装已停止。"
LangString FailService ${LANG_ENGLISH} "greengate.exe $1 failed (exit code $0):$\r$\n$2$\r$\nSetup stops. Run the uninstaller to remove what was copied."
LangString FailService ${LANG_SIMPCHINESE} "greengate.exe $1 失败（退出码 $0）：$\r$\n$2$\r$\n安装已停止。请运行卸载程序删除已复制的文件。"
LangString FailProxy ${LANG_ENGLISH} "The filter did not serve its proxy settings in time, so browsers were not pointed at it yet. Run this later in an administrator command prompt:$\r$\n$\r$\n$\"$INSTDIR\greengate.exe$\" service proxy-on"
LangString FailProxy ${LANG_SIMPCHINESE} "过滤器未能及时提供代理设置，浏览器尚未指向它。请稍后在管理员命令提示符中运行：$\r$\n$\r$\n$\"$INSTDIR\greengate.exe$\" service proxy-on"
LangString SetPassword ${LANG_ENGLISH} "Now set the parent password. A console window opens: type the new password twice (nothing is shown while you type) and press Enter.$\r$\n$\r$\nThe password is needed to stop, pause or uninstall the filter."
LangString SetPassword ${LANG_SIMPCHINESE} "现在设置家长密码。将打开一个控制台窗口：输入新密码两次（输入时不显示）并按回车。$\r$\n$\r$\n停止、暂停或卸载过滤器都需要此密码。"
LangString NoPassword ${LANG_ENGLISH} "No parent password was set. Until one is, anyone with administrator rights can stop or uninstall the filter. Set it later in an administrator command prompt:$\r$\n$\r$\n$\"$INSTDIR\greengate.exe$\" settings password"
LangString NoPassword ${LANG_SIMPCHINESE} "尚未设置家长密码。在设置之前，任何有管理员权限的人都可以停止或卸载过滤器。请稍后在管理员命令提示符中运行：$\r$\n$\r$\n$\"$INSTDIR\greengate.exe$\" settings password"
LangString UnAskPassword ${LANG_ENGLISH} "Uninstalling needs the parent password. A console window opens: type the parent password (nothing is shown while you type) and press Enter. The filter checks it."
LangString UnAskPassword ${LANG_SIMPCHINESE} "卸载需要家长密码。将打开一个控制台窗口：输入家长密码（输入时不显示）并按回车。由过滤器进行验证。"
LangString UnRefused ${LANG_ENGLISH} "greengate.exe $1 refused or failed (exit code $0). Nothing was removed: the filter stays installed and running."
LangString UnRefused ${LANG_SIMPCHINESE} "greengate.exe $1 被拒绝或失败（退出码 $0）。未删除任何内容：过滤器仍已安装并在运行。"
LangString UnNoExe ${LANG_ENGLISH} "$INSTDIR\greengate.exe is missing, so the parent password cannot be checked. Nothing was removed."
LangString UnNoExe ${LANG_SIMPCHINESE} "$INSTDIR\greengate.exe 不存在，无法验证家长密码。未删除任何内容。"
LangString UnPurge ${LANG_ENGLISH} "Also delete the settings, the parent password and the block log in $APPDATA\GreenGate?$\r$\n$\r$\nChoose No to keep them for a later reinstall."
LangString UnPurge ${LANG_SIMPCHINESE} "是否同时删除 $APPDATA\GreenGate 中的设置、家长密码和拦截记录？$\r$\n$\r$\n选择“否”可保留它们以便日后重新安装。"

; A stop, shown to whoever runs setup; a silent run has no one to show
; it to, so it also goes to %TEMP%\greengate-setup.log (the exit code
; is 2 either way).
!macro StopMessage MSG
  ${If} ${Silent}
    FileOpen $R8 "$TEMP\greengate-setup.log" a
    FileSeek $R8 0 END
    FileWrite $R8 "${MSG}$\r$\n"
    FileClose $R8
  ${EndIf}
  MessageBox MB_OK|MB_ICONSTOP "${MSG}" /SD IDOK
!macroend

; Reads the first line of the /PASSWORDFILE= file into $Password and
; deletes the file; the line ending is dropped. Aborts setup (exit code 2)
; when the file cannot be read.
!macro ReadPasswordFile un
Function ${un}ReadPasswordFile
  StrCpy $Password ""
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PASSWORDFILE=" $R1
  ${If} ${Errors}
    Return
  ${EndIf}
  ClearErrors
  FileOpen $R2 "$R1" r
  ${If} ${Errors}
    !insertmacro StopMessage "$(BadPasswordFile)"
    SetErrorLevel 2
    Quit
  ${EndIf}
  FileRead $R2 $Password
  FileClose $R2
  ; Read once, then gone: the password does not stay on disk.
  Delete "$R1"
  ${${un}TrimNewLines} "$Password" $Password
FunctionEnd

; Runs greengate.exe (of $INSTDIR) with the arguments in $1 and
; --password-stdin, its standard input the password, twice (new and
; again, for `settings password`), through a one-line .cmd in
; $PLUGINSDIR: NSIS cannot feed a program's stdin, cmd.exe can. $0 is the
; exit code, $2 the output. Both files are deleted at once.
Function ${un}RunWithPassword
  InitPluginsDir
  FileOpen $R3 "$PLUGINSDIR\pw" w
  FileWrite $R3 "$Password$\r$\n$Password$\r$\n"
  FileClose $R3
  FileOpen $R3 "$PLUGINSDIR\gg.cmd" w
  FileWrite $R3 '@"$INSTDIR\greengate.exe" $1 --password-stdin < "$PLUGINSDIR\pw"$\r$\n@exit /b %errorlevel%$\r$\n'
  FileClose $R3
  DetailPrint "greengate.exe $1 --password-stdin"
  nsExec::ExecToStack '"$SYSDIR\cmd.exe" /c "$PLUGINSDIR\gg.cmd"'
  Pop $0
  Pop $2
  Delete "$PLUGINSDIR\pw"
  Delete "$PLUGINSDIR\gg.cmd"
  DetailPrint "$2"
FunctionEnd
!macroend
!insertmacro ReadPasswordFile ""
!insertmacro ReadPasswordFile "un."

Function .onInit
  ${IfNot} ${RunningX64}
    !insertmacro StopMessage "$(Need64Bit)"
    SetErrorLevel 2
    Abort
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
  Call ReadPasswordFile
  StrCpy $Upgrade 0
  ReadRegStr $0 HKLM "${UNINSTKEY}" "UninstallString"
  ${If} $0 != ""
    StrCpy $Upgrade 1
    ReadRegStr $0 HKLM "${UNINSTKEY}" "InstallLocation"
    ${If} $0 != ""
      StrCpy $INSTDIR $0
    ${EndIf}
  ${EndIf}
  ; A silent install must leave a parent password behind, and a silent
  ; upgrade must get past the installed one: either way it needs it.
  ${If} ${Silent}
  ${AndIf} $Password == ""
  ${AndIfNot} ${FileExists} "$APPDATA\GreenGate\password"
    !insertmacro StopMessage "$(NeedPasswordFile)"
    SetErrorLevel 2
    Abort
  ${EndIf}
  ${If} ${Silent}
  ${AndIf} $Password == ""
  ${AndIf} $Upgrade == 1
    !insertmacro StopMessage "$(NeedPasswordFile)"
    SetErrorLevel 2
    Abort
  ${EndIf}
FunctionEnd

; Runs greengate.exe with the arguments in $1, output to the details list;
; $0 is the exit code ("error" if it did not start), $2 the output.
Function RunGreenGate
  DetailPrint "greengate.exe $1"
  nsExec::ExecToStack '"$INSTDIR\greengate.exe" $1'
  Pop $0
  Pop $2
  DetailPrint "$2"
FunctionEnd

; Upgrade: stop the installed service first (its binary is in use), with
; the parent password, checked by the installed greengate.exe. Refused:
; nothing has been changed yet.
Function StopInstalled
  DetailPrint "$(StepStop)"
  nsExec::ExecToStack '"$INSTDIR\greengate.exe" service status'
  Pop $0
  Pop $2
  DetailPrint "$2"
  ${StrStr} $3 "$2" "service: running"
  ${If} $3 != ""
    StrCpy $1 "service stop"
    ${If} $Password != ""
      Call RunWithPassword
    ${Else}
      MessageBox MB_OK|MB_ICONINFORMATION "$(UpAskPassword)"
      ClearErrors
      ExecWait '"$INSTDIR\greengate.exe" service stop' $0
      ${If} ${Errors}
        StrCpy $0 "error"
      ${EndIf}
    ${EndIf}
    ${If} $0 != "0"
      !insertmacro StopMessage "$(UpRefused)"
      SetErrorLevel 2
      Abort
    ${EndIf}
  ${EndIf}
  nsExec::ExecToLog '"$SYSDIR\taskkill.exe" /F /IM greengate-tray.exe'
  Pop $0
FunctionEnd

Section "GreenGate" SecMain
  SectionIn RO
  ${If} $Upgrade == 1
    Call StopInstalled
  ${EndIf}
  SetOutPath "$INSTDIR"
  File "${BUILDDIR}/greengate.exe"
!ifdef TRAY
  File "${BUILDDIR}/greengate-tray.exe"
!endif
  ; Written first so whatever happens next can be undone.
  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTKEY}" "Publisher" "GreenGate"
  WriteRegStr HKLM "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\greengate.exe"
  WriteRegStr HKLM "${UNINSTKEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKLM "${UNINSTKEY}" "EstimatedSize" "$0"

  ; Settings and state (C:\ProgramData\GreenGate, settings.DefaultDir):
  ; only SYSTEM and Administrators, by SID so localised group names do
  ; not matter. Before the service starts, so everything it writes
  ; inherits this. ProgramData is writable by users: a folder a standard
  ; user made first is theirs, and as owner they could change its ACL
  ; back. So first Administrators take ownership of it and all inside
  ; (/D Y: also where the user left no read access), every child's ACL
  ; is reset to inherit, then the folder's own is set. Fail-closed.
  DetailPrint "$(StepData)"
  CreateDirectory "$APPDATA\GreenGate"
  StrCpy $1 "takeown"
  nsExec::ExecToLog '"$SYSDIR\takeown.exe" /F "$APPDATA\GreenGate" /R /A /D Y'
  Pop $0
  ${If} $0 == "0"
    StrCpy $1 "icacls /reset"
    nsExec::ExecToLog '"$SYSDIR\icacls.exe" "$APPDATA\GreenGate" /reset /T /C /Q'
    Pop $0
  ${EndIf}
  ${If} $0 == "0"
    StrCpy $1 "icacls /grant:r"
    nsExec::ExecToLog '"$SYSDIR\icacls.exe" "$APPDATA\GreenGate" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F'
    Pop $0
  ${EndIf}
  ${If} $0 != "0"
    !insertmacro StopMessage "$(FailData)"
    SetErrorLevel 2
    Abort
  ${EndIf}

  ; The parent password from /PASSWORDFILE, while the agent is stopped
  ; (greengate.exe then writes the password file itself).
  ${If} $Password != ""
  ${AndIfNot} ${FileExists} "$APPDATA\GreenGate\password"
    StrCpy $1 "settings password"
    Call RunWithPassword
    ${If} $0 != "0"
      !insertmacro StopMessage "$(FailPassword)"
      SetErrorLevel 2
      Abort
    ${EndIf}
  ${EndIf}

  DetailPrint "$(StepService)"
  ; An upgrade keeps the registered service (same path, same arguments).
  ${If} $Upgrade != 1
    StrCpy $1 'service install --exe "$INSTDIR\greengate.exe"'
    Call RunGreenGate
    ${If} $0 != "0"
      !insertmacro StopMessage "$(FailService)"
      SetErrorLevel 2
      Abort
    ${EndIf}
  ${EndIf}
  ; A few tries: the service manager answers "database locked" while it
  ; starts other services (at boot; measured under Wine right after
  ; install), and that passes.
  StrCpy $1 "service start"
  StrCpy $3 0
  ${Do}
    Call RunGreenGate
    IntOp $3 $3 + 1
    ${If} $0 == "0"
    ${OrIf} $3 >= 10
      ${ExitDo}
    ${EndIf}
    Sleep 3000
  ${Loop}
  ${If} $0 != "0"
    !insertmacro StopMessage "$(FailService)"
    SetErrorLevel 2
    Abort
  ${EndIf}

  ; proxy-on refuses until the agent serves /proxy.pac (the PAC is
  ; fail-closed), so give the new service up to ~15 s to come up.
  DetailPrint "$(StepProxy)"
  StrCpy $1 "service proxy-on"
  StrCpy $3 0
  ${Do}
    Sleep 1000
    Call RunGreenGate
    IntOp $3 $3 + 1
    ${If} $0 == "0"
    ${OrIf} $3 >= 15
      ${ExitDo}
    ${EndIf}
  ${Loop}
  ${If} $0 != "0"
    MessageBox MB_OK|MB_ICONEXCLAMATION "$(FailProxy)" /SD IDOK
  ${EndIf}

!ifdef TRAY
  ; The tray for every user at logon (it starts with the next logon: run
  ; from this elevated setup it would run as administrator).
  WriteRegStr HKLM "${RUNKEY}" "GreenGate" '"$INSTDIR\greengate-tray.exe"'
!endif

  ; The parent password, in a console window (the prompt has no echo).
  ; A silent install leaves it to the administrator.
  ${IfNot} ${Silent}
  ${AndIfNot} ${FileExists} "$APPDATA\GreenGate\password"
    MessageBox MB_OK|MB_ICONINFORMATION "$(SetPassword)"
    ClearErrors
    ExecWait '"$INSTDIR\greengate.exe" settings password' $0
    ${If} ${Errors}
    ${OrIf} $0 != "0"
      MessageBox MB_OK|MB_ICONEXCLAMATION "$(NoPassword)"
    ${EndIf}
  ${EndIf}
SectionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
  Call un.ReadPasswordFile
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PURGE" $R1
  StrCpy $Purge 0
  ${IfNot} ${Errors}
    StrCpy $Purge 1
  ${EndIf}
  ; Silent, with a password set and none given: the console prompt would
  ; wait for ever. Refuse, changing nothing.
  ${If} ${Silent}
  ${AndIf} $Password == ""
  ${AndIf} ${FileExists} "$APPDATA\GreenGate\password"
    !insertmacro StopMessage "$(NeedPasswordFile)"
    SetErrorLevel 2
    Quit
  ${EndIf}
FunctionEnd

Section "Uninstall"
  ; The password check, the proxy removal and the service removal are all
  ; greengate.exe's: one command, one password prompt. If the service is
  ; not registered (setup stopped half way, or it was removed by hand),
  ; proxy-off takes its place: it asks for the same password.
  ${IfNot} ${FileExists} "$INSTDIR\greengate.exe"
    !insertmacro StopMessage "$(UnNoExe)"
    SetErrorLevel 2
    Abort
  ${EndIf}
  nsExec::ExecToStack '"$INSTDIR\greengate.exe" service status'
  Pop $0
  Pop $2
  DetailPrint "$2"
  ${UnStrStr} $3 "$2" "service: not installed"
  ${If} $3 == ""
    StrCpy $1 "service uninstall"
  ${Else}
    StrCpy $1 "service proxy-off"
  ${EndIf}
  ${If} $Password != ""
    Call un.RunWithPassword
  ${Else}
    MessageBox MB_OK|MB_ICONINFORMATION "$(UnAskPassword)" /SD IDOK
    DetailPrint "greengate.exe $1"
    ClearErrors
    ExecWait '"$INSTDIR\greengate.exe" $1' $0
    ${If} ${Errors}
      StrCpy $0 "error"
    ${EndIf}
  ${EndIf}
  ${If} $0 != "0"
    DetailPrint "greengate.exe $1: exit code $0"
    !insertmacro StopMessage "$(UnRefused)"
    SetErrorLevel 2
    Abort
  ${EndIf}

  ; The service and the proxy settings are gone; now the files.
  DeleteRegValue HKLM "${RUNKEY}" "GreenGate"
  nsExec::ExecToLog '"$SYSDIR\taskkill.exe" /F /IM greengate-tray.exe'
  Pop $0
  Delete /REBOOTOK "$INSTDIR\greengate-tray.exe"
  Delete /REBOOTOK "$INSTDIR\greengate.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir /REBOOTOK "$INSTDIR"
  DeleteRegKey HKLM "${UNINSTKEY}"
  ; proxy-off deleted GreenGate's policy values and put back what was
  ; there before; the keys it made are left only if something else is in
  ; them.
  DeleteRegKey /ifempty HKLM "SOFTWARE\Policies\Mozilla\Firefox\Proxy"
  DeleteRegKey /ifempty HKLM "SOFTWARE\Policies\Mozilla\Firefox"
  DeleteRegKey /ifempty HKLM "SOFTWARE\Policies\Mozilla"
  DeleteRegKey /ifempty HKLM "SOFTWARE\Policies\Google\Chrome"
  DeleteRegKey /ifempty HKLM "SOFTWARE\Policies\Google"
  DeleteRegKey /ifempty HKLM "SOFTWARE\Policies\Microsoft\Edge"
  DeleteRegKey /ifempty HKLM "SOFTWARE\Policies\Microsoft\Internet Explorer\Control Panel"
  DeleteRegKey /ifempty HKLM "SOFTWARE\Policies\Microsoft\Internet Explorer"

  ${If} $Purge == 1
    RMDir /r "$APPDATA\GreenGate"
  ${Else}
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 "$(UnPurge)" /SD IDNO IDNO keep
      RMDir /r "$APPDATA\GreenGate"
    keep:
  ${EndIf}
SectionEnd
