# Installs GreenGate on Windows. Run in an elevated PowerShell from the
# folder holding greengate.exe (and greengate-tray.exe):
#
#   powershell -ExecutionPolicy Bypass -File install.ps1
#
# NOT RUN YET: written against the documented behaviour of kardianos/service
# (Windows SCM, OnFailure=restart) and agent/sysproxy.WindowsCommands; there
# is no Windows machine in this project's CI. An NSIS or MSI wrapper should
# call these same steps.
$ErrorActionPreference = 'Stop'
$dir = Join-Path $env:ProgramFiles 'GreenGate'
New-Item -ItemType Directory -Force -Path $dir | Out-Null
Copy-Item -Force greengate.exe $dir
if (Test-Path greengate-tray.exe) { Copy-Item -Force greengate-tray.exe $dir }

# Settings and state live in ProgramData; only SYSTEM and Administrators
# may write or read them (the tray talks to the agent's named pipe).
$data = Join-Path $env:ProgramData 'GreenGate'
New-Item -ItemType Directory -Force -Path $data | Out-Null
icacls $data /inheritance:r /grant:r 'SYSTEM:(OI)(CI)F' 'Administrators:(OI)(CI)F' | Out-Null

$gg = Join-Path $dir 'greengate.exe'
& $gg service install --exe $gg
& $gg service start
Start-Sleep -Seconds 2
& $gg service proxy-on
if ($LASTEXITCODE -ne 0) { Write-Warning 'proxy-on refused; run it again once the agent serves /proxy.pac' }

# The tray for every user at logon.
if (Test-Path (Join-Path $dir 'greengate-tray.exe')) {
  New-ItemProperty -Force -Path 'HKLM:\Software\Microsoft\Windows\CurrentVersion\Run' `
    -Name 'GreenGate' -Value ('"' + (Join-Path $dir 'greengate-tray.exe') + '"') | Out-Null
}
Write-Host 'Now set the parent password:'
& $gg settings password
