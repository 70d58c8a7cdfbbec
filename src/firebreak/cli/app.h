// The `firebreak` command line: parses arguments and dispatches to a
// subcommand (commands.h). The composition root of the program.
#pragma once

namespace firebreak::cli {

int Run(int argc, char** argv);

}  // namespace firebreak::cli
