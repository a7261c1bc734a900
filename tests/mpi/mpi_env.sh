# Sourced by the MPI tests: how they start mpirun. $1 of the test is the mpirun program
# ("" when the build has no MPI: the test is skipped, exit 77). Root in CI needs Open MPI's
# two ALLOW_RUN_AS_ROOT variables; --oversubscribe lets 2 ranks share fewer cores.
if [ -z "$1" ]; then
    echo "skipped: ibp was built without MPI (-Dmpi=disabled, or no MPI found)"
    exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
# Sanitizer builds: Open MPI leaves allocations behind at finalize, in code without frame
# pointers and in plugins it has unloaded, so LeakSanitizer can neither name nor suppress
# them; leak checks are off under mpirun. The cluster module's own memory is leak-checked
# by the single-process test `cluster`, every other path by the other sanitizer tests.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpirun_np() {
    local np=$1
    shift
    "$MPIRUN" -np "$np" --oversubscribe "$@"
}
MPIRUN=$1
