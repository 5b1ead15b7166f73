// The libsmooth umbrella header: include this to get the whole public API.
#pragma once

#include "smooth/access.hpp"
#include "smooth/audit.hpp"
#include "smooth/civil.hpp"
#include "smooth/ids.hpp"
#include "smooth/platform.hpp"
#include "smooth/schedule_types.hpp"
#include "smooth/status.hpp"
#include "smooth/storage.hpp"
#include "smooth/time.hpp"
#include "smooth/scheduler.hpp"
