#include "corral/cli.hpp"

int main(int argc, char** argv) { return corral::cli_main(argc, argv); }
