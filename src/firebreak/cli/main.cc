#include "firebreak/cli/app.h"

// The program: every command, `serve` (and with it the HTTP server) given
// to the command line from here.
int main(int argc, char** argv) {
  return firebreak::cli::Run(argc, argv, &firebreak::cli::RunServe);
}
