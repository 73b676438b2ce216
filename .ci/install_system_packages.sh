#!/usr/bin/env bash
# Install the system programs the tests use: the SLURM controller and node daemons, client commands
# (sbatch, squeue, scontrol) and munge for the one-node test cluster of tests/slurm/ (started by the test
# fixture, not by systemd), and Chromium with its driver, in which a test opens the HTML report.
# Runs as root on Debian/Ubuntu.
set -euo pipefail

packages=(slurmctld slurmd slurm-client munge chromium chromium-driver)

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install_system_packages.sh: needs root (apt-get install)" >&2; exit 1; }
    as_root=(sudo env DEBIAN_FRONTEND=noninteractive)
fi

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install_system_packages.sh: ${packages[*]} already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
    "${as_root[@]}" apt-get update
    "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

for cmd in slurmctld slurmd sbatch squeue scontrol munged chromium chromedriver; do
    command -v "$cmd" >/dev/null || { echo "install_system_packages.sh: $cmd not on PATH after install" >&2; exit 1; }
done
echo "install_system_packages.sh: installed ${missing[*]}"
