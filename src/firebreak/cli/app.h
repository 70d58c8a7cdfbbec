// The `firebreak` command line: parses arguments and dispatches to a
// subcommand (commands.h). main.cc, the composition root, hands it `serve`.
#pragma once

#include "firebreak/cli/commands.h"

namespace firebreak::cli {

int Run(int argc, char** argv, ServeCommand serve);

}  // namespace firebreak::cli
