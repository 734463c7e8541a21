#!/bin/bash
# lima-system-provision.sh: the "system" provision script of every VM's lima.yaml
# (lima/render.cpp): runs as root at every boot. Lima treats provision scripts as Go
# templates, so this file must never contain two opening braces in a row; no user value
# appears in it. The shebang line is sent; this header is not.
# Inputs: none.
# shellcheck shell=bash
# dvm: guest essentials (sudo, ACLs, git, tar, gzip).
set -euo pipefail
packages=(sudo acl git tar gzip)
if command -v dnf5 >/dev/null 2>&1; then
  dnf5 install -y "${packages[@]}"
elif command -v dnf >/dev/null 2>&1; then
  dnf install -y "${packages[@]}"
elif command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${packages[@]}"
else
  echo "dvm: no supported package manager (dnf5, dnf, apt-get) to install ${packages[*]}" >&2
  exit 1
fi
