#!/usr/bin/env bash
# Install what the one-node test cluster in tests/slurm/ needs: the SLURM controller and node daemons,
# the client commands (sbatch, squeue, scontrol) and munge for authentication.
# Runs as root on Debian/Ubuntu; the daemons are started by the test fixture, not by systemd.
set -euo pipefail

packages=(slurmctld slurmd slurm-client munge)

if [ "$(id -u)" -ne 0 ]; then
    echo "install_slurm.sh: must run as root (apt-get install); rerun with sudo" >&2
    exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install_slurm.sh: ${packages[*]} already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

for cmd in slurmctld slurmd sbatch squeue scontrol munged; do
    command -v "$cmd" >/dev/null || { echo "install_slurm.sh: $cmd not on PATH after install" >&2; exit 1; }
done
echo "install_slurm.sh: installed ${missing[*]}"
