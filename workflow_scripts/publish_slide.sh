#!/usr/bin/env bash
# Snakemake job: one slide's results, taken from its folder in its batch job's output (see
# crossfusion_core/slide_batches.py): its log, then its error if its input was unusable, else each file
# as a hard link (nothing is copied; a copy where the file system has none), touched so that it is
# newer than the batch folder it came from.
#
#   publish_slide.sh SLIDE_FOLDER LOG FILE=DESTINATION...
set -euo pipefail
folder=$1
log=$2
shift 2
cp "$folder/job.log" "$log"
if [[ -e $folder/error.txt ]]; then
    cat "$folder/error.txt" >&2
    exit 1
fi
for pair in "$@"; do
    source=$folder/${pair%%=*}
    destination=${pair#*=}
    ln -f "$source" "$destination" 2>/dev/null || cp "$source" "$destination"
    touch "$destination"
done
