// @gunyah-ts/sys native addon: a small, generic syscall surface. Policy lives in TypeScript.
//
// Every function validates its JavaScript arguments (TypeError/RangeError on misuse) and reports a
// failing syscall by throwing an Error carrying `errno` (positive number) and `syscall` (name); the
// TypeScript layer turns those into ErrnoError. The addon keeps its state in per-instance data
// (Napi::Addon), so each worker thread that loads it gets its own copy: no mutable globals except
// the process-wide signal disposition, installed once under std::call_once.

#include <napi.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

// ---------------------------------------------------------------------------------------------
// Errors

Napi::Value ThrowErrno(Napi::Env env, const char* syscall, int err) {
  std::string msg = std::string(syscall) + " failed: " + std::strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowType(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowRange(Napi::Env env, const std::string& msg) {
  Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

// ---------------------------------------------------------------------------------------------
// Argument helpers. Each returns false after scheduling a JS exception.

bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t* out) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsNumber()) {
    ThrowType(env, std::string(name) + " must be a number");
    return false;
  }
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d == static_cast<double>(static_cast<int64_t>(d))) || d < INT32_MIN || d > INT32_MAX) {
    ThrowRange(env, std::string(name) + " must be a 32-bit integer");
    return false;
  }
  *out = static_cast<int32_t>(d);
  return true;
}

// A non-negative 64-bit quantity given as a safe-integer number or a bigint.
bool ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t* out) {
  Napi::Env env = info.Env();
  if (info.Length() > i && info[i].IsBigInt()) {
    bool lossless = false;
    uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) {
      ThrowRange(env, std::string(name) + " does not fit in 64 bits");
      return false;
    }
    *out = v;
    return true;
  }
  if (info.Length() > i && info[i].IsNumber()) {
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d))) {
      ThrowRange(env, std::string(name) + " must be a non-negative safe integer");
      return false;
    }
    *out = static_cast<uint64_t>(d);
    return true;
  }
  ThrowType(env, std::string(name) + " must be a number or bigint");
  return false;
}

// (fd, request, ...): the leading arguments of every ioctl-shaped call; request must fit in 32 bits.
bool ArgFdRequest(const Napi::CallbackInfo& info, int32_t* fd, uint64_t* request) {
  if (!ArgInt(info, 0, "fd", fd) || !ArgU64(info, 1, "request", request)) return false;
  if (*request > UINT32_MAX) {
    ThrowRange(info.Env(), "request must fit in 32 bits");
    return false;
  }
  return true;
}

bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  if (info.Length() <= i || !info[i].IsString()) {
    ThrowType(info.Env(), std::string(name) + " must be a string");
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) {
    ThrowType(info.Env(), std::string(name) + " must not contain NUL characters");
    return false;
  }
  return true;
}

struct Bytes {
  uint8_t* data = nullptr;
  size_t length = 0;
};

// Any ArrayBuffer, TypedArray or DataView. A detached buffer has no data and is refused.
bool AsBytes(Napi::Env env, Napi::Value v, const char* name, Bytes* out) {
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
    out->data = static_cast<uint8_t*>(ab.Data());
    out->length = ab.ByteLength();
  } else if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    uint8_t* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data());
    out->data = base == nullptr ? nullptr : base + ta.ByteOffset();
    out->length = base == nullptr ? 0 : ta.ByteLength();
  } else if (v.IsDataView()) {
    Napi::DataView dv = v.As<Napi::DataView>();
    uint8_t* base = static_cast<uint8_t*>(dv.ArrayBuffer().Data());
    out->data = base == nullptr ? nullptr : base + dv.ByteOffset();
    out->length = base == nullptr ? 0 : dv.ByteLength();
  } else {
    ThrowType(env, std::string(name) + " must be an ArrayBuffer, TypedArray or DataView");
    return false;
  }
  if (out->data == nullptr && out->length == 0) {
    // Zero-length buffers may legitimately have no storage; a detached buffer also lands here.
    // Passing a null pointer to the kernel would turn a programming error into EFAULT at best.
    ThrowType(env, std::string(name) + " is empty or detached");
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Memory mappings

struct Mapping {
  void* addr;
  size_t length;
  std::atomic<bool> unmapped{false};
  Mapping(void* a, size_t l) : addr(a), length(l) {}
  void Unmap() {
    if (!unmapped.exchange(true)) ::munmap(addr, length);
  }
};

// The kick signal: a real-time signal whose handler does nothing. Installed without SA_RESTART,
// so a blocking ioctl in the target thread returns EINTR. SIGUSR1 is Node's (inspector).
int KickSignal() { return SIGRTMIN + 2; }

void NoopHandler(int) {}

int InstallKickHandler() {
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = NoopHandler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // deliberately no SA_RESTART
    result = sigaction(KickSignal(), &sa, nullptr) == 0 ? 0 : errno;
  });
  return result;
}

// ---------------------------------------------------------------------------------------------
// The MMIO write sink of runMmioSink (layouts: src/mmio-sink.ts, which documents the semantics).

// Word indices of the exit layout (Int32Array of 6).
enum : int { kLayExitReason = 0, kLayMmioReason, kLayAddr, kLayData, kLayLen, kLayIsWrite, kLayWords };
// Word indices of the sink descriptor (Int32Array of 22).
enum : int {
  kSinkAddrLo = 0, kSinkAddrHi, kSinkLock, kSinkLen, kSinkMinLen, kSinkCapacity, kSinkCount, kSinkFlags,
  kSinkFlagBits, kSinkConditions, kSinkCond0, kSinkMaxConditions = 4, kSinkWords = kSinkCond0 + 3 * kSinkMaxConditions
};

// The data pointer and element count of a typed array of kind `want` (over an ArrayBuffer or a
// SharedArrayBuffer: the C API gives the data pointer of both, where Napi::ArrayBuffer accepts only
// the former). With `shared`, only a SharedArrayBuffer is accepted.
bool TypedArrayData(Napi::Env env, Napi::Value v, const char* name, napi_typedarray_type want, const char* kind, bool shared, void** data,
                    size_t* count) {
  napi_typedarray_type type;
  size_t length = 0;
  void* p = nullptr;
  napi_value ab;
  size_t offset = 0;
  if (!v.IsTypedArray() || napi_get_typedarray_info(env, v, &type, &length, &p, &ab, &offset) != napi_ok || type != want) {
    ThrowType(env, std::string(name) + " must be a" + kind);
    return false;
  }
  if (shared) {
    bool isSab = false;
    napi_value global, ctor;
    // A SharedArrayBuffer is not an ArrayBuffer to N-API: check the constructor instead.
    if (napi_get_global(env, &global) != napi_ok || napi_get_named_property(env, global, "SharedArrayBuffer", &ctor) != napi_ok ||
        napi_instanceof(env, ab, ctor, &isSab) != napi_ok || !isSab) {
      ThrowType(env, std::string(name) + " must be over a SharedArrayBuffer");
      return false;
    }
  }
  if (p == nullptr || length == 0) {
    ThrowType(env, std::string(name) + " is empty or detached");
    return false;
  }
  *data = p;
  *count = length;
  return true;
}

bool AsInt32s(Napi::Env env, Napi::Value v, const char* name, bool shared, int32_t** data, size_t* count) {
  void* p = nullptr;
  if (!TypedArrayData(env, v, name, napi_int32_array, "n Int32Array", shared, &p, count)) return false;
  *data = static_cast<int32_t*>(p);
  return true;
}

bool AsSharedBytes(Napi::Env env, Napi::Value v, const char* name, Bytes* out) {
  void* p = nullptr;
  if (!TypedArrayData(env, v, name, napi_uint8_array, " Uint8Array", true, &p, &out->length)) return false;
  out->data = static_cast<uint8_t*>(p);
  return true;
}

int32_t LoadWord(int32_t* w) { return __atomic_load_n(w, __ATOMIC_SEQ_CST); }

// One MMIO write exit offered to the sink: true when absorbed (the byte appended, the words
// updated), false when it is the caller's. Never blocks: a held lock means "the caller's".
bool AbsorbWrite(const int32_t* d, int32_t* state, uint8_t* bytes, uint8_t value) {
  int32_t* lock = &state[d[kSinkLock]];
  int32_t expected = 0;
  if (!__atomic_compare_exchange_n(lock, &expected, 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return false;
  bool absorbed = false;
  bool ok = true;
  for (int i = 0; i < d[kSinkConditions]; i++) {
    const int32_t* c = &d[kSinkCond0 + 3 * i];
    if ((LoadWord(&state[c[0]]) & c[1]) != c[2]) {
      ok = false;
      break;
    }
  }
  if (ok) {
    int32_t n = LoadWord(&state[d[kSinkLen]]);
    if (n >= d[kSinkMinLen] && n >= 0 && n + 1 < d[kSinkCapacity]) {
      bytes[n] = value;
      __atomic_store_n(&state[d[kSinkLen]], n + 1, __ATOMIC_SEQ_CST);
      if (d[kSinkCount] >= 0) __atomic_fetch_add(&state[d[kSinkCount]], 1, __ATOMIC_SEQ_CST);
      if (d[kSinkFlags] >= 0) __atomic_fetch_or(&state[d[kSinkFlags]], d[kSinkFlagBits], __ATOMIC_SEQ_CST);
      absorbed = true;
    }
  }
  // A waiter that marked the lock contended (2) sleeps in Atomics.wait with a timeout; it cannot be
  // woken from here (V8 keeps its own wait lists), so it retries when that timeout ends.
  __atomic_exchange_n(lock, 0, __ATOMIC_SEQ_CST);
  return absorbed;
}

class GunyahSys : public Napi::Addon<GunyahSys> {
 public:
  GunyahSys(Napi::Env, Napi::Object exports) {
    DefineAddon(exports, {
        InstanceMethod("open", &GunyahSys::Open),
        InstanceMethod("close", &GunyahSys::Close),
        InstanceMethod("ioctl", &GunyahSys::Ioctl),
        InstanceMethod("ioctlWithPtrs", &GunyahSys::IoctlWithPtrs),
        InstanceMethod("mmap", &GunyahSys::Mmap),
        InstanceMethod("munmap", &GunyahSys::Munmap),
        InstanceMethod("addressOf", &GunyahSys::AddressOf),
        InstanceMethod("memfdCreate", &GunyahSys::MemfdCreate),
        InstanceMethod("ftruncate", &GunyahSys::Ftruncate),
        InstanceMethod("read", &GunyahSys::Read),
        InstanceMethod("write", &GunyahSys::Write),
        InstanceMethod("pread", &GunyahSys::Pread),
        InstanceMethod("pwrite", &GunyahSys::Pwrite),
        InstanceMethod("eventfd", &GunyahSys::Eventfd),
        InstanceMethod("poll", &GunyahSys::Poll),
        InstanceMethod("pageSize", &GunyahSys::PageSize),
        InstanceMethod("kickSignal", &GunyahSys::KickSignalNumber),
        InstanceMethod("currentThread", &GunyahSys::CurrentThread),
        InstanceMethod("kick", &GunyahSys::Kick),
        InstanceMethod("constants", &GunyahSys::Constants),
        InstanceMethod("runMmioSink", &GunyahSys::RunMmioSink),
    });
  }

 private:
  std::unordered_map<uintptr_t, std::weak_ptr<Mapping>> mappings_;

  Napi::Value Open(const Napi::CallbackInfo& info) {
    std::string path;
    int32_t flags, mode = 0;
    if (!ArgString(info, 0, "path", &path) || !ArgInt(info, 1, "flags", &flags)) return info.Env().Undefined();
    if (info.Length() > 2 && !info[2].IsUndefined() && !ArgInt(info, 2, "mode", &mode)) return info.Env().Undefined();
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0) return ThrowErrno(info.Env(), "open", errno);
    return Napi::Number::New(info.Env(), fd);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    int32_t fd;
    if (!ArgInt(info, 0, "fd", &fd)) return info.Env().Undefined();
    if (::close(fd) < 0) return ThrowErrno(info.Env(), "close", errno);
    return info.Env().Undefined();
  }

  // ioctl(fd, request, arg?): arg is an integer (number/bigint), a byte buffer (its address is
  // passed; the kernel may write into it), or undefined (0). Returns the non-negative result.
  Napi::Value Ioctl(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int32_t fd;
    uint64_t request;
    if (!ArgFdRequest(info, &fd, &request)) return env.Undefined();
    unsigned long arg = 0;
    if (info.Length() > 2 && !info[2].IsUndefined()) {
      Napi::Value v = info[2];
      if (v.IsNumber() || v.IsBigInt()) {
        uint64_t a;
        if (!ArgU64(info, 2, "arg", &a)) return env.Undefined();
        arg = static_cast<unsigned long>(a);
      } else {
        Bytes b;
        if (!AsBytes(env, v, "arg", &b)) return env.Undefined();
        arg = reinterpret_cast<unsigned long>(b.data);
      }
    }
    int r = ::ioctl(fd, static_cast<unsigned long>(request), arg);
    if (r < 0) return ThrowErrno(env, "ioctl", errno);
    return Napi::Number::New(env, r);
  }

  // ioctlWithPtrs(fd, request, buf, ptrs): for structs holding pointers to other buffers (Gunyah's
  // function descriptor points at its argument struct). Each entry of `ptrs` is
  // { offset, buffer }: the host address of `buffer` is written as a native-endian u64 into `buf` at
  // `offset`, then ioctl(fd, request, buf) runs. All buffers are referenced by this call's
  // arguments for its whole duration, and ArrayBuffer storage never moves, so the pointers stay valid.
  Napi::Value IoctlWithPtrs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int32_t fd;
    uint64_t request;
    if (!ArgFdRequest(info, &fd, &request)) return env.Undefined();
    Bytes outer;
    if (info.Length() < 4 || !AsBytes(env, info[2], "buf", &outer)) return env.Undefined();
    if (!info[3].IsArray()) return ThrowType(env, "ptrs must be an array");
    Napi::Array ptrs = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < ptrs.Length(); i++) {
      Napi::Value e = ptrs.Get(i);
      if (!e.IsObject()) return ThrowType(env, "ptrs entries must be { offset, buffer } objects");
      Napi::Object o = e.As<Napi::Object>();
      Napi::Value off = o.Get("offset");
      if (!off.IsNumber()) return ThrowType(env, "ptrs[].offset must be a number");
      double d = off.As<Napi::Number>().DoubleValue();
      if (!(d >= 0) || d != static_cast<double>(static_cast<size_t>(d)) || d + 8 > static_cast<double>(outer.length))
        return ThrowRange(env, "ptrs[].offset must leave room for 8 bytes inside buf");
      Bytes inner;
      if (!AsBytes(env, o.Get("buffer"), "ptrs[].buffer", &inner)) return env.Undefined();
      uint64_t addr = reinterpret_cast<uintptr_t>(inner.data);
      std::memcpy(outer.data + static_cast<size_t>(d), &addr, sizeof addr);
    }
    int r = ::ioctl(fd, static_cast<unsigned long>(request), outer.data);
    if (r < 0) return ThrowErrno(env, "ioctl", errno);
    return Napi::Number::New(env, r);
  }

  // mmap(fd, length, prot, flags, offset) -> external ArrayBuffer over the mapping. When the
  // ArrayBuffer is garbage-collected the mapping is unmapped; munmap() detaches it first.
  Napi::Value Mmap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int32_t fd, prot, flags;
    uint64_t length, offset;
    if (!ArgInt(info, 0, "fd", &fd) || !ArgU64(info, 1, "length", &length) || !ArgInt(info, 2, "prot", &prot) ||
        !ArgInt(info, 3, "flags", &flags) || !ArgU64(info, 4, "offset", &offset))
      return env.Undefined();
    if (length == 0) return ThrowRange(env, "length must be greater than zero");
    void* addr = ::mmap(nullptr, static_cast<size_t>(length), prot, flags, fd, static_cast<off_t>(offset));
    if (addr == MAP_FAILED) return ThrowErrno(env, "mmap", errno);
    auto mapping = std::make_shared<Mapping>(addr, static_cast<size_t>(length));
    auto* hint = new std::shared_ptr<Mapping>(mapping);
    napi_value ab;
    napi_status st = napi_create_external_arraybuffer(
        env, addr, static_cast<size_t>(length),
        [](napi_env, void*, void* h) {
          auto* sp = static_cast<std::shared_ptr<Mapping>*>(h);
          (*sp)->Unmap();
          delete sp;
        },
        hint, &ab);
    if (st != napi_ok) {
      delete hint;
      mapping->Unmap();
      Napi::Error::New(env, "napi_create_external_arraybuffer failed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    // Forget entries of mappings already gone, so the table does not grow without bound.
    for (auto it = mappings_.begin(); it != mappings_.end();) {
      if (it->second.expired()) it = mappings_.erase(it); else ++it;
    }
    mappings_[reinterpret_cast<uintptr_t>(addr)] = mapping;
    return Napi::Value(env, ab);
  }

  // munmap(arrayBuffer): detach the ArrayBuffer (later JS access sees a zero-length, detached buffer
  // and fails cleanly), then unmap. Only ArrayBuffers returned by mmap() of this thread are accepted.
  Napi::Value Munmap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArrayBuffer()) return ThrowType(env, "munmap takes the ArrayBuffer returned by mmap");
    Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
    auto it = mappings_.find(reinterpret_cast<uintptr_t>(ab.Data()));
    std::shared_ptr<Mapping> m = it == mappings_.end() ? nullptr : it->second.lock();
    if (!m || ab.Data() == nullptr || m->unmapped.load()) return ThrowErrno(env, "munmap", EINVAL);
    ab.Detach();
    if (env.IsExceptionPending()) return env.Undefined();
    m->Unmap();
    mappings_.erase(reinterpret_cast<uintptr_t>(m->addr));
    return env.Undefined();
  }

  // addressOf(buffer): host virtual address of the first byte (bigint), e.g. for userspace_addr.
  Napi::Value AddressOf(const Napi::CallbackInfo& info) {
    Bytes b;
    if (info.Length() < 1 || !AsBytes(info.Env(), info[0], "buffer", &b)) return info.Env().Undefined();
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(b.data)));
  }

  Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
    std::string name;
    int32_t flags;
    if (!ArgString(info, 0, "name", &name) || !ArgInt(info, 1, "flags", &flags)) return info.Env().Undefined();
    int fd = static_cast<int>(::syscall(SYS_memfd_create, name.c_str(), static_cast<unsigned int>(flags)));
    if (fd < 0) return ThrowErrno(info.Env(), "memfd_create", errno);
    return Napi::Number::New(info.Env(), fd);
  }

  Napi::Value Ftruncate(const Napi::CallbackInfo& info) {
    int32_t fd;
    uint64_t length;
    if (!ArgInt(info, 0, "fd", &fd) || !ArgU64(info, 1, "length", &length)) return info.Env().Undefined();
    if (length > static_cast<uint64_t>(INT64_MAX)) return ThrowRange(info.Env(), "length too large");
    if (::ftruncate(fd, static_cast<off_t>(length)) < 0) return ThrowErrno(info.Env(), "ftruncate", errno);
    return info.Env().Undefined();
  }

  // read/write/pread/pwrite share one shape: (fd, buffer[, position]) -> byte count.
  template <typename Io>
  static Napi::Value FdBufferIo(const Napi::CallbackInfo& info, const char* syscall, bool positioned, Io io) {
    int32_t fd;
    Bytes b;
    uint64_t pos = 0;
    if (!ArgInt(info, 0, "fd", &fd) || info.Length() < (positioned ? 3u : 2u) || !AsBytes(info.Env(), info[1], "buffer", &b) ||
        (positioned && !ArgU64(info, 2, "position", &pos)))
      return info.Env().Undefined();
    ssize_t n = io(fd, b.data, b.length, static_cast<off_t>(pos));
    if (n < 0) return ThrowErrno(info.Env(), syscall, errno);
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    return FdBufferIo(info, "read", false, [](int fd, uint8_t* p, size_t n, off_t) { return ::read(fd, p, n); });
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    return FdBufferIo(info, "write", false, [](int fd, uint8_t* p, size_t n, off_t) { return ::write(fd, p, n); });
  }

  Napi::Value Pread(const Napi::CallbackInfo& info) {
    return FdBufferIo(info, "pread", true, [](int fd, uint8_t* p, size_t n, off_t o) { return ::pread(fd, p, n, o); });
  }

  Napi::Value Pwrite(const Napi::CallbackInfo& info) {
    return FdBufferIo(info, "pwrite", true, [](int fd, uint8_t* p, size_t n, off_t o) { return ::pwrite(fd, p, n, o); });
  }

  Napi::Value Eventfd(const Napi::CallbackInfo& info) {
    int32_t initval, flags;
    if (!ArgInt(info, 0, "initval", &initval) || !ArgInt(info, 1, "flags", &flags)) return info.Env().Undefined();
    if (initval < 0) return ThrowRange(info.Env(), "initval must be non-negative");
    int fd = ::eventfd(static_cast<unsigned int>(initval), flags | EFD_CLOEXEC);
    if (fd < 0) return ThrowErrno(info.Env(), "eventfd", errno);
    return Napi::Number::New(info.Env(), fd);
  }

  // poll(fd, events, timeoutMs) -> revents (0 on timeout). Blocking: meant for worker threads.
  Napi::Value Poll(const Napi::CallbackInfo& info) {
    int32_t fd, events, timeout;
    if (!ArgInt(info, 0, "fd", &fd) || !ArgInt(info, 1, "events", &events) || !ArgInt(info, 2, "timeoutMs", &timeout))
      return info.Env().Undefined();
    struct pollfd p = {fd, static_cast<short>(events), 0};
    int r = ::poll(&p, 1, timeout);
    if (r < 0) return ThrowErrno(info.Env(), "poll", errno);
    return Napi::Number::New(info.Env(), r == 0 ? 0 : p.revents);
  }

  Napi::Value PageSize(const Napi::CallbackInfo& info) {
    long ps = ::sysconf(_SC_PAGESIZE);
    if (ps <= 0) return ThrowErrno(info.Env(), "sysconf", errno ? errno : EINVAL);
    return Napi::Number::New(info.Env(), static_cast<double>(ps));
  }

  Napi::Value KickSignalNumber(const Napi::CallbackInfo& info) {
    int err = InstallKickHandler();
    if (err != 0) return ThrowErrno(info.Env(), "sigaction", err);
    return Napi::Number::New(info.Env(), KickSignal());
  }

  // currentThread(): installs the kick handler, unblocks the kick signal in the calling thread and
  // returns a token naming this thread for kick(). Call it on the thread that will block.
  Napi::Value CurrentThread(const Napi::CallbackInfo& info) {
    int err = InstallKickHandler();
    if (err != 0) return ThrowErrno(info.Env(), "sigaction", err);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, KickSignal());
    err = pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    if (err != 0) return ThrowErrno(info.Env(), "pthread_sigmask", err);
    static_assert(sizeof(pthread_t) <= sizeof(uint64_t), "pthread_t must fit in 64 bits");
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(pthread_self()));
  }

  // kick(thread): send the kick signal to a thread token from currentThread(). A blocking syscall
  // in that thread returns EINTR. ESRCH when the thread has exited.
  Napi::Value Kick(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBigInt()) return ThrowType(env, "thread must be a bigint from currentThread()");
    bool lossless = false;
    uint64_t t = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return ThrowRange(env, "thread token out of range");
    int err = InstallKickHandler();
    if (err != 0) return ThrowErrno(env, "sigaction", err);
    err = pthread_kill(static_cast<pthread_t>(t), KickSignal());
    if (err != 0) return ThrowErrno(env, "pthread_kill", err);
    return env.Undefined();
  }

  // runMmioSink(fd, request, page, layout, sink, state, bytes) -> the result of the last ioctl.
  // Runs ioctl(fd, request, 0) until an exit the sink does not absorb (see src/mmio-sink.ts): an MMIO
  // write of 1-8 bytes at the sink's address, taken under the sink's lock into `bytes` when its
  // conditions hold, is answered here and the vCPU run again without returning to JavaScript.
  Napi::Value RunMmioSink(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int32_t fd;
    uint64_t request;
    if (!ArgFdRequest(info, &fd, &request)) return env.Undefined();
    if (info.Length() < 7) return ThrowType(env, "runMmioSink takes (fd, request, page, layout, sink, state, bytes)");
    Bytes page, out;
    int32_t *layout, *d, *state;
    size_t nLayout, nDesc, nState;
    if (!AsBytes(env, info[2], "page", &page) || !AsInt32s(env, info[3], "layout", false, &layout, &nLayout) ||
        !AsInt32s(env, info[4], "sink", false, &d, &nDesc) || !AsInt32s(env, info[5], "state", true, &state, &nState) ||
        !AsSharedBytes(env, info[6], "bytes", &out))
      return env.Undefined();
    if (nLayout != kLayWords) return ThrowRange(env, "layout must have 6 words");
    if (nDesc != kSinkWords) return ThrowRange(env, "sink must have 22 words");
    // Copies: the descriptor and layout cannot change under the loop.
    int32_t lay[kLayWords], desc[kSinkWords];
    std::memcpy(lay, layout, sizeof lay);
    std::memcpy(desc, d, sizeof desc);
    auto inPage = [&](int32_t off, size_t size) { return off >= 0 && static_cast<size_t>(off) + size <= page.length; };
    if (!inPage(lay[kLayExitReason], 4) || !inPage(lay[kLayAddr], 8) || !inPage(lay[kLayData], 8) || !inPage(lay[kLayLen], 4) ||
        !inPage(lay[kLayIsWrite], 1))
      return ThrowRange(env, "layout offsets must lie inside page");
    auto word = [&](int32_t i, bool optional) { return (optional && i == -1) || (i >= 0 && static_cast<size_t>(i) < nState); };
    if (!word(desc[kSinkLock], false) || !word(desc[kSinkLen], false) || !word(desc[kSinkCount], true) || !word(desc[kSinkFlags], true))
      return ThrowRange(env, "sink word indices must lie inside state");
    // The lock, length, count and flag words must be distinct (count and flags may share one): the
    // length then only grows while absorbing, so the loop ends at the capacity even if no run ever
    // changes the page.
    const int32_t lk = desc[kSinkLock], ln = desc[kSinkLen], ct = desc[kSinkCount], fl = desc[kSinkFlags];
    if (lk == ln || lk == ct || lk == fl || ln == ct || ln == fl)
      return ThrowRange(env, "sink lock, length, count and flag words must be distinct");
    if (desc[kSinkConditions] < 0 || desc[kSinkConditions] > kSinkMaxConditions) return ThrowRange(env, "sink conditions must be 0-4");
    for (int i = 0; i < desc[kSinkConditions]; i++)
      if (!word(desc[kSinkCond0 + 3 * i], false)) return ThrowRange(env, "sink condition words must lie inside state");
    if (desc[kSinkCapacity] < 1 || static_cast<size_t>(desc[kSinkCapacity]) > out.length || desc[kSinkMinLen] < 0)
      return ThrowRange(env, "sink capacity must be 1..bytes.length and minLen non-negative");
    const uint64_t target = static_cast<uint64_t>(static_cast<uint32_t>(desc[kSinkAddrLo])) |
                            (static_cast<uint64_t>(static_cast<uint32_t>(desc[kSinkAddrHi])) << 32);
    for (;;) {
      int r = ::ioctl(fd, static_cast<unsigned long>(request), 0UL);
      if (r < 0) return ThrowErrno(env, "ioctl", errno);
      uint32_t reason, len;
      uint64_t addr;
      std::memcpy(&reason, page.data + lay[kLayExitReason], 4);
      if (reason != static_cast<uint32_t>(lay[kLayMmioReason]) || page.data[lay[kLayIsWrite]] == 0) return Napi::Number::New(env, r);
      std::memcpy(&len, page.data + lay[kLayLen], 4);
      std::memcpy(&addr, page.data + lay[kLayAddr], 8);
      if (len < 1 || len > 8 || addr != target) return Napi::Number::New(env, r);
      if (!AbsorbWrite(desc, state, out.data, page.data[lay[kLayData]])) return Napi::Number::New(env, r);
    }
  }

  // The C library's values for the flags the TypeScript layer passes through.
  Napi::Value Constants(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    auto set = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
    set("O_RDONLY", O_RDONLY); set("O_WRONLY", O_WRONLY); set("O_RDWR", O_RDWR);
    set("O_CLOEXEC", O_CLOEXEC); set("O_NONBLOCK", O_NONBLOCK);
    set("PROT_NONE", PROT_NONE); set("PROT_READ", PROT_READ); set("PROT_WRITE", PROT_WRITE); set("PROT_EXEC", PROT_EXEC);
    set("MAP_SHARED", MAP_SHARED); set("MAP_PRIVATE", MAP_PRIVATE); set("MAP_ANONYMOUS", MAP_ANONYMOUS);
    set("MAP_NORESERVE", MAP_NORESERVE);
    set("MFD_CLOEXEC", MFD_CLOEXEC); set("MFD_ALLOW_SEALING", MFD_ALLOW_SEALING);
    set("EFD_CLOEXEC", EFD_CLOEXEC); set("EFD_NONBLOCK", EFD_NONBLOCK); set("EFD_SEMAPHORE", EFD_SEMAPHORE);
    set("POLLIN", POLLIN); set("POLLOUT", POLLOUT); set("POLLERR", POLLERR); set("POLLHUP", POLLHUP);
    return o;
  }
};

}  // namespace

NODE_API_ADDON(GunyahSys)
