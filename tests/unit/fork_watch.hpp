// A test-only replacement of the global operator new that catches allocation in a forked child
// before exec (see fork_watch.cpp). Link fork_watch.cpp into a test executable of its own.
#pragma once

namespace dvm_test {

/// From now on, a forked child of this process that allocates through operator new before it
/// execs writes "allocation between fork and exec" to its stderr and exits with status 98.
void watch_allocations_in_forked_children();

}  // namespace dvm_test
