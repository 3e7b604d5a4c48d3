// The processes of one run. A run launched by mpirun (in a build with -DSPINVAL_MPI=ON) is a
// world of ranks that split the blocks of each round between them; rank 0 merges the pieces in
// block order and decides what happens next. Everything else runs as a world of one.
//
//   const Communicator& world = Communicator::world();
//   if (world.rank() == 0) ... print and write
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace spinval {

class Communicator {
 public:
  virtual ~Communicator() = default;

  // The world this process belongs to: MPI's when launched by mpirun in an MPI build,
  // otherwise a single process. Initialises MPI on first use; it is finalised at exit.
  static const Communicator& world();
  // A world of one process, whatever the build.
  static const Communicator& single();

  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool root() const { return rank() == 0; }

  // Every rank's bytes, in rank order, on rank 0; an empty vector on the others.
  virtual std::vector<std::string> gather(const std::string& bytes) const = 0;
  // Rank 0's bytes on every rank (the argument is ignored elsewhere).
  virtual std::string broadcast(const std::string& bytes) const = 0;
  // Stops every rank of the world with this exit status (MPI_Abort); a no-op for one process.
  virtual void abort(int status) const = 0;
};

// Thrown on rank 0 when some rank failed during a run; the message names the rank. Every rank
// has stopped by then.
class RankFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown on a rank other than 0 when rank 0 stops the run because some rank failed; rank 0
// reports the failure, the others leave quietly.
class StoppedByRoot : public std::runtime_error {
 public:
  StoppedByRoot() : std::runtime_error("stopped by rank 0") {}
};

// The host name of this process, for run manifests.
std::string hostName();
// The MPI library's version string, or "" in a build without MPI.
std::string mpiLibraryVersion();

}  // namespace spinval
