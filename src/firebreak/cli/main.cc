#include "firebreak/cli/app.h"

int main(int argc, char** argv) { return firebreak::cli::Run(argc, argv); }
