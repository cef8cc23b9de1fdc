// SECURITY-CASES 4 for the file methods (fs/*), on both backends through
// sandbox::Sandbox::file_op: `..`, absolute host paths, URL-encoded names,
// NUL bytes, symlinks planted inside pointing out, and a symlink swapped in
// by a racing thread while reads loop. No call may return or change host
// content. Plus read-only roots refusing writes in a linux sandbox.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sandbox/host_direct.hpp"
#include "security_fixture.hpp"

namespace agentd::security {
namespace {

namespace fs = std::filesystem;
using sandbox::FileError;
using sandbox::FileReply;
using sandbox::FileRequest;

const std::string kToken = "AGENTD-HOST-SECRET-4";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class FileMethodAttackTest : public SecurityTest {
 protected:
  void SetUp() override {
    SecurityTest::SetUp();
    std::ofstream(host_ / "secret") << kToken;
    fs::create_directory(host_ / "dir");
    std::ofstream(host_ / "dir/host-only-entry") << kToken;
  }

  sandbox::Sandbox* host_direct() {
    policy::SandboxSpec spec;
    spec.isolation = policy::Isolation::kNone;
    auto created = host_backend_.create(spec, "fs-host");
    if (auto* error = std::get_if<sandbox::CreateError>(&created)) {
      ADD_FAILURE() << error->message;
      return nullptr;
    }
    host_sandboxes_.push_back(std::move(std::get<0>(created)));
    return host_sandboxes_.back().get();
  }

  // Plants, in the sandbox's workdir (on the host side), the links of the cases.
  void plant(sandbox::Sandbox& sb) {
    const std::string w = sb.workdir();
    fs::create_directory(w + "/allowed");
    fs::create_symlink(host_ / "secret", w + "/link-abs");
    fs::create_symlink(fs::relative(host_ / "secret", w), w + "/link-rel");
    fs::create_directory_symlink(host_ / "dir", w + "/link-dir");
  }

  // Every file method on `path`: nothing returns or alters host content.
  void attack_path(sandbox::Sandbox& sb, const std::string& path) {
    SCOPED_TRACE("path " + path);
    for (const char* op : {"read", "list", "stat", "remove", "mkdir", "write", "move"}) {
      SCOPED_TRACE(op);
      FileRequest req{.op = op, .path = path, .to = "moved-" + std::to_string(moves_++)};
      if (std::string(op) == "write") req.data = "overwritten";
      if (std::string(op) == "remove") req.recursive = true;
      FileReply r = sb.file_op(req);
      EXPECT_EQ(r.data.find(kToken), std::string::npos);
      for (const auto& e : r.entries) EXPECT_NE(e.name, "host-only-entry");
    }
    EXPECT_EQ(slurp(host_ / "secret"), kToken);
    EXPECT_TRUE(fs::exists(host_ / "dir/host-only-entry"));
  }

  // The read of `path` fails (any kind of refusal or ENOENT).
  void expect_read_refused(sandbox::Sandbox& sb, const std::string& path) {
    FileReply r = sb.file_op({.op = "read", .path = path});
    EXPECT_TRUE(r.error) << path << " returned " << r.data.size() << " bytes";
  }

  void run_all_cases(sandbox::Sandbox& sb) {
    plant(sb);
    for (std::string p : {"../../etc/passwd", "/etc/shadow", "allowed/../../../etc/passwd"}) {
      expect_read_refused(sb, p);
    }
    for (std::string p : {"link-abs", "link-rel"}) {
      FileReply r = sb.file_op({.op = "read", .path = p});
      EXPECT_TRUE(r.error) << p;
    }
    FileReply listed = sb.file_op({.op = "list", .path = "link-dir"});
    EXPECT_TRUE(listed.error);
    // %2e%2e%2f is a name, not a path: absent, then creatable inside.
    FileReply encoded = sb.file_op({.op = "read", .path = "%2e%2e%2fetc%2fpasswd"});
    ASSERT_TRUE(encoded.error);
    EXPECT_EQ(encoded.error->err, ENOENT);
    FileReply nul =
        sb.file_op({.op = "read", .path = std::string("allowed\0/../../etc/passwd", 25)});
    ASSERT_TRUE(nul.error);
    EXPECT_EQ(nul.error->kind, FileError::Kind::kInvalid);
    for (const std::string& p :
         std::vector<std::string>{"../../etc/passwd", "/etc/shadow", "allowed/../../../etc/passwd",
                                  "%2e%2e%2f", std::string("a\0b", 3), "link-abs", "link-rel",
                                  "link-dir", "link-dir/host-only-entry", host_.path() + "/secret",
                                  "../" + fs::path(host_.path()).filename().string() + "/secret"}) {
      attack_path(sb, p);
    }
  }

  // A reader loops on "race" while another thread swaps it between a file
  // and a symlink to the host secret.
  void race(sandbox::Sandbox& sb, int reads) {
    const std::string w = sb.workdir();
    std::ofstream(w + "/plain") << "SAFE";
    fs::copy_file(w + "/plain", w + "/race");
    std::atomic<bool> stop{false};
    std::thread swapper([&] {
      for (int i = 0; !stop; ++i) {
        std::error_code ec;
        fs::remove(w + "/race.tmp", ec);
        if (i % 2) {
          fs::create_symlink(host_ / "secret", w + "/race.tmp", ec);
        } else {
          fs::copy_file(w + "/plain", w + "/race.tmp", ec);
        }
        fs::rename(w + "/race.tmp", w + "/race", ec);
      }
    });
    // At least `reads` reads, and on until both outcomes were seen (bounded).
    int safe = 0, refused = 0;
    for (int i = 0; i < reads * 20 && (i < reads || !safe || !refused); ++i) {
      FileReply r = sb.file_op({.op = "read", .path = "race"});
      EXPECT_EQ(r.data.find(kToken), std::string::npos) << "host content leaked at read " << i;
      if (r.data.find(kToken) != std::string::npos) break;
      if (!r.error && r.data == "SAFE") ++safe;
      if (r.error) ++refused;
    }
    stop = true;
    swapper.join();
    EXPECT_GT(safe, 0) << "no read got through: the test proves nothing";
    EXPECT_GT(refused, 0) << "no read met the symlink: the test proves nothing";
  }

  test_support::TempDir host_;  // outside every sandbox
  sandbox::HostDirectBackend host_backend_{driver_.io(), root_.path()};
  std::vector<std::unique_ptr<sandbox::Sandbox>> host_sandboxes_;
  int moves_ = 0;

  void TearDown() override {
    for (auto& sb : host_sandboxes_) sb->destroy(false);
    SecurityTest::TearDown();
  }
};

TEST_F(FileMethodAttackTest, HostDirectRefusesTraversal) {
  auto* sb = host_direct();
  ASSERT_TRUE(sb);
  plant(*sb);
  for (std::string link : {"link-abs", "link-rel", "link-dir/host-only-entry"}) {
    FileReply r = sb->file_op({.op = "read", .path = link});
    ASSERT_TRUE(r.error) << link;
    EXPECT_EQ(r.error->kind, FileError::Kind::kEscape) << link;
  }
  for (auto& entry : fs::directory_iterator(sb->workdir())) fs::remove_all(entry.path());
  run_all_cases(*sb);
}

TEST_F(FileMethodAttackTest, LinuxRefusesTraversal) {
  auto* sb = create();
  if (!sb) return;
  run_all_cases(*sb);
}

TEST_F(FileMethodAttackTest, HostDirectRaceNeverReadsHostContent) {
  auto* sb = host_direct();
  ASSERT_TRUE(sb);
  race(*sb, 3000);
}

TEST_F(FileMethodAttackTest, LinuxRaceNeverReadsHostContent) {
  auto* sb = create();
  if (!sb) return;
  race(*sb, 600);
}

// The operations run in the sandbox's init: its own /proc entries (environ,
// mem, fds) are out of reach of the sandbox's processes, so of the methods too.
TEST_F(FileMethodAttackTest, LinuxProcOfTheInitIsNotServed) {
  auto* sb = create();
  if (!sb) return;
  fs::create_symlink("/proc/1/environ", sb->workdir() + "/proc-link");
  EXPECT_TRUE(sb->file_op({.op = "read", .path = "/workspace/proc-link"}).error);
  for (std::string p : {"/proc/self/environ", "/proc/1/environ", "/proc/1/mem", "/proc/self/fd",
                        "/proc/1/root/etc/passwd"}) {
    for (const char* op : {"read", "list", "stat"}) {
      FileReply r = sb->file_op({.op = op, .path = p});
      EXPECT_TRUE(r.error) << op << " " << p;
    }
  }
}

TEST_F(FileMethodAttackTest, LinuxReadOnlyRootsRefuseWrites) {
  auto* sb = create();
  if (!sb) return;
  const std::set<int> refused = {EROFS, EACCES, EPERM, EXDEV};
  std::vector<FileRequest> writes = {
      {.op = "write", .path = "/usr/agentd-fs-test", .data = "x"},
      {.op = "write", .path = "/usr/bin/sh", .data = "x"},
      {.op = "write", .path = "/etc/passwd", .data = "x", .write_mode = "append"},
      {.op = "mkdir", .path = "/usr/agentd-fs-dir"},
      {.op = "remove", .path = "/usr/bin/sh"},
      {.op = "move", .path = "/usr/bin/sh", .to = "/workspace/sh"},
  };
  for (const auto& req : writes) {
    FileReply r = sb->file_op(req);
    ASSERT_TRUE(r.error) << req.op << " " << req.path;
    EXPECT_TRUE(refused.count(r.error->err))
        << req.op << " " << req.path << ": " << r.error->message;
  }
  EXPECT_FALSE(fs::exists("/usr/agentd-fs-test"));
  FileReply ok = sb->file_op({.op = "write", .path = "/workspace/ok", .data = "fine"});
  EXPECT_FALSE(ok.error) << ok.error->message;
  EXPECT_EQ(slurp(sb->workdir() + "/ok"), "fine");
}

}  // namespace
}  // namespace agentd::security
