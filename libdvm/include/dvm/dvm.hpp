// libdvm, everything at once. See README.md ("Use as a library").
//
// Every name is declared in the inline namespace dvm::v0 and used as dvm::name. The v0 is part of
// every exported symbol, so a program built against one ABI generation of libdvm fails to link
// (or to load) against another instead of misbehaving at run time; the next incompatible release
// moves to v1. Within v0, DVM_VERSION_STRING vs dvm::version() tells the versions apart.
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
