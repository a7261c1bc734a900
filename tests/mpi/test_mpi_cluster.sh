#!/usr/bin/env bash
# test_cluster under mpirun -np 3 (every rank checks, mpirun fails when any does).
# usage: test_mpi_cluster.sh MPIRUN TEST_CLUSTER
set -u
source "$(dirname "$0")/mpi_env.sh" "$1"
mpirun_np 3 "$2"
