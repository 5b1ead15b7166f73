// Compiled, not run (tests/CMakeLists.txt): every public header on its own, under the warnings
// a consumer is likely to build with and -Werror. Our own targets turn off
// missing-field-initializers (designated initializers trip it); a consumer's need not, so a
// header's own code must not.
#include <smooth/access.hpp>
#include <smooth/audit.hpp>
#include <smooth/civil.hpp>
#include <smooth/ids.hpp>
#include <smooth/platform.hpp>
#include <smooth/schedule_types.hpp>
#include <smooth/scheduler.hpp>
#include <smooth/smooth.hpp>
#include <smooth/status.hpp>
#include <smooth/storage.hpp>
#include <smooth/time.hpp>
