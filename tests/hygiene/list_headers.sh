#!/bin/sh
# Prints the project's library headers (nets/, datasets/, trainer/, verifier/), one
# relative path a line, sorted. The caller drops the internal ones.
cd "$1" || exit 1
find nets datasets trainer verifier -name '*.h' -type f | LC_ALL=C sort
