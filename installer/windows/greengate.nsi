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
; The uninstaller runs `greengate.exe service uninstall` in a console
; window: that command asks for the parent password (no echo), checks it
; through the agent's admin API (rate-limited, recorded in the block log;
; the password file only when the agent does not answer), removes the
; system proxy settings (the PAC is fail-closed), then stops and removes
; the service. When it exits non-zero nothing is removed.
;
; NOT RUN on Windows yet: there is no Windows machine in this project.

Unicode true
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
${UnStrStr}

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
LangString AlreadyInstalled ${LANG_ENGLISH} "GreenGate is already installed. Uninstall it first (Settings > Apps; it asks for the parent password), then run this setup again."
LangString AlreadyInstalled ${LANG_SIMPCHINESE} "GreenGate 已经安装。请先卸载（设置 > 应用；需要家长密码），然后再运行本安装程序。"
LangString StepData ${LANG_ENGLISH} "Restricting $APPDATA\GreenGate to SYSTEM and Administrators"
LangString StepData ${LANG_SIMPCHINESE} "将 $APPDATA\GreenGate 限制为仅 SYSTEM 和 Administrators 可访问"
LangString StepService ${LANG_ENGLISH} "Registering and starting the GreenGate service"
LangString StepService ${LANG_SIMPCHINESE} "正在注册并启动 GreenGate 服务"
LangString StepProxy ${LANG_ENGLISH} "Pointing this computer's browsers at the filter"
LangString StepProxy ${LANG_SIMPCHINESE} "正在让本机浏览器经过过滤器"
LangString FailData ${LANG_ENGLISH} "Could not restrict the settings folder (icacls exit code $0). Setup stops."
LangString FailData ${LANG_SIMPCHINESE} "无法限制设置文件夹的权限（icacls 退出码 $0）。安装已停止。"
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

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_OK|MB_ICONSTOP "$(Need64Bit)" /SD IDOK
    SetErrorLevel 2
    Abort
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
  ; Upgrading in place would have to stop the running service, which
  ; needs the parent password: the uninstaller asks for it.
  ReadRegStr $0 HKLM "${UNINSTKEY}" "UninstallString"
  ${If} $0 != ""
    MessageBox MB_OK|MB_ICONEXCLAMATION "$(AlreadyInstalled)" /SD IDOK
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

Section "GreenGate" SecMain
  SectionIn RO
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
  ; inherits this.
  DetailPrint "$(StepData)"
  CreateDirectory "$APPDATA\GreenGate"
  nsExec::ExecToLog '"$SYSDIR\icacls.exe" "$APPDATA\GreenGate" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F'
  Pop $0
  ${If} $0 != "0"
    MessageBox MB_OK|MB_ICONSTOP "$(FailData)" /SD IDOK
    SetErrorLevel 2
    Abort
  ${EndIf}

  DetailPrint "$(StepService)"
  StrCpy $1 'service install --exe "$INSTDIR\greengate.exe"'
  Call RunGreenGate
  ${If} $0 != "0"
    MessageBox MB_OK|MB_ICONSTOP "$(FailService)" /SD IDOK
    SetErrorLevel 2
    Abort
  ${EndIf}
  StrCpy $1 "service start"
  Call RunGreenGate
  ${If} $0 != "0"
    MessageBox MB_OK|MB_ICONSTOP "$(FailService)" /SD IDOK
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
FunctionEnd

Section "Uninstall"
  ; The password check, the proxy removal and the service removal are all
  ; greengate.exe's: one command, one password prompt. If the service is
  ; not registered (setup stopped half way, or it was removed by hand),
  ; proxy-off takes its place: it asks for the same password.
  ${IfNot} ${FileExists} "$INSTDIR\greengate.exe"
    MessageBox MB_OK|MB_ICONSTOP "$(UnNoExe)" /SD IDOK
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
  MessageBox MB_OK|MB_ICONINFORMATION "$(UnAskPassword)" /SD IDOK
  DetailPrint "greengate.exe $1"
  ClearErrors
  ExecWait '"$INSTDIR\greengate.exe" $1' $0
  ${If} ${Errors}
  ${OrIf} $0 != "0"
    DetailPrint "greengate.exe $1: exit code $0"
    MessageBox MB_OK|MB_ICONSTOP "$(UnRefused)" /SD IDOK
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

  MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 "$(UnPurge)" /SD IDNO IDNO keep
    RMDir /r "$APPDATA\GreenGate"
  keep:
SectionEnd
