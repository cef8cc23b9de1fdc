#include "sandbox/linux/file_channel.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace agentd::sandbox::linuxns {

base::Result<base::UniqueFd> json_to_memfd(const nlohmann::json& body) {
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxFileMessage) return base::plain_error("file message too large");
  base::UniqueFd fd(::memfd_create("agentd-fs", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return base::errno_error("memfd_create");
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::errno_error("write(memfd)");
    done += size_t(n);
  }
  // The reader gets exactly these bytes: no later writes, no shrinking.
  (void)::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return fd;
}

base::Result<nlohmann::json> json_from_memfd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return base::errno_error("fstat(memfd)");
  if (!S_ISREG(st.st_mode)) return base::plain_error("file message: not a memfd");
  if (uint64_t(st.st_size) > kMaxFileMessage) return base::plain_error("file message too large");
  std::string text(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::pread(fd, text.data() + got, text.size() - got, off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::errno_error("read(memfd)");
    if (n == 0) break;
    got += size_t(n);
  }
  text.resize(got);
  auto body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded()) return base::plain_error("file message is not JSON");
  return body;
}

}  // namespace agentd::sandbox::linuxns
