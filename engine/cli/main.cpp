// The spinval program: parses the command line, runs the chosen command and turns its
// exceptions into exit statuses (0 success, 2 bad input, 1 any other failure), each failure
// with one line on stderr: "spinval: error: <message>". Under mpirun only rank 0 reports, except
// for a failure on another rank alone, which that rank reports before the run is aborted.
#include <algorithm>
#include <exception>
#include <iostream>
#include <new>
#include <string>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "commands.hpp"
#include "manifest.hpp"
#include "spinval/cluster.hpp"
#include "spinval/error.hpp"
#include "spinval/version.hpp"

namespace {

int fail(int status, std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  std::cout.flush();
  std::cerr << "spinval: error: " << message << std::endl;
  return status;
}

// A failure that only this rank may have seen: report it with the rank and stop every rank.
int failAlone(const spinval::Communicator& world, int status, const std::string& message) {
  if (world.size() == 1) return fail(status, message);
  fail(status, "rank " + std::to_string(world.rank()) + ": " + message);
  world.abort(status);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace spinval::cli;
#ifdef __GLIBC__
  // The model's per-block work arrays (up to a few hundred KiB each) are freed and allocated
  // again for every block of 1024 paths. glibc would map the large ones afresh and return freed
  // memory at the top of the heap to the system, so every block faulted its pages in again; kept
  // in the process, they are reused.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
  setCommandLine(argc, argv);
  const spinval::Communicator& world = spinval::Communicator::world();

  CLI::App app{"spinval: Monte Carlo valuation of a spinoff IPO", "spinval"};
  app.set_version_flag("--version", std::string("spinval ") + spinval::version() + " (git " +
                                        spinval::gitRevision() + ")");
  app.require_subcommand(1);

  Action action;
  addRunCommand(app, action);
  addValidateCommand(app, action);
  addSensitivityCommand(app, action);
  addCompareCommand(app, action);
  addSweepCommand(app, action);
  addMergeCommand(app, action);

  if (argc > 1 && argv[1][0] != '-') {
    try {
      (void)app.get_subcommand(argv[1]);
    } catch (const CLI::OptionNotFound&) {
      std::string known;
      for (const CLI::App* command : app.get_subcommands({}))
        known += (known.empty() ? "" : ", ") + command->get_name();
      return fail(kExitBadInput, std::string("unknown command '") + argv[1] +
                                     "' (expected one of " + known + "; see spinval --help)");
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string help = "spinval";
    for (const CLI::App* command : app.get_subcommands()) help += " " + command->get_name();
    return fail(kExitBadInput, std::string(e.what()) + " (see " + help + " --help)");
  }

  try {
    return action();
  } catch (const spinval::InputError& e) {
    // Every rank reads the same input and fails the same way; rank 0 says so.
    return world.root() ? fail(kExitBadInput, e.what()) : kExitBadInput;
  } catch (const spinval::StoppedByRoot&) {
    return kExitFailure;  // rank 0 reports what failed
  } catch (const spinval::RankFailure& e) {
    return fail(kExitFailure, e.what());  // rank 0: every rank has stopped
  } catch (const std::bad_alloc&) {
    return failAlone(world, kExitFailure, "out of memory; try fewer --paths");
  } catch (const std::exception& e) {
    return failAlone(world, kExitFailure, e.what());
  }
}
