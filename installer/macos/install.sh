#!/bin/sh
# Installs GreenGate on macOS from the folder holding the greengate binary:
#
#   sudo ./install.sh
#
# NOT RUN YET: written against kardianos/service's launchd backend
# (/Library/LaunchDaemons, RunAtLoad and KeepAlive set by agent/service) and
# agent/sysproxy's networksetup commands; there is no macOS machine in this
# project's CI. A signed, notarised .pkg should run these same steps.
set -eu
[ "$(id -u)" -eq 0 ] || { echo "run with sudo" >&2; exit 1; }
install -m 0755 greengate /usr/local/bin/greengate
install -d -m 0755 /etc/greengate /var/lib/greengate
/usr/local/bin/greengate service install --exe /usr/local/bin/greengate
/usr/local/bin/greengate service start
sleep 2
/usr/local/bin/greengate service proxy-on || echo "proxy-on refused; run it again once the agent serves /proxy.pac" >&2
echo "Now set the parent password:"
/usr/local/bin/greengate settings password
