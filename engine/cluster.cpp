#include "spinval/cluster.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>

#ifdef SPINVAL_MPI
#include <mpi.h>
#endif

namespace spinval {

namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<std::string> gather(const std::string& bytes) const override { return {bytes}; }
  std::string broadcast(const std::string& bytes) const override { return bytes; }
  void abort(int) const override {}
};

#ifdef SPINVAL_MPI

// Messages are sent in pieces of at most 1 GiB: MPI counts are ints.
constexpr std::uint64_t kPiece = std::uint64_t{1} << 30;

void check(int status, const char* what) {
  if (status != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed");
}

void sendBytes(const std::string& bytes, int to) {
  std::uint64_t size = bytes.size();
  check(MPI_Send(&size, 1, MPI_UINT64_T, to, 0, MPI_COMM_WORLD), "send");
  for (std::uint64_t at = 0; at < size; at += kPiece) {
    const auto n = static_cast<int>(std::min(kPiece, size - at));
    check(MPI_Send(bytes.data() + at, n, MPI_BYTE, to, 1, MPI_COMM_WORLD), "send");
  }
}

std::string receiveBytes(int from) {
  std::uint64_t size = 0;
  check(MPI_Recv(&size, 1, MPI_UINT64_T, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "receive");
  std::string bytes(size, '\0');
  for (std::uint64_t at = 0; at < size; at += kPiece) {
    const auto n = static_cast<int>(std::min(kPiece, size - at));
    check(MPI_Recv(bytes.data() + at, n, MPI_BYTE, from, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "receive");
  }
  return bytes;
}

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    std::atexit([] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized) MPI_Finalize();
    });
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::vector<std::string> gather(const std::string& bytes) const override {
    if (rank_ != 0) {
      sendBytes(bytes, 0);
      return {};
    }
    std::vector<std::string> all{bytes};
    for (int r = 1; r < size_; ++r) all.push_back(receiveBytes(r));
    return all;
  }

  std::string broadcast(const std::string& bytes) const override {
    std::uint64_t size = bytes.size();
    check(MPI_Bcast(&size, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD), "broadcast");
    std::string result = rank_ == 0 ? bytes : std::string(size, '\0');
    for (std::uint64_t at = 0; at < size; at += kPiece) {
      const auto n = static_cast<int>(std::min(kPiece, size - at));
      check(MPI_Bcast(result.data() + at, n, MPI_BYTE, 0, MPI_COMM_WORLD), "broadcast");
    }
    return result;
  }

  void abort(int status) const override { MPI_Abort(MPI_COMM_WORLD, status); }

 private:
  int rank_ = 0, size_ = 1;
};

// Launched by mpirun (OpenMPI) or by srun with PMI/PMIx: only then is MPI initialised, so a
// plain `spinval run` never pays for MPI's start-up.
bool launchedByMpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

#endif

}  // namespace

const Communicator& Communicator::single() {
  static const SingleProcess single;
  return single;
}

const Communicator& Communicator::world() {
#ifdef SPINVAL_MPI
  if (launchedByMpi()) {
    static const MpiWorld world;
    return world;
  }
#endif
  return single();
}

std::string hostName() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "unknown";
  return name.data();
}

std::string mpiLibraryVersion() {
#ifdef SPINVAL_MPI
  std::array<char, MPI_MAX_LIBRARY_VERSION_STRING> text{};
  int length = 0;
  MPI_Get_library_version(text.data(), &length);
  std::string version(text.data(), static_cast<std::size_t>(length));
  return version.substr(0, version.find_first_of(",\n"));
#else
  return "";
#endif
}

}  // namespace spinval
