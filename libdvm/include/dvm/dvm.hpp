// libdvm, everything at once. See README.md ("Use as a library").
#pragma once

#include <dvm/client.hpp>
#include <dvm/config.hpp>
#include <dvm/error.hpp>
#include <dvm/events.hpp>
#include <dvm/ports.hpp>
#include <dvm/process.hpp>
#include <dvm/recipes.hpp>
#include <dvm/secret.hpp>
#include <dvm/shell.hpp>
#include <dvm/timeouts.hpp>
#include <dvm/version.hpp>
