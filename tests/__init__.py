"""dilqr_rl's tests (they mirror the package)."""

SUBPROCESS_TIMEOUT_S = 3600
"""Wall-clock limit of a test's subprocess (a CLI command or a script): a guard against a hung run, not a speed
check. The runs take seconds to about a minute alone and several times that beside other jobs (a 23 s run took
over 120 s on a loaded machine), so the limit is generous; the tests assert what the runs print and write."""
