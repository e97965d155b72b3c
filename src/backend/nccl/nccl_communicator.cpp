// The CUDA communicator: NCCL collectives on each rank's backend stream, so they order with
// the ops around them and are captured into the decode graphs like any kernel. Built with
// CUDA when nccl.h is found (backend/CMakeLists.txt).
//
// libnccl is opened at run time (dlopen), not linked: a tern binary then starts, and runs
// one GPU, on a machine without NCCL, and the library can come from the CUDA toolkit, the
// system or the nvidia-nccl pip package (TERN_NCCL_LIBRARY names the file).
#include <dlfcn.h>
#include <nccl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "backend/communicator.h"
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/workspace.h"
#include "backend/cuda_factory.h"
#include "base/log.h"

namespace tern {
namespace {

// The NCCL entry points tern uses, resolved from the loaded library.
struct NcclApi {
  ncclResult_t (*get_version)(int*);
  ncclResult_t (*comm_init_all)(ncclComm_t*, int, const int*);
  ncclResult_t (*all_reduce)(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*all_gather)(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*comm_abort)(ncclComm_t);
  ncclResult_t (*comm_destroy)(ncclComm_t);
  const char* (*get_error_string)(ncclResult_t);
  const char* (*get_last_error)(ncclComm_t);
};

// The oldest NCCL whose collectives can be captured into CUDA graphs from several threads
// of one process (graph support came in 2.9; 2.18 fixed capture with lazy connections).
constexpr int kMinNcclVersion = 21800;

template <typename F>
void resolve(void* lib, const char* name, F& fn, const std::string& path) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn) throw error("NCCL library ", path, " has no symbol ", name);
}

const NcclApi& nccl() {
  static std::once_flag once;
  static NcclApi api{};
  static std::string failure;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("TERN_NCCL_LIBRARY"); env && *env) candidates.push_back(env);
    candidates.insert(candidates.end(),
                      {"libnccl.so.2", "/usr/local/cuda/lib64/libnccl.so.2", "/usr/local/cuda/lib/libnccl.so.2"});
    void* lib = nullptr;
    std::string tried, path;
    for (const std::string& c : candidates) {
      lib = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib) {
        path = c;
        break;
      }
      tried += "\n  " + c + ": " + dlerror();
    }
    if (!lib) {
      failure = "tensor parallelism on CUDA needs NCCL, and libnccl.so.2 could not be loaded:" + tried +
                "\nInstall NCCL (it ships with the CUDA toolkit's libnccl2 package or the nvidia-nccl-cu13 pip "
                "package) and set TERN_NCCL_LIBRARY to the libnccl.so.2 file, or put its folder on "
                "LD_LIBRARY_PATH";
      return;
    }
    try {
      resolve(lib, "ncclGetVersion", api.get_version, path);
      resolve(lib, "ncclCommInitAll", api.comm_init_all, path);
      resolve(lib, "ncclAllReduce", api.all_reduce, path);
      resolve(lib, "ncclAllGather", api.all_gather, path);
      resolve(lib, "ncclCommAbort", api.comm_abort, path);
      resolve(lib, "ncclCommDestroy", api.comm_destroy, path);
      resolve(lib, "ncclGetErrorString", api.get_error_string, path);
      resolve(lib, "ncclGetLastError", api.get_last_error, path);
      int version = 0;
      api.get_version(&version);
      if (version < kMinNcclVersion)
        throw error("NCCL ", version, " from ", path, " is too old: tern needs ", kMinNcclVersion,
                    " or newer (collectives inside CUDA graphs)");
      log_info("NCCL ", version / 10000, ".", version / 100 % 100, ".", version % 100, " from ", path);
    } catch (const Error& e) {
      failure = e.what();
    }
  });
  if (!failure.empty()) throw error(failure);
  return api;
}

void nccl_check(ncclResult_t status, ncclComm_t comm, const char* call) {
  if (status == ncclSuccess) return;
  const char* detail = comm ? nccl().get_last_error(comm) : nullptr;
  throw error("NCCL error ", int(status), " (", nccl().get_error_string(status), ") in ", call,
              detail && *detail ? std::string(": ") + detail : std::string());
}

ncclDataType_t nccl_type(DType t, const char* op) {
  switch (t) {
    case DType::kF32: return ncclFloat32;
    case DType::kBF16: return ncclBfloat16;
    case DType::kF16: return ncclFloat16;
    default: throw error("nccl ", op, ": dtype ", dtype_name(t), " is not supported (F32, BF16, F16)");
  }
}

// NCCL reads these when the first communicator is made.
//  - NVLink SHARP multicast (NVLS) can take a shared host's GPUs out of service: tern never
//    uses it, whatever the environment says.
//  - Connections and their buffers are made at init rather than at the first collective
//    (unless the user chose otherwise), so that the KV cache, sized from the memory free
//    after loading, leaves room for them.
void configure_nccl_environment() {
  const char* nvls = std::getenv("NCCL_NVLS_ENABLE");
  if (nvls && std::strcmp(nvls, "0") != 0)
    log_warn("NCCL_NVLS_ENABLE=", nvls, " overridden to 0: tern keeps NVLink multicast off");
  setenv("NCCL_NVLS_ENABLE", "0", 1);
  setenv("NCCL_RUNTIME_CONNECT", "0", 0);
}

void use_device(int device) {
  int current = -1;
  CUDA_CHECK(cudaGetDevice(&current));
  if (current != device) CUDA_CHECK(cudaSetDevice(device));
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, CudaBackend& backend, int rank, int size)
      : comm_(comm), backend_(backend), rank_(rank), size_(size) {}

  // Communicators made together by ncclCommInitAll may be destroyed one after the other
  // from one thread (the last one frees what they share).
  ~NcclCommunicator() override {
    cudaSetDevice(backend_.device_index());  // for the scratch buffer too
    if (aborted_) return;
    cudaStreamSynchronize(backend_.stream());
    nccl().comm_destroy(comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(const Tensor& x) override {
    cuda::expect(x, x.dtype, "all_reduce_sum", "x");
    const ncclDataType_t type = nccl_type(x.dtype, "all_reduce_sum");
    use_device(backend_.device_index());
    nccl_check(nccl().all_reduce(x.data, x.data, size_t(x.numel()), type, ncclSum, comm_, backend_.stream()), comm_,
               "ncclAllReduce");
  }

  void all_gather_columns(const Tensor& local, const Tensor& out) override {
    const char* op = "all_gather_columns";
    cuda::expect(local, local.dtype, op, "local");
    cuda::expect(out, local.dtype, op, "out");
    const int64_t rows = local.rows(), cols = local.cols(), width = out.cols();
    if (out.rows() != rows || width > cols * size_ || width <= cols * (size_ - 1))
      throw error("nccl all_gather_columns: out ", out.shape_str(), " cannot hold ", size_, " blocks of ",
                  local.shape_str());
    if (rows == 0) return;
    const ncclDataType_t type = nccl_type(local.dtype, op);
    const size_t elem = dtype_size(local.dtype), block_bytes = local.nbytes();
    cudaStream_t stream = backend_.stream();
    use_device(backend_.device_index());
    // NCCL gathers whole blocks rank after rank; copies then interleave them by column.
    char* gathered = static_cast<char*>(scratch_.get(block_bytes * size_t(size_), stream));
    nccl_check(nccl().all_gather(local.data, gathered, size_t(local.numel()), type, comm_, stream), comm_,
               "ncclAllGather");
    for (int r = 0; r < size_; ++r) {
      const int64_t first = r * cols, count = std::min(cols, width - first);
      CUDA_CHECK(cudaMemcpy2DAsync(out.ptr<char>() + size_t(first) * elem, size_t(width) * elem,
                                   gathered + size_t(r) * block_bytes, size_t(cols) * elem, size_t(count) * elem,
                                   size_t(rows), cudaMemcpyDeviceToDevice, stream));
    }
  }

  void abort() override {
    if (aborted_) return;
    aborted_ = true;
    nccl().comm_abort(comm_);
  }

 private:
  ncclComm_t comm_;
  CudaBackend& backend_;
  int rank_, size_;
  bool aborted_ = false;
  cuda::Workspace scratch_{"all_gather_columns blocks"};
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> make_nccl_communicators(const std::vector<Backend*>& backends) {
  std::vector<CudaBackend*> cuda;
  std::vector<int> devices;
  for (Backend* b : backends) {
    auto* c = dynamic_cast<CudaBackend*>(b);
    TERN_CHECK(c, "NCCL communicators need CUDA backends");
    for (int d : devices)
      if (d == c->device_index()) throw error("tensor parallelism: GPU ", d, " appears twice; each rank needs its own");
    cuda.push_back(c);
    devices.push_back(c->device_index());
  }
  const NcclApi& api = nccl();
  configure_nccl_environment();
  std::vector<ncclComm_t> comms(devices.size());
  nccl_check(api.comm_init_all(comms.data(), int(devices.size()), devices.data()), nullptr, "ncclCommInitAll");
  std::vector<std::unique_ptr<Communicator>> out;
  for (size_t r = 0; r < comms.size(); ++r)
    out.push_back(std::make_unique<NcclCommunicator>(comms[r], *cuda[r], int(r), int(comms.size())));
  return out;
}

}  // namespace tern
