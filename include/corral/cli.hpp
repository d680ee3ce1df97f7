// The command line: `corral run`, `corral check`. Returns the process exit status.
#pragma once

namespace corral {

// 0 all suites passed; 1 a suite did not pass; 2 usage or profile error (nothing run);
// 3 corral itself failed.
int cli_main(int argc, char** argv);

}  // namespace corral
